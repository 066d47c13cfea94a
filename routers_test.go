package traefikacme

import (
	"crypto/tls"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// TestRouterWithUnusableResolver checks that a router whose
// tls.certResolver names no resolver, or a resolver that cannot obtain
// certificates, stops the config with an error naming the router and its
// file: a router makes its resolver used, as a site does.
func TestRouterWithUnusableResolver(t *testing.T) {
	tests := []struct {
		name     string
		resolver string
		want     []string
	}{
		{name: "undefined", resolver: "nope", want: []string{`tls.certResolver: resolver "nope" is not defined`, "defined resolvers: broken, le"}},
		{name: "broken", resolver: "broken", want: []string{`tls.certResolver:`, `"broken"`, "challenge"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dyn := filepath.Join(t.TempDir(), "dyn.yml")
			if err := os.WriteFile(dyn, []byte("http:\n  routers:\n    shop:\n      rule: Host(`shop.example.test`)\n      tls:\n        certResolver: "+tt.resolver+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			app, err := json.Marshal(map[string]any{
				"resolvers": map[string]any{
					"le":     map[string]any{"email": "ops@example.test", "tls_challenge": map[string]any{}},
					"broken": map[string]any{"email": "ops@example.test"},
				},
				"routers": []string{dyn},
			})
			if err != nil {
				t.Fatal(err)
			}
			cfg := &caddy.Config{Admin: &caddy.AdminConfig{Disabled: true}, AppsRaw: caddy.ModuleMap{"traefik_acme": app}}
			err = caddy.Validate(cfg)
			for _, want := range append([]string{`router "shop@file"`, "file " + dyn}, tt.want...) {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("error = %v, want one containing %q", err, want)
				}
			}
		})
	}
}

// TestSitePolicyWinsOverRouter checks that a name a site of the Caddyfile
// already has a TLS policy for keeps the site's policy: the router's
// resolver does not take it over.
func TestSitePolicyWinsOverRouter(t *testing.T) {
	env := newLocalCaddyEnv(t)
	dyn := filepath.Join(t.TempDir(), "dyn.yml")
	if err := os.WriteFile(dyn, []byte("http:\n  routers:\n    local:\n      rule: Host(`local.example.test`)\n      tls:\n        certResolver: le\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env.Extra["dyn"] = dyn
	env.startCaddy(t, `{
{{template "preamble" .}}
	traefik_acme {
		routers {{index .Extra "dyn"}}
		resolver le {
			email ops@example.test
			ca_server https://127.0.0.1:1/dir
			tls_challenge
		}
	}
}
local.example.test {
	tls internal
	respond "site"
}
`)
	var issuer string
	waitFor(t, "local.example.test to be served", obtainTimeout, func() bool {
		conn, err := tls.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(env.HTTPSPort)), &tls.Config{ServerName: "local.example.test", InsecureSkipVerify: true})
		if err != nil {
			return false
		}
		defer conn.Close()
		issuer = conn.ConnectionState().PeerCertificates[0].Issuer.CommonName
		return true
	})
	if !strings.Contains(issuer, "Caddy Local Authority") {
		t.Errorf("local.example.test served by %q, want the site's internal issuer", issuer)
	}
	if !env.logContains("name has a TLS policy in the configuration", "local.example.test") {
		t.Errorf("no log line says the site's policy is kept")
	}
}

// TestTemplatedProviderFile checks that a file provider file using Go
// templating stops the config with an error naming the file and the way
// out.
func TestTemplatedProviderFile(t *testing.T) {
	dir := t.TempDir()
	dyn := filepath.Join(dir, "dyn.yml")
	if err := os.WriteFile(dyn, []byte("http:\n  routers:\n{{ range $i := until 2 }}\n    r{{ $i }}:\n      rule: Host(`r{{ $i }}.example.test`)\n{{ end }}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	static := filepath.Join(dir, "traefik.yml")
	if err := os.WriteFile(static, []byte("providers:\n  file:\n    filename: "+dyn+"\ncertificatesResolvers:\n  le:\n    acme:\n      tlsChallenge: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	app, err := json.Marshal(map[string]any{"config": static})
	if err != nil {
		t.Fatal(err)
	}
	cfg := &caddy.Config{Admin: &caddy.AdminConfig{Disabled: true}, AppsRaw: caddy.ModuleMap{"traefik_acme": app}}
	err = caddy.Validate(cfg)
	for _, want := range []string{dyn, "Go templating", "routers off"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("error = %v, want one containing %q", err, want)
		}
	}
}

// TestRoutersOptionNeedsAnArgument checks the Caddyfile error for a
// routers subdirective without paths.
func TestRoutersOptionNeedsAnArgument(t *testing.T) {
	_, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte("{\n\ttraefik_acme {\n\t\trouters\n\t}\n}\n"), map[string]any{"filename": "Caddyfile"})
	if err == nil || !strings.Contains(err.Error(), "routers: want <path>") || !strings.Contains(err.Error(), "Caddyfile:3") {
		t.Fatalf("error = %v, want one naming routers and the line", err)
	}
}
