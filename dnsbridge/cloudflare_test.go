package dnsbridge

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ac075510/caddy-traefik-acme/internal/dnsfakes"
	"github.com/libdns/cloudflare"
	"github.com/libdns/libdns"
)

func TestCloudflareMapping(t *testing.T) {
	injected := &http.Client{Timeout: 7 * time.Second}
	for _, tc := range []struct {
		desc        string
		env         map[string]string
		client      *http.Client
		wantToken   string
		wantZone    string
		wantTimeout time.Duration
		wantErr     []string
	}{
		{
			desc:        "token only, lego's 30 s HTTP timeout",
			env:         map[string]string{"CF_DNS_API_TOKEN": "dns-tok"},
			wantToken:   "dns-tok",
			wantTimeout: 30 * time.Second,
		},
		{
			desc:        "separate zone token",
			env:         map[string]string{"CLOUDFLARE_DNS_API_TOKEN": "dns-tok", "CF_ZONE_API_TOKEN": "zone-tok"},
			wantToken:   "dns-tok",
			wantZone:    "zone-tok",
			wantTimeout: 30 * time.Second,
		},
		{
			desc:        "injected client keeps its timeout",
			env:         map[string]string{"CF_DNS_API_TOKEN": "dns-tok"},
			client:      injected,
			wantToken:   "dns-tok",
			wantTimeout: 7 * time.Second,
		},
		{
			desc:        "explicit HTTP timeout wins over the injected client's",
			env:         map[string]string{"CF_DNS_API_TOKEN": "dns-tok", "CLOUDFLARE_HTTP_TIMEOUT": "9"},
			client:      injected,
			wantToken:   "dns-tok",
			wantTimeout: 9 * time.Second,
		},
		{
			desc: "global API key alone is explained",
			env:  map[string]string{"CF_API_EMAIL": "me@example.com", "CF_API_KEY": "global-key-secret"},
			wantErr: []string{
				"cloudflare: global API keys", "not supported", "Zone / Zone / Read", "Zone / DNS / Edit",
				"https://dash.cloudflare.com/profile/api-tokens", "CLOUDFLARE_DNS_API_TOKEN or CF_DNS_API_TOKEN",
			},
		},
		{
			desc:    "bad base URL",
			env:     map[string]string{"CF_DNS_API_TOKEN": "dns-tok", "CLOUDFLARE_BASE_URL": "not a url"},
			wantErr: []string{"cloudflare: parsing CLOUDFLARE_BASE_URL"},
		},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			prov, _, err := New("cloudflare", Options{Lookup: mapLookup(tc.env), HTTPClient: tc.client})
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatalf("New succeeded, want error")
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				if strings.Contains(err.Error(), "global-key-secret") {
					t.Errorf("error leaks the API key")
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			p := prov.(*cloudflare.Provider)
			if p.APIToken != tc.wantToken || p.ZoneToken != tc.wantZone {
				t.Errorf("tokens = %q/%q, want %q/%q", p.APIToken, p.ZoneToken, tc.wantToken, tc.wantZone)
			}
			c, ok := p.HTTPClient.(*http.Client)
			if !ok {
				t.Fatalf("HTTPClient is %T, want *http.Client", p.HTTPClient)
			}
			if c.Timeout != tc.wantTimeout {
				t.Errorf("HTTP timeout = %v, want %v", c.Timeout, tc.wantTimeout)
			}
			if tc.client != nil && c == tc.client {
				t.Errorf("the injected client was modified in place instead of copied")
			}
			if injected.Timeout != 7*time.Second {
				t.Errorf("injected client's timeout changed to %v", injected.Timeout)
			}
		})
	}
}

