package traefikacme

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
)

// pinnedTime is when served chains are verified: the fixtures' leaves
// expire on 2027-02-27, and the tests must keep passing after that.
var pinnedTime = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

func pinnedClock() time.Time { return pinnedTime }

// testCA issues leaf certificates quickly: ECDSA P-256, with a few leaf keys
// shared by all leaves.
type testCA struct {
	key      *ecdsa.PrivateKey
	cert     *x509.Certificate
	pem      []byte
	pool     *x509.CertPool
	leafKeys []crypto.Signer
	keyPEMs  [][]byte
	serial   atomic.Int64
}

func newTestCA(tb testing.TB, leafKeys int) *testCA {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "traefik_acme_json test root"},
		NotBefore:             pinnedTime.AddDate(-1, 0, 0),
		NotAfter:              pinnedTime.AddDate(10, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	ca := &testCA{key: key, cert: cert, pool: x509.NewCertPool(),
		pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
	ca.pool.AddCert(cert)
	ca.serial.Store(1)
	for range leafKeys {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			tb.Fatal(err)
		}
		kder, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			tb.Fatal(err)
		}
		ca.leafKeys = append(ca.leafKeys, k)
		ca.keyPEMs = append(ca.keyPEMs, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
	}
	return ca
}

// useRSALeafKeys replaces ca's leaf keys with n RSA keys of bits bits,
// encoded as Traefik writes them (PKCS#1).
func (ca *testCA) useRSALeafKeys(tb testing.TB, n, bits int) {
	tb.Helper()
	ca.leafKeys, ca.keyPEMs = nil, nil
	for range n {
		k, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			tb.Fatal(err)
		}
		ca.leafKeys = append(ca.leafKeys, k)
		ca.keyPEMs = append(ca.keyPEMs, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
	}
}

// leafSpec describes a leaf for testCA.issue.
type leafSpec struct {
	cn       string    // subject common name, may be empty (as with Pebble)
	names    []string  // DNS names or IP addresses
	notAfter time.Time // zero: pinnedTime + 90 days
	key      int       // index of the leaf key
}

// issue returns an acme.json entry (leaf + CA chain, key) for spec.
func (ca *testCA) issue(tb testing.TB, spec leafSpec) *acmejson.Certificate {
	tb.Helper()
	notAfter := spec.notAfter
	if notAfter.IsZero() {
		notAfter = pinnedTime.AddDate(0, 0, 90)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(ca.serial.Add(1)),
		Subject:      pkix.Name{CommonName: spec.cn},
		NotBefore:    pinnedTime.AddDate(0, 0, -10),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range spec.names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	leafKey := ca.leafKeys[spec.key]
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, leafKey.Public(), ca.key)
	if err != nil {
		tb.Fatal(err)
	}
	chain := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), ca.pem...)
	c := &acmejson.Certificate{Certificate: chain, Key: ca.keyPEMs[spec.key], Store: acmejson.DefaultStore}
	if len(spec.names) > 0 {
		c.Domain = acmejson.Domain{Main: spec.names[0], SANs: spec.names[1:]}
	}
	return c
}

// leafOf returns the parsed leaf of an acme.json entry.
func leafOf(tb testing.TB, c *acmejson.Certificate) *x509.Certificate {
	tb.Helper()
	p, err := c.Parse()
	if err != nil {
		tb.Fatalf("parsing entry %v: %v", c.Names(), err)
	}
	return p.Chain[0]
}

// loadFixture reads testdata/acmejson/<name>.
func loadFixture(tb testing.TB, name string) acmejson.File {
	tb.Helper()
	f, err := acmejson.Load(filepath.Join("testdata", "acmejson", name), acmejson.LoadOptions{ReadOnly: true})
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

// fixtureRoots returns a pool holding testdata/acmejson/<name>.
func fixtureRoots(tb testing.TB, name string) *x509.CertPool {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "acmejson", name))
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		tb.Fatalf("no certificate in %s", name)
	}
	return pool
}

func marshalFile(tb testing.TB, f acmejson.File) []byte {
	tb.Helper()
	b, err := f.Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// cloneFile deep-copies f through its own encoding.
func cloneFile(tb testing.TB, f acmejson.File) acmejson.File {
	tb.Helper()
	out, _, err := acmejson.Parse(marshalFile(tb, f), "")
	if err != nil {
		tb.Fatal(err)
	}
	return out
}
