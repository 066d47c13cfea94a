package dnsbridge

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ac075510/caddy-traefik-acme/internal/dnsfakes"
	"github.com/libdns/libdns"
	"github.com/libdns/route53"
)

const (
	testAKID   = "AKIAFAKEEXAMPLE00001"
	testSecret = "fake/secret+key/EXAMPLEKEY0000000000000"
)

func route53Env(extra map[string]string) map[string]string {
	env := map[string]string{
		"AWS_ACCESS_KEY_ID":     testAKID,
		"AWS_SECRET_ACCESS_KEY": testSecret,
		"AWS_REGION":            "us-east-1",
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

func TestRoute53Mapping(t *testing.T) {
	isolateAWS(t)
	for _, tc := range []struct {
		desc    string
		env     map[string]string
		check   func(t *testing.T, p *route53.Provider)
		wantErr []string
	}{
		{
			desc: "lego defaults",
			env:  route53Env(nil),
			check: func(t *testing.T, p *route53.Provider) {
				if !p.WaitForRoute53Sync || p.MaxRetries != 5 || p.Route53MaxWait != 2*time.Minute {
					t.Errorf("wait=%v retries=%d maxwait=%v, want true/5/2m", p.WaitForRoute53Sync, p.MaxRetries, p.Route53MaxWait)
				}
				if p.AccessKeyId != testAKID || p.SecretAccessKey != testSecret || p.Region != "us-east-1" {
					t.Errorf("credentials/region not mapped: %q %q", p.AccessKeyId, p.Region)
				}
			},
		},
		{
			desc: "hosted zone from _FILE, prefix stripped; retries; wait off; propagation timeout",
			env: route53Env(map[string]string{
				"AWS_HOSTED_ZONE_ID_FILE":          writeFile(t, "zone", "/hostedzone/Z123\n"),
				"AWS_MAX_RETRIES":                  "9",
				"AWS_WAIT_FOR_RECORD_SETS_CHANGED": "false",
				"AWS_PROPAGATION_TIMEOUT":          "300",
			}),
			check: func(t *testing.T, p *route53.Provider) {
				if p.HostedZoneID != "Z123" || p.MaxRetries != 9 || p.WaitForRoute53Sync || p.Route53MaxWait != 5*time.Minute {
					t.Errorf("got zone=%q retries=%d wait=%v maxwait=%v", p.HostedZoneID, p.MaxRetries, p.WaitForRoute53Sync, p.Route53MaxWait)
				}
			},
		},
		{
			desc:    "key without secret",
			env:     map[string]string{"AWS_ACCESS_KEY_ID": testAKID},
			wantErr: []string{"route53: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be supplied together"},
		},
		{
			desc:    "session token alone",
			env:     map[string]string{"AWS_SESSION_TOKEN": "tok"},
			wantErr: []string{"route53: AWS_SESSION_TOKEN must be supplied with"},
		},
		{
			desc:    "assume role is not supported",
			env:     route53Env(map[string]string{"AWS_ASSUME_ROLE_ARN": "arn:aws:iam::1:role/x"}),
			wantErr: []string{"AWS_ASSUME_ROLE_ARN", "role_arn", "AWS_PROFILE"},
		},
		{
			desc:    "private zone needs a zone ID",
			env:     route53Env(map[string]string{"AWS_PRIVATE_ZONE": "true"}),
			wantErr: []string{"AWS_PRIVATE_ZONE=true", "AWS_HOSTED_ZONE_ID"},
		},
		{
			desc:    "bad boolean",
			env:     route53Env(map[string]string{"AWS_WAIT_FOR_RECORD_SETS_CHANGED": "sometimes"}),
			wantErr: []string{"route53: parsing AWS_WAIT_FOR_RECORD_SETS_CHANGED"},
		},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			prov, _, err := New("route53", Options{Lookup: mapLookup(tc.env)})
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatalf("New succeeded, want error")
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				if strings.Contains(err.Error(), testSecret) {
					t.Errorf("error leaks the secret key")
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			tc.check(t, prov.(*route53.Provider))
		})
	}
}

// TestRoute53Profiles covers the profile check that keeps the libdns
// provider's log.Fatalf from killing the process.
func TestRoute53Profiles(t *testing.T) {
	configFile, credFile := isolateAWS(t)

	t.Run("missing profile is an error, not a crash", func(t *testing.T) {
		_, _, err := New("route53", Options{Lookup: mapLookup(map[string]string{
			"AWS_PROFILE": "ghost", "AWS_CONFIG_FILE": configFile, "AWS_SHARED_CREDENTIALS_FILE": credFile,
		})})
		if err == nil {
			t.Fatalf("New succeeded with a missing profile")
		}
		for _, w := range []string{`route53: AWS profile "ghost"`, configFile, credFile} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q lacks %q", err, w)
			}
		}
	})

	t.Run("missing profile set only in the process environment", func(t *testing.T) {
		t.Setenv("AWS_PROFILE", "ghost-env")
		_, _, err := New("route53", Options{Lookup: mapLookup(map[string]string{})})
		if err == nil || !strings.Contains(err.Error(), "ghost-env") {
			t.Errorf("error = %v, want one naming profile ghost-env", err)
		}
	})

	t.Run("profile from the credentials file", func(t *testing.T) {
		creds := writeFile(t, "credentials", "[deploy]\naws_access_key_id = "+testAKID+"\naws_secret_access_key = "+testSecret+"\n")
		t.Setenv("AWS_SHARED_CREDENTIALS_FILE", creds)
		prov, _, err := New("route53", Options{Lookup: mapLookup(map[string]string{
			"AWS_PROFILE": "deploy", "AWS_SHARED_CREDENTIALS_FILE": creds, "AWS_REGION": "eu-west-1",
		})})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		if p := prov.(*route53.Provider); p.Profile != "deploy" {
			t.Errorf("Profile = %q", p.Profile)
		}
	})

	t.Run("profile from the config file", func(t *testing.T) {
		cfg := writeFile(t, "config", "[profile ops]\nregion = eu-west-1\n")
		t.Setenv("AWS_CONFIG_FILE", cfg)
		if _, _, err := New("route53", Options{Lookup: mapLookup(map[string]string{
			"AWS_PROFILE": "ops", "AWS_CONFIG_FILE": cfg,
		})}); err != nil {
			t.Fatalf("New: %v", err)
		}
	})

	t.Run("config file as inline override is refused", func(t *testing.T) {
		_, _, err := New("route53", Options{Overrides: map[string]string{"AWS_CONFIG_FILE": configFile}})
		if err == nil || !strings.Contains(err.Error(), "AWS_CONFIG_FILE cannot be an inline override") {
			t.Errorf("error = %v", err)
		}
	})
}

