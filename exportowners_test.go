package traefikacme

import (
	"path/filepath"
	"reflect"
	"testing"

	"github.com/ac075510/caddy-traefik-acme/compat/config"
)

// TestConfigOwners: the names each resolver's sites use, read from a real
// Caddyfile as Caddy adapts it.
func TestConfigOwners(t *testing.T) {
	const caddyfile = `{
	cert_issuer traefik web
	traefik_acme {
		entrypoint web 127.0.0.1:80
		resolver web {
			email ops@example.test
			http_challenge web
		}
		resolver dns {
			email ops@example.test
			dns_challenge rfc2136
		}
	}
}
a.example.test, b.example.test {
	tls {
		issuer traefik web
	}
}
*.w.example.test {
	tls {
		issuer traefik dns
	}
}
c.example.test {
	respond "default issuer"
}
`
	cfgJSON := adapt(t, caddyfile)
	resolvers, err := configResolvers(cfgJSON)
	if err != nil {
		t.Fatal(err)
	}
	o, err := configOwners(cfgJSON, resolvers)
	if err != nil {
		t.Fatal(err)
	}
	// The sites of web use the global issuer's settings, so Caddy merges
	// them into the policy without subjects: web is the catch-all.
	wantSites := map[string][]string{"dns": {"*.w.example.test"}}
	if !reflect.DeepEqual(o.Sites, wantSites) {
		t.Errorf("Sites = %v, want %v", o.Sites, wantSites)
	}
	if o.CatchAll != "web" {
		t.Errorf("CatchAll = %q, want web", o.CatchAll)
	}
	if !reflect.DeepEqual(o.DNS01, map[string]bool{"web": false, "dns": true}) {
		t.Errorf("DNS01 = %v", o.DNS01)
	}
	for names, want := range map[string]string{"b.example.test": "web", "*.w.example.test": "dns", "c.example.test": "web", "*.x.example.test": ""} {
		if got, why := o.Owner([]string{names}); got != want {
			t.Errorf("Owner(%s) = %q (%s), want %q", names, got, why, want)
		}
	}
}

// TestStorageOwners: a v1 file belongs to the resolvers whose storage it is.
func TestStorageOwners(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "acme.json")
	resolvers := map[string]*config.ACME{
		"le":    {Storage: file},
		"other": {Storage: filepath.Join(dir, "other.json")},
		"same":  {Storage: filepath.Join(dir, ".", "acme.json")},
	}
	if got := storageOwners(file, resolvers); !reflect.DeepEqual(got, []string{"le", "same"}) {
		t.Errorf("storageOwners = %v, want [le same]", got)
	}
	if got := storageOwners(filepath.Join(dir, "none.json"), resolvers); got != nil {
		t.Errorf("storageOwners = %v, want none", got)
	}
}
