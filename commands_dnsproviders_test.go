package traefikacme

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ac075510/caddy-traefik-acme/dnsbridge"
)

// TestDNSProvidersCommand checks `caddy traefik dns-providers` against
// goldens, with a fixed environment: which variables are set shows, their
// values never do. The core module does not link the lego bridge, so
// lego-only codes are "not in this build" with the xcaddy line to add it.
func TestDNSProvidersCommand(t *testing.T) {
	const secret = "dns-secret-value-do-not-print"
	env := map[string]string{
		"CF_DNS_API_TOKEN_FILE":   "/run/secrets/cf_token",
		"CF_API_KEY":              secret,
		"EXEC_PATH":               "/usr/local/bin/dns-hook-" + secret,
		"INFOMANIAK_ACCESS_TOKEN": secret,
	}
	old := lookupEnv
	lookupEnv = func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	t.Cleanup(func() { lookupEnv = old })

	tests := []struct {
		desc   string
		args   []string
		golden string
	}{
		{"every code", nil, "dns-providers.txt"},
		{"one libdns code", []string{"cloudflare"}, "dns-providers-cloudflare.txt"},
		{"an alias, native, sequential", []string{"EXEC"}, "dns-providers-exec.txt"},
		{"a lego-only code", []string{"infomaniak"}, "dns-providers-infomaniak.txt"},
		{"a code lego removed", []string{"dnspod"}, "dns-providers-dnspod.txt"},
		{"one code as JSON", []string{"exec", "--json"}, "dns-providers-exec.json"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			out, code, err := runTraefikCmd(t, "dns-providers", tt.args...)
			if err != nil || code != 0 {
				t.Fatalf("code %d, %v", code, err)
			}
			if strings.Contains(out, secret) {
				t.Errorf("output shows a variable's value")
			}
			cmdCompareGolden(t, tt.golden, out)
		})
	}

	t.Run("every code as JSON", func(t *testing.T) {
		out, code, err := runTraefikCmd(t, "dns-providers", "--json")
		if err != nil || code != 0 {
			t.Fatalf("code %d, %v", code, err)
		}
		var list []dnsbridge.ProviderInfo
		dec := json.NewDecoder(strings.NewReader(out))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&list); err != nil {
			t.Fatal(err)
		}
		byCode := map[string]dnsbridge.ProviderInfo{}
		for _, p := range list {
			byCode[p.Code] = p
		}
		// Every code of lego's registry and of this build is listed.
		for _, lc := range dnsbridge.LegoCodes() {
			if _, ok := byCode[lc.Code]; !ok {
				t.Errorf("lego code %s missing", lc.Code)
			}
		}
		for _, c := range dnsbridge.Codes() {
			if p := byCode[c]; p.ServedBy != dnsbridge.ServedByLibdns && p.ServedBy != dnsbridge.ServedByNative {
				t.Errorf("%s: served_by %q", c, p.ServedBy)
			}
		}
		if p := byCode["infomaniak"]; p.ServedBy != dnsbridge.ServedByMissing || !strings.Contains(p.Reason, dnsbridge.BridgeBuildHint) {
			t.Errorf("infomaniak = %+v", p)
		}
		if strings.Contains(out, secret) {
			t.Errorf("output shows a variable's value")
		}
	})

	t.Run("unknown code", func(t *testing.T) {
		_, code, err := runTraefikCmd(t, "dns-providers", "nosuchdns")
		if code != 1 || err == nil || !strings.Contains(err.Error(), `unknown DNS provider code "nosuchdns"`) {
			t.Errorf("code %d, %v", code, err)
		}
	})
}
