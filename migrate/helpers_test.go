package migrate

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io/fs"
	"math/big"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
	traefikfixtures "github.com/ac075510/caddy-traefik-acme/internal/fixtures"
)

// pinnedNow is inside the validity period of every fixture leaf
// (2026-11-29 .. 2027-02-27).
var pinnedNow = time.Date(2026, 12, 15, 0, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return pinnedNow }

// fixture describes an acme.json written by real Traefik against Pebble.
type fixture struct {
	file string
	ca   string // the resolvers' caServer
}

var fixtures = []fixture{
	{"traefik-v2-acme.json", "https://127.0.0.1:14000/dir"},
	{"traefik-v3-acme.json", "https://127.0.0.1:14000/dir"},
	{"traefik-v3.6.21-rich-acme.json", "https://127.0.0.1:14300/dir"},
}

func loadFixture(t testing.TB, name string) acmejson.File {
	t.Helper()
	data, err := traefikfixtures.Bytes(name)
	if err != nil {
		t.Fatal(err)
	}
	f, _, err := acmejson.Parse(data, "")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func newStorage(t testing.TB) *certmagic.FileStorage {
	t.Helper()
	return &certmagic.FileStorage{Path: t.TempDir()}
}

// storedFiles lists the files under a FileStorage root as storage keys,
// ignoring lock files.
func storedFiles(t testing.TB, fsys *certmagic.FileStorage) []string {
	t.Helper()
	var keys []string
	err := filepath.WalkDir(fsys.Path, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(fsys.Path, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if !strings.HasPrefix(rel, "locks/") {
			keys = append(keys, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	return keys
}

func mustLoad(t testing.TB, s certmagic.Storage, key string) []byte {
	t.Helper()
	b, err := s.Load(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testCA issues certificates for tests that need names or dates the
// fixtures do not have.
type testCA struct {
	key  crypto.Signer
	cert *x509.Certificate
	pem  []byte
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "migrate test CA"},
		NotBefore:             pinnedNow.AddDate(-1, 0, 0),
		NotAfter:              pinnedNow.AddDate(5, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{key: key, cert: cert, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// leafKey returns a new P-256 key and its SEC1 PEM.
func leafKey(t testing.TB) (crypto.Signer, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
}

// issue returns a PEM chain (leaf, CA) for names, for key, valid until
// notAfter.
func (ca *testCA) issue(t testing.TB, key crypto.Signer, notAfter time.Time, serial int64, names ...string) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		DNSNames:     names,
		NotBefore:    notAfter.AddDate(0, 0, -90),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), ca.pem...)
}

// newCertmagic returns a certmagic Config on storage whose only issuer is
// an ACME issuer for ca and email, like Caddy's; the cache is stopped when
// the test ends.
func newCertmagic(t testing.TB, storage certmagic.Storage, ca, email string) (*certmagic.Config, *certmagic.ACMEIssuer) {
	t.Helper()
	var cfg *certmagic.Config
	cache := certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) { return cfg, nil },
	})
	t.Cleanup(cache.Stop)
	cfg = certmagic.New(cache, certmagic.Config{Storage: storage})
	iss := certmagic.NewACMEIssuer(cfg, certmagic.ACMEIssuer{CA: ca, Email: email, Agreed: true})
	cfg.Issuers = []certmagic.Issuer{iss}
	return cfg, iss
}
