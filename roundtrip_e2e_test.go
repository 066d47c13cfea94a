package traefikacme

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mholt/acmez/v3/acme"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
	"github.com/ac075510/caddy-traefik-acme/internal/acmetest"
)

// roundTripResolvers are the three resolvers of the round trip, with the
// names their certificates hold in the Traefik file and the name each one
// obtains through Caddy.
var roundTripResolvers = []struct {
	name     string
	traefik  []string // the certificate Traefik obtained (main, then sans)
	newName  string   // obtained by Caddy
	wildcard bool
}{
	{name: "le-dns", traefik: []string{"w.example.test", "*.w.example.test"}, newName: "*.v.example.test", wildcard: true},
	{name: "le-http", traefik: []string{"h1.example.test"}, newName: "h2.example.test"},
	{name: "le-tls", traefik: []string{"t1.example.test"}, newName: "t2.example.test"},
}

const roundTripEmail = "ops@example.test"

// traefikRoundTripFile builds the acme.json Traefik v3 writes for three
// resolvers (HTTP-01, TLS-ALPN-01 and a DNS-01 wildcard) configured with the
// same email and CA: Traefik registers one account per resolver (an RSA key,
// PKCS#1 DER; 2048 bits here to keep the test fast, Traefik uses 4096), so
// the file holds three accounts under one email at one CA, each registered
// at the test CA for real. Each resolver holds one certificate (an EC P-256
// key as keyType EC256 gives, PKCS#8 PEM as lego v4.35 writes it; the
// chain is signed by a root of the test's own, returned, since certificates
// Traefik obtained elsewhere are served without asking the CA).
func traefikRoundTripFile(t *testing.T, ca *acmetest.CA, path string) (acmejson.File, *x509.CertPool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	client := &acme.Client{
		Directory:  ca.DirectoryURL(),
		HTTPClient: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.ServerCertPool()}}},
	}
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rootTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "round trip test root"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(90 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := x509.ParseCertificate(rootDER)
	pool := x509.NewCertPool()
	pool.AddCert(root)

	f := acmejson.File{}
	for i, r := range roundTripResolvers {
		accountKey, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		acct, err := client.NewAccount(ctx, acme.Account{
			Contact:              []string{"mailto:" + roundTripEmail},
			TermsOfServiceAgreed: true,
			PrivateKey:           accountKey,
		})
		if err != nil {
			t.Fatalf("registering the account of %s: %v", r.name, err)
		}
		// lego's registration body: status, contact, orders.
		body, err := json.Marshal(map[string]any{"status": acct.Status, "contact": acct.Contact, "orders": acct.Orders})
		if err != nil {
			t.Fatal(err)
		}
		leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		leafTmpl := &x509.Certificate{
			SerialNumber: big.NewInt(int64(100 + i)),
			Subject:      pkix.Name{CommonName: r.traefik[0]},
			DNSNames:     r.traefik,
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(60 * 24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
		leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, root, leafKey.Public(), rootKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(leafKey)
		if err != nil {
			t.Fatal(err)
		}
		res := f.Ensure(r.name)
		res.Account = &acmejson.Account{
			Email:        roundTripEmail,
			Registration: &acmejson.Registration{Body: body, URI: acct.Location},
			PrivateKey:   x509.MarshalPKCS1PrivateKey(accountKey),
		}
		res.Upsert(r.traefik,
			append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rootDER})...),
			pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	}
	if err := acmejson.Save(path, f); err != nil {
		t.Fatal(err)
	}
	return f, pool
}

// traefikStoredData is how Traefik v3 declares acme.json
// (pkg/provider/acme: map[string]*StoredData, decoded with encoding/json).
type traefikStoredData struct {
	Account *struct {
		Email        string
		Registration *struct {
			Body acme.Account `json:"body"`
			URI  string       `json:"uri"`
		}
		PrivateKey []byte
		KeyType    string
	}
	Certificates []*struct {
		Domain struct {
			Main string   `json:"main"`
			SANs []string `json:"sans"`
		} `json:"domain"`
		Certificate []byte `json:"certificate"`
		Key         []byte `json:"key"`
		Store       string
	}
}

