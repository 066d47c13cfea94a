package config

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// These tests pin each rule where the loader follows Traefik's
// SetEffectiveConfiguration and provider rather than its own judgement;
// the conformance suite checks the same on Traefik's own files.

func TestDeprecatedDNSOptionsAreCopiedAsTraefikDoes(t *testing.T) {
	for _, tc := range []struct {
		desc        string
		dns         DNSChallenge
		wantDelay   time.Duration
		wantDisable bool
		warn        string
	}{
		{desc: "deprecated delay wins over the new one", dns: DNSChallenge{Provider: "x", DelayBeforeCheck: Duration(10 * time.Second), Propagation: &Propagation{DelayBeforeChecks: Duration(20 * time.Second)}}, wantDelay: 10 * time.Second, warn: "the deprecated 10s wins, as in Traefik"},
		{desc: "deprecated delay alone", dns: DNSChallenge{Provider: "x", DelayBeforeCheck: Duration(10 * time.Second)}, wantDelay: 10 * time.Second, warn: "delayBeforeCheck: deprecated since Traefik v3.3"},
		{desc: "new delay alone", dns: DNSChallenge{Provider: "x", Propagation: &Propagation{DelayBeforeChecks: Duration(20 * time.Second)}}, wantDelay: 20 * time.Second},
		{desc: "negative deprecated delay is ignored", dns: DNSChallenge{Provider: "x", DelayBeforeCheck: Duration(-5 * time.Second), Propagation: &Propagation{DelayBeforeChecks: Duration(20 * time.Second)}}, wantDelay: 20 * time.Second, warn: "negative (-5s) and deprecated since Traefik v3.3: ignored"},
		{desc: "deprecated disable", dns: DNSChallenge{Provider: "x", DisablePropagationCheck: true}, wantDisable: true, warn: "disablePropagationCheck: deprecated since Traefik v3.3"},
		{desc: "deprecated disable with the new block", dns: DNSChallenge{Provider: "x", DisablePropagationCheck: true, Propagation: &Propagation{RequireAllRNS: true}}, wantDisable: true},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			before := tc.dns
			a := &ACME{DNSChallenge: &tc.dns}
			w := a.SetDefaults("certificatesResolvers.le.acme")
			p := a.DNSChallenge.Propagation
			var delay time.Duration
			var disable bool
			if p != nil {
				delay, disable = time.Duration(p.DelayBeforeChecks), p.DisableChecks
			}
			if delay != tc.wantDelay || disable != tc.wantDisable {
				t.Errorf("propagation delay %s disable %v, want %s %v", delay, disable, tc.wantDelay, tc.wantDisable)
			}
			// The deprecated fields keep their values, as in Traefik.
			if a.DNSChallenge.DelayBeforeCheck != before.DelayBeforeCheck || a.DNSChallenge.DisablePropagationCheck != before.DisablePropagationCheck {
				t.Errorf("deprecated fields changed: %+v", a.DNSChallenge)
			}
			if tc.warn != "" && !hasWarning(w, tc.warn) {
				t.Errorf("warnings %v, want one containing %q", w, tc.warn)
			}
			if err := a.Validate("le", nil); err != nil {
				t.Errorf("validate: %v", err)
			}
		})
	}
}

func TestRewriteLegacyCAServerIsTraefiksRule(t *testing.T) {
	for in, want := range map[string]string{
		"https://acme-v01.api.letsencrypt.org/directory":              "https://acme-v02.api.letsencrypt.org/directory",
		"https://acme-v01.api.letsencrypt.org/acme/directory-v1":      "https://acme-v02.api.letsencrypt.org/acme/directory-v1",
		"https://acme-v01.api.letsencrypt.org/directory?x=v01":        "https://acme-v02.api.letsencrypt.org/directory?x=v01",
		"https://acme-staging.api.letsencrypt.org/directory":          "https://acme-staging-v02.api.letsencrypt.org/directory",
		"https://acme-staging.api.letsencrypt.org/acme/dir":           "https://acme-staging-v02.api.letsencrypt.org/acme/dir",
		"https://acme-v02.api.letsencrypt.org/directory":              "",
		"https://acme-staging-v02.api.letsencrypt.org/directory":      "",
		"https://ca.example.com/acme-v01.api.letsencrypt.org":         "",
		"http://acme-v01.api.letsencrypt.org/directory":               "",
		"https://127.0.0.1:14000/dir":                                 "",
		"https://acme-v01.api.letsencrypt.org.evil.example/directory": "https://acme-v02.api.letsencrypt.org.evil.example/directory",
	} {
		got, changed := RewriteLegacyCAServer(in)
		if want == "" {
			if changed || got != in {
				t.Errorf("%s: rewritten to %s, want unchanged", in, got)
			}
			continue
		}
		if !changed || got != want {
			t.Errorf("%s: %s (changed %v), want %s", in, got, changed, want)
		}
	}
}