// TestCloudflareFake drives the real libdns provider against the fake
// Cloudflare API through the HTTP client the bridge injects.
func TestCloudflareFake(t *testing.T) {
	const token = "cf-dns-token-123"
	txt := func(name, value string) []libdns.Record {
		return []libdns.Record{libdns.TXT{Name: name, Text: value, TTL: 120 * time.Second}}
	}

	t.Run("present and clean up through the injected client", func(t *testing.T) {
		sink := dnsfakes.NewMemorySink()
		fake := dnsfakes.NewCloudflare(t, sink, token)
		fake.AddZone("example.com")
		fake.AddZone("other.org")
		prov, _, err := New("cloudflare", Options{
			Lookup:     mapLookup(map[string]string{"CF_DNS_API_TOKEN": token}),
			HTTPClient: fake.HTTPClient(),
		})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		ctx := t.Context()
		// Apex and wildcard challenges share one name: two values.
		for _, v := range []string{"value-one", "value-two"} {
			if _, err := prov.AppendRecords(ctx, "example.com.", txt("_acme-challenge", v)); err != nil {
				t.Fatalf("AppendRecords(%s): %v", v, err)
			}
		}
		if got := fake.TXT("_acme-challenge.example.com"); !slices.Equal(got, []string{"value-one", "value-two"}) {
			t.Fatalf("fake TXT = %v", got)
		}
		if got := sink.TXT("_acme-challenge.example.com."); len(got) != 2 {
			t.Fatalf("sink TXT = %v, want both values", got)
		}
		if _, err := prov.DeleteRecords(ctx, "example.com.", txt("_acme-challenge", "value-one")); err != nil {
			t.Fatalf("DeleteRecords: %v", err)
		}
		if got := fake.TXT("_acme-challenge.example.com"); !slices.Equal(got, []string{"value-two"}) {
			t.Errorf("after delete, fake TXT = %v, want [value-two]", got)
		}
		if got := sink.TXT("_acme-challenge.example.com."); !slices.Equal(got, []string{"value-two"}) {
			t.Errorf("after delete, sink TXT = %v, want [value-two]", got)
		}
		reqs := fake.Requests()
		if !slices.ContainsFunc(reqs, func(r string) bool { return strings.HasPrefix(r, "GET /client/v4/zones?name=example.com") }) {
			t.Errorf("no zone lookup among requests %v", reqs)
		}
	})

	t.Run("wrong token gets Cloudflare's error", func(t *testing.T) {
		fake := dnsfakes.NewCloudflare(t, nil, token)
		fake.AddZone("example.com")
		prov, _, err := New("cloudflare", Options{
			Lookup:     mapLookup(map[string]string{"CF_DNS_API_TOKEN": "wrong-token-456"}),
			HTTPClient: fake.HTTPClient(),
		})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		_, err = prov.AppendRecords(t.Context(), "example.com.", txt("_acme-challenge", "v"))
		if err == nil || !strings.Contains(err.Error(), "9109") || !strings.Contains(err.Error(), "Invalid access token") {
			t.Errorf("AppendRecords error = %v, want Cloudflare 9109 Invalid access token", err)
		}
	})

	t.Run("zone token used only for the zone lookup", func(t *testing.T) {
		fake := dnsfakes.NewCloudflare(t, nil, token)
		fake.SetZoneToken("zone-read-token")
		fake.AddZone("example.com")
		prov, _, err := New("cloudflare", Options{
			Lookup:     mapLookup(map[string]string{"CF_DNS_API_TOKEN": token, "CF_ZONE_API_TOKEN": "zone-read-token"}),
			HTTPClient: fake.HTTPClient(),
		})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		if _, err := prov.AppendRecords(t.Context(), "example.com.", txt("_acme-challenge.www", "v")); err != nil {
			t.Fatalf("AppendRecords: %v", err)
		}
		if got := fake.TXT("_acme-challenge.www.example.com"); !slices.Equal(got, []string{"v"}) {
			t.Errorf("fake TXT = %v", got)
		}
	})

	t.Run("CLOUDFLARE_BASE_URL rewrites the API host", func(t *testing.T) {
		sink := dnsfakes.NewMemorySink()
		fake := dnsfakes.NewCloudflare(t, sink, token)
		fake.AddZone("example.com")
		prov, _, err := New("cloudflare", Options{
			Lookup: mapLookup(map[string]string{"CF_DNS_API_TOKEN": token, "CLOUDFLARE_BASE_URL": fake.URL + "/"}),
		})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		if _, err := prov.AppendRecords(t.Context(), "example.com.", txt("_acme-challenge", "via-base-url")); err != nil {
			t.Fatalf("AppendRecords: %v", err)
		}
		if got := sink.TXT("_acme-challenge.example.com"); !slices.Equal(got, []string{"via-base-url"}) {
			t.Errorf("sink TXT = %v", got)
		}
	})
}
