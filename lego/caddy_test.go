// The tests of this package link every lego provider; see providers_test.go.

//go:build !race

package lego

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/ac075510/caddy-traefik-acme"
)

// TestResolverProvisionsWithBridge: a Caddyfile resolver whose provider
// only lego serves (infomaniak), or whose credentials only lego accepts
// (Cloudflare's global API key), provisions with the bridge linked; a
// missing variable is lego's message, with no secret.
func TestResolverProvisionsWithBridge(t *testing.T) {
	captureLego(t)
	for _, tc := range []struct {
		desc, provider, env string
		wantErr             []string
	}{
		{desc: "lego-only code", provider: "infomaniak", env: "env INFOMANIAK_ACCESS_TOKEN tok-secret-111"},
		{desc: "lego-only credential form", provider: "cloudflare",
			env: "env CF_API_EMAIL ops@example.test\n\t\t\t\tenv CF_API_KEY global-secret-222"},
		{desc: "missing variable", provider: "infomaniak",
			wantErr: []string{`resolver "le"`, "infomaniak: some credentials information are missing: INFOMANIAK_ACCESS_TOKEN"}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			for _, v := range []string{"INFOMANIAK_ACCESS_TOKEN", "CF_DNS_API_TOKEN", "CLOUDFLARE_DNS_API_TOKEN", "CF_API_EMAIL", "CF_API_KEY", "CLOUDFLARE_EMAIL", "CLOUDFLARE_API_KEY"} {
				t.Setenv(v, "")
			}
			cf := `{
	traefik_acme {
		resolver le {
			email ops@example.test
			ca_server https://127.0.0.1:1/dir
			dns_challenge ` + tc.provider + ` {
				` + tc.env + `
			}
		}
	}
}
a.example.test {
	tls {
		issuer traefik le
	}
}`
			raw, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cf), map[string]any{"filename": "Caddyfile"})
			if err != nil {
				t.Fatal(err)
			}
			var cfg caddy.Config
			if err := json.Unmarshal(raw, &cfg); err != nil {
				t.Fatal(err)
			}
			cfg.StorageRaw = json.RawMessage(`{"module":"file_system","root":"` + t.TempDir() + `"}`)
			cfg.Admin = &caddy.AdminConfig{Disabled: true}
			cfg.Logging = &caddy.Logging{Logs: map[string]*caddy.CustomLog{"default": {BaseLog: caddy.BaseLog{WriterRaw: json.RawMessage(`{"output":"discard"}`)}}}}
			err = caddy.Validate(&cfg)
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("validate succeeded, want an error")
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