func TestKeyTypeOutsideTheFiveBecomesRSA4096(t *testing.T) {
	for _, kt := range []string{"ec256", "INVALID", "rsa4096", "P256"} {
		a := &ACME{KeyType: kt, TLSChallenge: &TLSChallenge{}}
		w := a.SetDefaults("certificatesResolvers.le.acme")
		if a.KeyType != KeyTypeRSA4096 {
			t.Errorf("%s: key type %s, want RSA4096", kt, a.KeyType)
		}
		if !hasWarning(w, `certificatesResolvers.le.acme.keyType: unknown key type "`+kt+`"`) {
			t.Errorf("%s: warnings %v", kt, w)
		}
		if err := a.Validate("le", nil); err != nil {
			t.Errorf("%s: validate: %v", kt, err)
		}
	}
	for _, kt := range KeyTypes {
		a := &ACME{KeyType: kt, TLSChallenge: &TLSChallenge{}}
		if w := a.SetDefaults("p"); len(w) != 0 || a.KeyType != kt {
			t.Errorf("%s: %s, warnings %v", kt, a.KeyType, w)
		}
	}
}

func TestNegativeDelaysAreWarnings(t *testing.T) {
	a := &ACME{
		HTTPChallenge: &HTTPChallenge{EntryPoint: "web", Delay: Duration(-time.Second)},
		TLSChallenge:  &TLSChallenge{Delay: Duration(-time.Second)},
		DNSChallenge:  &DNSChallenge{Provider: "x", Propagation: &Propagation{DelayBeforeChecks: Duration(-time.Second)}},
	}
	w := a.SetDefaults("r")
	for _, key := range []string{"r.httpChallenge.delay", "r.tlsChallenge.delay", "r.dnsChallenge.propagation.delayBeforeChecks"} {
		if !hasWarning(w, key+": negative (-1s): waits for nothing") {
			t.Errorf("warnings %v, want one for %s", w, key)
		}
	}
	if err := a.Validate("r", nil); err != nil {
		t.Errorf("validate: %v", err)
	}
}

// TestBrokenResolversAreKeptWithTheirProblem covers the resolvers Traefik
// loads and only fails to use: they load, each with a problem naming the
// resolver and the key, and never affect the other resolvers.
func TestBrokenResolversAreKeptWithTheirProblem(t *testing.T) {
	s, _, err := ParseYAML([]byte(`
entryPoints:
  web: {address: ":80"}
certificatesResolvers:
  nochallenge: {acme: {email: a@example.com}}
  noprovider: {acme: {dnsChallenge: {resolvers: ["1.1.1.1"]}}}
  noentrypoint: {acme: {httpChallenge: {delay: 5}}}
  undefinedentrypoint: {acme: {httpChallenge: {entryPoint: websecure}}}
  nulltls:
    acme:
      tlsChallenge:
  good: {acme: {httpChallenge: {entryPoint: web}}}
`))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"nochallenge":         `resolver "nochallenge": acme: no challenge configured`,
		"noprovider":          `resolver "noprovider": dnsChallenge.provider: required`,
		"noentrypoint":        `resolver "noentrypoint": httpChallenge.entryPoint: required`,
		"undefinedentrypoint": `resolver "undefinedentrypoint": httpChallenge.entryPoint: entry point "websecure" is not defined`,
		"nulltls":             `resolver "nulltls": acme: no challenge configured`,
	} {
		if _, ok := s.CertificatesResolvers[name]; !ok {
			t.Errorf("resolver %s dropped", name)
		}
		if err := s.ResolverProblem(name); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("problem of %s: %v, want %q", name, err, want)
		}
	}
	if err := s.ResolverProblem("good"); err != nil {
		t.Errorf("good: %v", err)
	}
	if err := s.ResolverProblem("undefined"); err != nil {
		t.Errorf("undefined: %v", err)
	}
	if err := (*Static)(nil).ResolverProblem("x"); err != nil {
		t.Errorf("nil static: %v", err)
	}
}

