package traefikacme

import (
	"maps"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// TestLegoProviderCaddyfile checks the Caddyfile syntax of
// dns.providers.traefik_lego, and that what it parses provisions.
func TestLegoProviderCaddyfile(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		want    legoProvider
		wantErr string
	}{
		{name: "code only", input: `traefik_lego cloudflare`, want: legoProvider{Code: "cloudflare"}},
		{
			name: "env block",
			input: `traefik_lego cloudflare {
				env CF_DNS_API_TOKEN {env.MY_CF_TOKEN}
				env CLOUDFLARE_TTL 120
			}`,
			want: legoProvider{Code: "cloudflare", Env: map[string]string{"CF_DNS_API_TOKEN": "{env.MY_CF_TOKEN}", "CLOUDFLARE_TTL": "120"}},
		},
		{name: "missing code", input: `traefik_lego`, wantErr: "missing lego provider code"},
		{name: "two codes", input: `traefik_lego cloudflare route53`, wantErr: "wrong argument count"},
		{name: "env without value", input: "traefik_lego cloudflare {\n env CF_DNS_API_TOKEN\n}", wantErr: "wrong argument count"},
		{name: "env with extra value", input: "traefik_lego cloudflare {\n env A b c\n}", wantErr: "wrong argument count"},
		{name: "env twice", input: "traefik_lego cloudflare {\n env A b\n env A c\n}", wantErr: "env A set twice"},
		{name: "unknown subdirective", input: "traefik_lego cloudflare {\n token x\n}", wantErr: `unrecognized subdirective "token"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got legoProvider
			err := got.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Code != tt.want.Code || !maps.Equal(got.Env, tt.want.Env) {
				t.Fatalf("parsed %+v, want %+v", got, tt.want)
			}
		})
	}

	// What the Caddyfile gives provisions into a working provider, with
	// the placeholder expanded from the environment.
	t.Setenv("MY_CF_TOKEN", "secret-token")
	var p legoProvider
	if err := p.UnmarshalCaddyfile(caddyfile.NewTestDispenser("traefik_lego cloudflare {\n env CF_DNS_API_TOKEN {env.MY_CF_TOKEN}\n}")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
	defer cancel()
	if err := p.Provision(ctx); err != nil {
		t.Fatalf("provisioning: %v", err)
	}
	if p.prov == nil {
		t.Fatal("provisioned without a provider")
	}
}