// TestRoute53Fake drives the real libdns provider and AWS SDK against the
// fake Route 53 API.
func TestRoute53Fake(t *testing.T) {
	txt := func(name, value string) []libdns.Record {
		return []libdns.Record{libdns.TXT{Name: name, Text: value, TTL: 60 * time.Second}}
	}
	for _, tc := range []struct {
		desc      string
		extra     func(zoneID string) map[string]string
		wantCalls []string
		absent    []string
	}{
		{
			desc:      "zone found by name, waiting for INSYNC",
			extra:     func(string) map[string]string { return nil },
			wantCalls: []string{"ListHostedZonesByName", "ListResourceRecordSets", "ChangeResourceRecordSets", "GetChange"},
		},
		{
			desc: "preset hosted zone ID, no waiting",
			extra: func(id string) map[string]string {
				return map[string]string{"AWS_HOSTED_ZONE_ID": id, "AWS_WAIT_FOR_RECORD_SETS_CHANGED": "false"}
			},
			wantCalls: []string{"ListResourceRecordSets", "ChangeResourceRecordSets"},
			absent:    []string{"ListHostedZonesByName", "GetChange"},
		},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			isolateAWS(t)
			sink := dnsfakes.NewMemorySink()
			fake := dnsfakes.NewRoute53(t, sink, testAKID)
			fake.AddZone("a-first.example.", false)
			zoneID := fake.AddZone("example.com.", false)
			t.Setenv("AWS_ENDPOINT_URL_ROUTE_53", fake.URL)

			prov, _, err := New("route53", Options{Lookup: mapLookup(route53Env(tc.extra(zoneID)))})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			ctx := t.Context()
			for _, v := range []string{"first-value", "second-value"} {
				if _, err := prov.AppendRecords(ctx, "example.com.", txt("_acme-challenge", v)); err != nil {
					t.Fatalf("AppendRecords(%s): %v", v, err)
				}
			}
			if got := fake.TXT("_acme-challenge.example.com."); !slices.Equal(got, []string{"first-value", "second-value"}) {
				t.Fatalf("fake TXT = %v", got)
			}
			if _, err := prov.DeleteRecords(ctx, "example.com.", txt("_acme-challenge", "first-value")); err != nil {
				t.Fatalf("DeleteRecords(first): %v", err)
			}
			if got := sink.TXT("_acme-challenge.example.com."); !slices.Equal(got, []string{"second-value"}) {
				t.Errorf("sink after first delete = %v", got)
			}
			if _, err := prov.DeleteRecords(ctx, "example.com.", txt("_acme-challenge", "second-value")); err != nil {
				t.Fatalf("DeleteRecords(second): %v", err)
			}
			if got := fake.TXT("_acme-challenge.example.com."); len(got) != 0 {
				t.Errorf("fake TXT after cleanup = %v, want none", got)
			}
			if got := sink.TXT("_acme-challenge.example.com."); len(got) != 0 {
				t.Errorf("sink after cleanup = %v, want none", got)
			}
			calls := fake.Calls()
			for _, c := range tc.wantCalls {
				if !slices.Contains(calls, c) {
					t.Errorf("calls %v lack %s", calls, c)
				}
			}
			for _, c := range tc.absent {
				if slices.Contains(calls, c) {
					t.Errorf("calls %v include %s", calls, c)
				}
			}
		})
	}

	t.Run("wrong access key", func(t *testing.T) {
		isolateAWS(t)
		fake := dnsfakes.NewRoute53(t, nil, testAKID)
		fake.AddZone("example.com.", false)
		t.Setenv("AWS_ENDPOINT_URL_ROUTE_53", fake.URL)
		prov, _, err := New("route53", Options{Lookup: mapLookup(route53Env(map[string]string{"AWS_ACCESS_KEY_ID": "AKIAWRONG"}))})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		_, err = prov.AppendRecords(t.Context(), "example.com.", txt("_acme-challenge", "v"))
		if err == nil || !strings.Contains(err.Error(), "InvalidClientTokenId") {
			t.Errorf("AppendRecords error = %v, want InvalidClientTokenId", err)
		}
	})
}