func TestTraefikEntryPointsAreCreated(t *testing.T) {
	for _, tc := range []struct {
		desc string
		yaml string
		args []string
		want map[string]string
	}{
		{desc: "none defined: http on :80", yaml: "certificatesResolvers: {le: {acme: {tlsChallenge: {}}}}", want: map[string]string{"http": ":80"}},
		{desc: "defined ones only", yaml: "entryPoints: {web: {address: ':81'}}\ncertificatesResolvers: {le: {acme: {tlsChallenge: {}}}}", want: map[string]string{"web": ":81"}},
		{desc: "api.insecure adds traefik", yaml: "api: {insecure: true}\nentryPoints: {web: {address: ':81'}}", want: map[string]string{"web": ":81", "traefik": ":8080"}},
		{desc: "api without insecure", yaml: "api: {dashboard: true}\nentryPoints: {web: {address: ':81'}}", want: map[string]string{"web": ":81"}},
		{desc: "ping on its default entry point", yaml: "ping: {}\nentryPoints: {web: {address: ':81'}}", want: map[string]string{"web": ":81", "traefik": ":8080"}},
		{desc: "ping on another entry point", yaml: "ping: {entryPoint: web}\nentryPoints: {web: {address: ':81'}}", want: map[string]string{"web": ":81"}},
		{desc: "ping with manual routing", yaml: "ping: {manualRouting: true}\nentryPoints: {web: {address: ':81'}}", want: map[string]string{"web": ":81"}},
		{desc: "null ping is absent", yaml: "ping:\nentryPoints: {web: {address: ':81'}}", want: map[string]string{"web": ":81"}},
		{desc: "prometheus metrics", yaml: "metrics: {prometheus: {}}", want: map[string]string{"http": ":80", "traefik": ":8080"}},
		{desc: "rest provider insecure", yaml: "providers: {rest: {insecure: true}}", want: map[string]string{"http": ":80", "traefik": ":8080"}},
		{desc: "a defined traefik entry point is kept", yaml: "api: {insecure: true}\nentryPoints: {traefik: {address: ':9000'}}", want: map[string]string{"traefik": ":9000"}},
		{desc: "flags", args: []string{"--api.insecure", "--entrypoints.web.address=:81"}, want: map[string]string{"web": ":81", "traefik": ":8080"}},
		{desc: "flags: ping=false", args: []string{"--ping=false", "--entrypoints.web.address=:81"}, want: map[string]string{"web": ":81"}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			var s *Static
			var err error
			if tc.args != nil {
				s, _, err = ParseArgs(tc.args)
			} else {
				s, _, err = ParseYAML([]byte(tc.yaml))
			}
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for name, ep := range s.EntryPoints {
				got[name] = ep.Address
			}
			if len(got) != len(tc.want) {
				t.Fatalf("entry points %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("entry points %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestParseJSON(t *testing.T) {
	s, _, err := ParseJSON([]byte(`{"entryPoints": {"web": {"address": ":80"}}, "certificatesResolvers": {"le": {"acme": {"email": "a@example.com", "certificatesDuration": 72, "httpChallenge": {"entryPoint": "web", "delay": 5}}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	a := acmeOf(t, s, "le")
	if a.Email != "a@example.com" || a.CertificatesDuration != 72 || a.HTTPChallenge.EntryPoint != "web" || time.Duration(a.HTTPChallenge.Delay) != 5*time.Second {
		t.Errorf("resolver %+v", a)
	}
	for body, want := range map[string]string{
		"":                               "parsing JSON",
		"{}":                             "no configuration found",
		`{"certificatesResolvers": [1]}`: "certificatesResolvers: expected a table",
		`{"certificatesResolvers": {"le": {"acme": {"emial": "x"}}}}`: `did you mean "email"`,
	} {
		if _, _, err := ParseJSON([]byte(body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error containing %q", body, err, want)
		}
	}
}

func TestProblemKeys(t *testing.T) {
	a := &ACME{DNSChallenge: &DNSChallenge{Resolvers: []string{"a b"}}, CertificatesDuration: -1}
	a.SetDefaults("r")
	err := a.Validate("le", nil)
	got := ProblemKeys(fmt.Errorf("wrapped: %w", err))
	want := []string{"certificatesDuration", "dnsChallenge.provider", "dnsChallenge.resolvers[0]"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ProblemKeys = %q, want %q (error %v)", got, want, err)
	}
	var re *ResolverError
	if !errors.As(err, &re) || re.Resolver != "le" {
		t.Errorf("errors.As: %v", err)
	}
	if ProblemKeys(nil) != nil || ProblemKeys(errors.New("x")) != nil {
		t.Error("ProblemKeys of a plain error")
	}
}
