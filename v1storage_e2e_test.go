package traefikacme

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
	"github.com/ac075510/caddy-traefik-acme/internal/acmetest"
)

// TestV1StorageConvertedUnderOwningResolver: a Traefik v1 acme.json used as
// a resolver's storage is converted under that resolver's name, not under
// "default": Caddy serves its certificates, mirrors a new name into the
// same resolver, and the file ends up with that one resolver (a later
// Traefik v2/v3 with the resolver finds everything), the original kept as
// .v1.bak. The file is the single-object layout Traefik v1.7 wrote.
func TestV1StorageConvertedUnderOwningResolver(t *testing.T) {
	ca := acmetest.Start(t)
	env := newCaddyEnv(t, ca)
	acmeFile := filepath.Join(t.TempDir(), "acme.json")
	copyFile(t, filepath.Join("testdata", "commands", "traefik-v1-acme.json"), acmeFile, 0o600)
	v1, err := os.ReadFile(acmeFile)
	if err != nil {
		t.Fatal(err)
	}
	env.Extra["acme"] = acmeFile
	fixtureRoots := loadRootPool(t, filepath.Join("testdata", "acmejson", "pebble-root.pem"))
	env.startCaddy(t, `{
{{template "preamble" .}}
	traefik_acme {
		entrypoint web 127.0.0.1:{{.HTTPPort}}
		resolver web {
			email bench@example.org
			ca_server {{.Dir}}
			ca_certificates {{.CAPEM}}
			storage {{index .Extra "acme"}}
			key_type EC256
			http_challenge web
		}
	}
}
h1.example.test, v1new.example.test {
	tls {
		issuer traefik web
	}
}
`)
	waitFor(t, "h1.example.test served from the v1 file", obtainTimeout, func() bool {
		_, err := env.handshakeAt("h1.example.test", fixtureRoots, fixtureTime)
		return err == nil
	})
	env.waitCert(t, "v1new.example.test", ca.RootPool(), obtainTimeout, nil)
	var f acmejson.File
	waitFor(t, "v1new.example.test mirrored", obtainTimeout, func() bool {
		f, err = acmejson.Load(acmeFile, acmejson.LoadOptions{ReadOnly: true})
		return err == nil && f["web"] != nil && f["web"].Find("v1new.example.test") >= 0
	})
	env.stopCaddy(t)
	if got := f.ResolverNames(); !slices.Equal(got, []string{"web"}) {
		t.Errorf("resolvers after the mirror: %v, want [web] only", got)
	}
	for _, n := range []string{"h1.example.test", "d1.example.test", "v1new.example.test"} {
		if f["web"].Find(n) < 0 {
			t.Errorf("resolver web lacks %s", n)
		}
	}
	if got := ca.OrdersFor("h1.example.test"); got != 0 {
		t.Errorf("h1.example.test was ordered %d times; the v1 file holds it", got)
	}
	bak, err := os.ReadFile(acmeFile + ".v1.bak")
	if err != nil || string(bak) != string(v1) {
		t.Errorf("the v1 original is not kept as .v1.bak (%v)", err)
	}
}
