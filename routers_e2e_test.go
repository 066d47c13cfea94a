package traefikacme

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
	"github.com/ac075510/caddy-traefik-acme/internal/acmetest"
	"github.com/ac075510/caddy-traefik-acme/internal/dnsfakes"
)

// richFixtureACMEJSON is the acme.json real Traefik v3.6.21 wrote for
// testdata/routers/traefik-rich-static.yml's original and the fixture's
// dynamic file.
const (
	richFixtureACMEJSON = "compat/routers/testdata/fixtures/traefik-v3.6.21-rich-acme.json"
	richFixtureDynamic  = "compat/routers/testdata/fixtures/traefik-v3.6.21-rich-dynamic.yml"
)

// TestRoutersCertifiedLikeTraefik gives Caddy nothing but a Traefik static
// and dynamic configuration (no site names a host) and checks that it
// obtains from the test CA, over real HTTP-01, TLS-ALPN-01 and DNS-01
// challenges, exactly the names per resolver that real Traefik obtained
// for the same files, with each resolver's key type; that it serves them;
// and that it mirrors them into acme.json under the same resolvers.
func TestRoutersCertifiedLikeTraefik(t *testing.T) {
	want := namesPerResolver(t, richFixtureACMEJSON)

	ca := acmetest.Start(t)
	env := newCaddyEnv(t, ca)
	ex := dnsfakes.NewExecForwarder(t, ca.DNS())
	t.Setenv("EXEC_PATH", ex.Path)
	// The wildcard router's apex and wildcard share one TXT name, which exec
	// presents one at a time, EXEC_SEQUENCE_INTERVAL apart (lego's 60 s by
	// default): the test's forwarder keeps every value, so no pause is needed.
	t.Setenv("EXEC_SEQUENCE_INTERVAL", "0")
	dir := t.TempDir()
	env.Extra["acme"] = filepath.Join(dir, "acme.json")
	env.Extra["dns"] = ca.DNSAddr()
	env.Extra["dyn"] = cmdCopyFixture(t, richFixtureDynamic, dir, "dyn.yml")
	env.Extra["config"] = writeRendered(t, env, "testdata/routers/traefik-rich-static.yml", filepath.Join(dir, "traefik.yml"))
	env.startCaddy(t, `{
{{template "preamble" .}}
	traefik_acme {
		config {{index .Extra "config"}}
	}
}
https:// {
	respond "served by caddy"
}
`)
	keyTypes := map[string]string{"http-ec": "EC P-256", "tls-rsa": "RSA 2048", "dns-wild": "EC P-384"}
	checkRouterCerts(t, env, ca, want, keyTypes, true)
	// x.wild.example.test is in the wildcard router's rule but not in its
	// tls.domains: Traefik serves it with the wildcard, and so does Caddy.
	chain := env.waitCert(t, "x.wild.example.test", ca.RootPool(), obtainTimeout, nil)
	if !slices.Contains(chain[0].DNSNames, "*.wild.example.test") {
		t.Errorf("x.wild.example.test served with %v, want the wildcard", chain[0].DNSNames)
	}
}

// TestRoutersFromComposeLabels starts Caddy from a compose file alone,
// with no site at all (no HTTP server either): the Traefik service's flags
// give the resolvers and entry points, the other services' labels the
// routers (exposedByDefault off, an entry point giving its routers a
// default resolver, a router naming its own). The certificates are
// obtained (certmagic answers the challenges itself) and mirrored.
func TestRoutersFromComposeLabels(t *testing.T) {
	ca := acmetest.Start(t)
	env := newCaddyEnv(t, ca)
	dir := t.TempDir()
	env.Extra["acme"] = filepath.Join(dir, "acme.json")
	env.Extra["config"] = writeRendered(t, env, "testdata/routers/docker-compose.yml", filepath.Join(dir, "docker-compose.yml"))
	env.startCaddy(t, `{
{{template "preamble" .}}
	traefik_acme {
		config {{index .Extra "config"}}
	}
}
`)
	want := map[string][]string{
		"le":    {"whoami.example.test", "www.whoami.example.test"},
		"ec384": {"api.example.test"},
	}
	checkRouterCerts(t, env, ca, want, map[string]string{"le": "EC P-256", "ec384": "EC P-384"}, false)
}

// checkRouterCerts checks that acme.json comes to hold every name of want
// under its resolver, with a certificate of the resolver's key type, and
// that the CA was asked for those names only. With serve, it first waits
// until Caddy serves every name with a certificate from ca of that key
// type.
func checkRouterCerts(t *testing.T, env *caddyEnv, ca *acmetest.CA, want map[string][]string, keyTypes map[string]string, serve bool) {
	t.Helper()
	var all []string
	for _, res := range sortedKeys(want) {
		for _, name := range want[res] {
			all = append(all, name)
			if !serve {
				continue
			}
			sni := name
			if strings.HasPrefix(name, "*.") {
				sni = "any" + name[1:]
			}
			chain := env.waitCert(t, sni, ca.RootPool(), obtainTimeout, nil)
			if !slices.Contains(chain[0].DNSNames, name) {
				t.Errorf("%s: served certificate covers %v, want %s", sni, chain[0].DNSNames, name)
			}
			if got := keyDesc(chain[0]); got != keyTypes[res] {
				t.Errorf("%s: leaf key %s, want %s (resolver %s's keyType)", name, got, keyTypes[res], res)
			}
		}
	}
	waitFor(t, "acme.json to hold every name under its resolver", obtainTimeout, func() bool {
		f, err := acmejson.Load(env.Extra["acme"])
		if err != nil {
			return false
		}
		for res, names := range want {
			if f[res] == nil {
				return false
			}
			for _, n := range names {
				if f[res].Find(n) < 0 {
					return false
				}
			}
		}
		return true
	})
	f, err := acmejson.Load(env.Extra["acme"])
	if err != nil {
		t.Fatal(err)
	}
	for res, names := range want {
		for _, n := range names {
			block, _ := pem.Decode(f[res].Certificates[f[res].Find(n)].Certificate)
			if block == nil {
				t.Fatalf("acme.json: %s/%s: no PEM certificate", res, n)
			}
			leaf, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				t.Fatalf("acme.json: %s/%s: %v", res, n, err)
			}
			if got := keyDesc(leaf); got != keyTypes[res] {
				t.Errorf("acme.json: %s/%s: leaf key %s, want %s (the resolver's keyType)", res, n, got, keyTypes[res])
			}
		}
	}
	sort.Strings(all)
	if got := slices.Compact(ca.OrderedNames()); !reflect.DeepEqual(got, all) {
		t.Errorf("names ordered from the CA = %v, want exactly %v", got, all)
	}
}

// namesPerResolver reads the names (main and SANs) of each resolver's
// certificates in an acme.json.
func namesPerResolver(t *testing.T, path string) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var file map[string]struct {
		Certificates []struct {
			Domain struct {
				Main string   `json:"main"`
				SANs []string `json:"sans"`
			} `json:"domain"`
		} `json:"Certificates"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for res, v := range file {
		for _, c := range v.Certificates {
			out[res] = append(out[res], c.Domain.Main)
			out[res] = append(out[res], c.Domain.SANs...)
		}
		sort.Strings(out[res])
	}
	return out
}

// writeRendered renders a template file of the test with env and writes
// it to path.
func writeRendered(t *testing.T, env *caddyEnv, tmpl, path string) string {
	t.Helper()
	data, err := os.ReadFile(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(env.render(t, string(data))), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
