package traefikacme

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
	"github.com/ac075510/caddy-traefik-acme/internal/acmetest"
)

// fixtureTime is inside the validity of the fixtures' certificates, which
// expire on 2027-02-27.
var fixtureTime = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

func loadRootPool(t *testing.T, path string) *x509.CertPool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		t.Fatalf("%s holds no certificate", path)
	}
	return pool
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(to, mode); err != nil {
		t.Fatal(err)
	}
}

func entryJSON(t *testing.T, r *acmejson.Resolver) string {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAcmeJSONImportAndMirror points a resolver at a real acme.json written
// by Traefik v3.7: Caddy serves its certificate with zero orders and zero
// new accounts at the CA; then a new name is obtained and lands in the file,
// readable by Traefik's format, with the other resolvers untouched.
func TestAcmeJSONImportAndMirror(t *testing.T) {
	ca := acmetest.Start(t)
	env := newCaddyEnv(t, ca)
	acmeFile := filepath.Join(t.TempDir(), "acme.json")
	copyFile(t, filepath.Join("testdata", "acmejson", "traefik-v3-acme.json"), acmeFile, 0o644)
	orig, err := acmejson.Load(acmeFile)
	if err != nil {
		t.Fatal(err)
	}
	env.Extra["acme"] = acmeFile
	fixtureRoots := loadRootPool(t, filepath.Join("testdata", "acmejson", "pebble-root.pem"))

	const resolverBlock = `
	traefik_acme {
		entrypoint web 127.0.0.1:{{.HTTPPort}}
		resolver le-http {
			email bench@example.org
			ca_server {{.Dir}}
			ca_certificates {{.CAPEM}}
			storage {{index .Extra "acme"}}
			key_type EC256
			http_challenge web
		}
	}
`
	// First start: only the name the file already has.
	env.startCaddy(t, `{
{{template "preamble" .}}`+resolverBlock+`}
h1.example.test {
	tls {
		issuer traefik le-http
	}
}
`)
	var leaf *x509.Certificate
	waitFor(t, "h1.example.test served from the imported acme.json", 10*time.Second, func() bool {
		leaf, err = env.handshakeAt("h1.example.test", fixtureRoots, fixtureTime)
		return err == nil
	})
	parsed, err := orig["le-http"].Certificates[0].Parse()
	if err != nil {
		t.Fatal(err)
	}
	if !leaf.Equal(parsed.Chain[0]) {
		t.Errorf("served certificate (serial %s) is not the one in acme.json (serial %s)", leaf.SerialNumber, parsed.Chain[0].SerialNumber)
	}
	if n, a := ca.Orders(), ca.NewAccounts(); n != 0 || a != 0 {
		t.Errorf("CA saw %d orders and %d new accounts, want 0 and 0", n, a)
	}
	if fi, err := os.Stat(acmeFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("acme.json mode after import: %v (err %v), want 0600", fi.Mode().Perm(), err)
	}
	env.stopCaddy(t)

	// Second start: a new name, obtained from the CA and mirrored back.
	env.startCaddy(t, `{
{{template "preamble" .}}`+resolverBlock+`}
h1.example.test, new.example.test {
	tls {
		issuer traefik le-http
	}
}
`)
	env.waitCert(t, "new.example.test", ca.RootPool(), obtainTimeout, nil)
	var f acmejson.File
	waitFor(t, "new.example.test in acme.json", 10*time.Second, func() bool {
		f, err = acmejson.Load(acmeFile)
		return err == nil && f["le-http"] != nil && f["le-http"].Find("new.example.test") >= 0
	})
	if got := ca.OrdersFor("h1.example.test"); got != 0 {
		t.Errorf("h1.example.test was ordered %d times; it is in acme.json", got)
	}
	for _, other := range []string{"le-dns", "le-tls"} {
		if entryJSON(t, f[other]) != entryJSON(t, orig[other]) {
			t.Errorf("resolver %s changed in acme.json", other)
		}
	}
	entry := f["le-http"]
	if i := entry.Find("h1.example.test"); i < 0 || !bytes.Equal(entry.Certificates[i].Certificate, orig["le-http"].Certificates[0].Certificate) {
		t.Errorf("the h1.example.test entry changed")
	}
	mirrored := entry.Certificates[entry.Find("new.example.test")]
	p, err := mirrored.Parse()
	if err != nil {
		t.Fatalf("mirrored certificate does not parse: %v", err)
	}
	if err := p.Chain[0].VerifyHostname("new.example.test"); err != nil {
		t.Errorf("mirrored certificate: %v", err)
	}
	if mirrored.Store != "default" || mirrored.Domain.Main != "new.example.test" {
		t.Errorf("mirrored entry: store %q, main %q", mirrored.Store, mirrored.Domain.Main)
	}
	if blk, _ := pem.Decode(mirrored.Certificate); blk == nil || blk.Type != "CERTIFICATE" {
		t.Errorf("mirrored certificate is not a PEM chain")
	}
	// The fixture's account does not exist at this CA: certmagic registered
	// a new one, which must be an RSA key Traefik can read, at this CA's host.
	if entry.Account == nil || entry.Account.Registration == nil {
		t.Fatalf("no account mirrored")
	}
	if _, err := acmejson.DecodeAccountKey(entry.Account.PrivateKey); err != nil {
		t.Errorf("mirrored account key: %v", err)
	}
	u, _ := url.Parse(entry.Account.Registration.URI)
	caURL, _ := url.Parse(ca.DirectoryURL())
	if u == nil || u.Host != caURL.Host {
		t.Errorf("account uri %q, want host %s", entry.Account.Registration.URI, caURL.Host)
	}
	if fi, err := os.Stat(acmeFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("acme.json mode after mirror: %v, want 0600", fi.Mode().Perm())
	}
}