// checkRoundTripFile reads the acme.json at path as Traefik does and checks
// that every resolver holds exactly its own names (the certificate Traefik
// had and the one Caddy obtained through it), as usable key pairs, and its
// own account (the one Traefik registered for it, at the CA's host).
func checkRoundTripFile(t *testing.T, path string, orig acmejson.File, caDir string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var stored map[string]*traefikStoredData
	if err := json.Unmarshal(data, &stored); err != nil {
		t.Fatalf("%s: traefik cannot decode it: %v", path, err)
	}
	if _, err := acmejson.Load(path); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	caURL, _ := url.Parse(caDir)
	var resolvers []string
	for name := range stored {
		resolvers = append(resolvers, name)
	}
	slices.Sort(resolvers)
	if want := []string{"le-dns", "le-http", "le-tls"}; !slices.Equal(resolvers, want) {
		t.Errorf("%s: resolvers %v, want %v", path, resolvers, want)
	}
	for _, r := range roundTripResolvers {
		sd := stored[r.name]
		if sd == nil {
			continue
		}
		var names []string
		for _, c := range sd.Certificates {
			names = append(names, c.Domain.Main)
			names = append(names, c.Domain.SANs...)
			pair, err := tls.X509KeyPair(c.Certificate, c.Key)
			if err != nil {
				t.Errorf("%s: %s %s: traefik cannot load the pair: %v", path, r.name, c.Domain.Main, err)
				continue
			}
			leaf, _ := x509.ParseCertificate(pair.Certificate[0])
			for _, n := range append([]string{c.Domain.Main}, c.Domain.SANs...) {
				if err := leaf.VerifyHostname(strings.Replace(n, "*", "x", 1)); err != nil {
					t.Errorf("%s: %s: the certificate does not cover %s", path, r.name, n)
				}
			}
			if c.Store != "default" {
				t.Errorf("%s: %s %s: Store %q", path, r.name, c.Domain.Main, c.Store)
			}
		}
		slices.Sort(names)
		want := append(slices.Clone(r.traefik), r.newName)
		slices.Sort(want)
		if !slices.Equal(names, want) {
			t.Errorf("%s: resolver %s holds %v, want exactly %v", path, r.name, names, want)
		}
		a := sd.Account
		if a == nil || a.Registration == nil {
			t.Errorf("%s: resolver %s has no account", path, r.name)
			continue
		}
		own := orig[r.name].Account
		if a.Registration.URI != own.Registration.URI || string(a.PrivateKey) != string(own.PrivateKey) || a.Email != roundTripEmail {
			t.Errorf("%s: resolver %s holds account %s (%s), want its own %s", path, r.name, a.Registration.URI, a.Email, own.Registration.URI)
		}
		if _, err := x509.ParsePKCS1PrivateKey(a.PrivateKey); err != nil {
			t.Errorf("%s: resolver %s: traefik cannot read the account key: %v", path, r.name, err)
		}
		if u, err := url.Parse(a.Registration.URI); err != nil || u.Hostname() != caURL.Hostname() {
			t.Errorf("%s: resolver %s: account uri %q is not at the CA's host", path, r.name, a.Registration.URI)
		}
		if a.Registration.Body.Status != "valid" {
			t.Errorf("%s: resolver %s: account status %q", path, r.name, a.Registration.Body.Status)
		}
	}
}

// TestRoundTripTraefikCaddyTraefik migrates a Traefik acme.json with three
// resolvers (HTTP-01, TLS-ALPN-01, DNS-01 wildcard) and one email to Caddy
// and back: Caddy imports it and serves every certificate with zero orders,
// obtains one new name per resolver from the CA, and the export, into the
// original file and into an empty one, gives every resolver exactly its
// own names and its own account, readable as Traefik reads the file.
func TestRoundTripTraefikCaddyTraefik(t *testing.T) {
	ca := acmetest.Start(t)
	env := newCaddyEnv(t, ca)
	dir := t.TempDir()
	acmeFile := filepath.Join(dir, "acme.json")
	orig, roots := traefikRoundTripFile(t, ca, acmeFile)
	accountsBefore := ca.NewAccounts()
	env.Extra["acme"] = acmeFile
	env.Extra["tsig_key"] = ca.TSIGKeyName()
	env.Extra["tsig_secret"] = ca.TSIGSecret()
	env.Extra["dns"] = ca.DNSAddr()

	caddyfile := func(withNew bool) string {
		extra := map[string]string{}
		if withNew {
			for _, r := range roundTripResolvers {
				extra[r.name] = ", " + r.newName
			}
		}
		return `{
{{template "preamble" .}}
	traefik_acme {
		entrypoint web 127.0.0.1:{{.HTTPPort}}
		resolver le-http {
			email ` + roundTripEmail + `
			ca_server {{.Dir}}
			ca_certificates {{.CAPEM}}
			storage {{index .Extra "acme"}}
			key_type EC256
			http_challenge web
		}
		resolver le-tls {
			email ` + roundTripEmail + `
			ca_server {{.Dir}}
			ca_certificates {{.CAPEM}}
			storage {{index .Extra "acme"}}
			key_type EC256
			tls_challenge
		}
		resolver le-dns {
			email ` + roundTripEmail + `
			ca_server {{.Dir}}
			ca_certificates {{.CAPEM}}
			storage {{index .Extra "acme"}}
			key_type EC256
			dns_challenge rfc2136 {
				resolvers {{index .Extra "dns"}}
				env RFC2136_NAMESERVER {{index .Extra "dns"}}
				env RFC2136_TSIG_KEY {{index .Extra "tsig_key"}}
				env RFC2136_TSIG_SECRET {{index .Extra "tsig_secret"}}
				env RFC2136_TSIG_ALGORITHM hmac-sha256.
			}
		}
	}
}
h1.example.test` + extra["le-http"] + ` {
	tls {
		issuer traefik le-http
	}
}
t1.example.test` + extra["le-tls"] + ` {
	tls {
		issuer traefik le-tls
	}
}
w.example.test, *.w.example.test` + extra["le-dns"] + ` {
	tls {
		issuer traefik le-dns
	}
}
`
	}

	// 1. Import at start and serve Traefik's certificates: no order.
	env.startCaddy(t, caddyfile(false))
	for _, r := range roundTripResolvers {
		for _, n := range r.traefik {
			sni := strings.Replace(n, "*", "x", 1)
			waitFor(t, sni+" served from the imported acme.json", obtainTimeout, func() bool {
				_, err := env.handshake(sni, roots)
				return err == nil
			})
		}
	}
	if n := ca.Orders(); n != 0 {
		t.Fatalf("the CA saw %d orders for certificates acme.json holds", n)
	}
	env.stopCaddy(t)

	// 2. One new name per resolver, through its own challenge.
	env.startCaddy(t, caddyfile(true))
	for _, r := range roundTripResolvers {
		env.waitCert(t, strings.Replace(r.newName, "*", "x", 1), ca.RootPool(), obtainTimeout, nil)
	}
	waitFor(t, "the new names mirrored into acme.json", obtainTimeout, func() bool {
		f, err := acmejson.Load(acmeFile)
		if err != nil {
			return false
		}
		for _, r := range roundTripResolvers {
			if f[r.name] == nil || f[r.name].Find(r.newName) < 0 {
				return false
			}
		}
		return true
	})
	env.stopCaddy(t)
	for _, r := range roundTripResolvers {
		for _, n := range r.traefik {
			if got := ca.OrdersFor(n); got != 0 {
				t.Errorf("%s was ordered %d times; acme.json holds it", n, got)
			}
		}
	}
	if n := ca.Orders(); n != len(roundTripResolvers) {
		t.Errorf("the CA saw %d orders (%v), want one per resolver", n, ca.OrderedNames())
	}
	if n := ca.NewAccounts() - accountsBefore; n != 0 {
		t.Errorf("Caddy registered %d new accounts; acme.json's were imported", n)
	}
	checkRoundTripFile(t, acmeFile, orig, ca.DirectoryURL())

	// 3. Export, as the migration back to Traefik does: into the original
	// file, and into an empty one, one resolver at a time.
	cfgPath := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(cfgPath, []byte(env.render(t, caddyfile(true))), 0o600); err != nil {
		t.Fatal(err)
	}
	emptyFile := filepath.Join(dir, "new", "acme.json")
	for _, target := range []string{acmeFile, emptyFile} {
		for _, r := range roundTripResolvers {
			out, code, err := runTraefikCmd(t, "export", target, "--resolver", r.name, "--config", cfgPath)
			if err != nil || code != 0 {
				t.Fatalf("export %s into %s: exit %d, %v\n%s", r.name, target, code, err, out)
			}
			t.Logf("export %s into %s:\n%s", r.name, target, out)
		}
		checkRoundTripFile(t, target, orig, ca.DirectoryURL())
	}
}
