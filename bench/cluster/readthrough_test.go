package cluster

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"text/template"
	"time"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
	"github.com/ac075510/caddy-traefik-acme/internal/acmetest"
)

// dueCertificate returns an acme.json entry for name from a throwaway root
// (and that root's pool), due for renewal: 80 of its 85 days have passed.
func dueCertificate(t *testing.T, name string) (*acmejson.Certificate, *x509.CertPool) {
	t.Helper()
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	rootTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "traefik-written root"},
		NotBefore: now.AddDate(0, 0, -100), NotAfter: now.AddDate(1, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	if err != nil {
		t.Fatal(err)
	}
	root, err := x509.ParseCertificate(rootDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(77), DNSNames: []string{name},
		NotBefore: now.AddDate(0, 0, -80), NotAfter: now.AddDate(0, 0, 5),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, root, key.Public(), rootKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(root)
	return &acmejson.Certificate{
		Domain:      acmejson.Domain{Main: name},
		Certificate: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		Key:         pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		Store:       acmejson.DefaultStore,
	}, pool
}

// TestClusterRenewalWinsOverOlderFile: two instances on one shared storage
// (Redis, and the file system), each with its own copy of the same
// Traefik acme.json (as when the file was copied to every node), whose
// certificate for a name is due for renewal. The first instance serves the
// file's certificate, renews it once at the CA and stores the renewal; the
// second, started afterwards with its copy still holding the older
// certificate, serves the renewal from the shared storage and orders
// nothing: the file read through never shadows a later certificate in
// storage.
func TestClusterRenewalWinsOverOlderFile(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Fatalf("the cluster test needs linux (redis-server); GOOS=%s", runtime.GOOS)
	}
	bin := caddyBinary(t)
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			ca := acmetest.Start(t)
			const name = "due.renew.cluster.test"
			entry, fileRoots := dueCertificate(t, name)
			storage := be.storage(t, "renew")
			dir := t.TempDir()
			home := filepath.Join(dir, "home")
			env := append(os.Environ(), "HOME="+home, "XDG_DATA_HOME="+filepath.Join(home, "data"), "XDG_CONFIG_HOME="+filepath.Join(home, "config"))
			var insts []*instance
			for i := range 2 {
				acmeFile := filepath.Join(dir, fmt.Sprintf("acme.%d.json", i))
				if err := acmejson.Save(acmeFile, acmejson.File{"le": {Certificates: []*acmejson.Certificate{entry}}}); err != nil {
					t.Fatal(err)
				}
				in := &instance{
					idx:       i,
					caddyfile: filepath.Join(dir, fmt.Sprintf("Caddyfile.%d", i)),
					log:       filepath.Join(dir, fmt.Sprintf("caddy.%d.log", i)),
					httpsPort: freePort(t),
					env:       env,
				}
				var buf bytes.Buffer
				err := template.Must(template.New("").Parse(caddyfileTmpl)).Execute(&buf, map[string]any{
					"Storage": storage, "HTTPPort": freePort(t), "HTTPSPort": in.httpsPort, "Log": in.log,
					"CA": ca, "AcmeJSON": acmeFile, "Sites": name,
				})
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(in.caddyfile, buf.Bytes(), 0o600); err != nil {
					t.Fatal(err)
				}
				insts = append(insts, in)
			}
			t.Cleanup(func() {
				for _, in := range insts {
					in.kill()
					if t.Failed() {
						t.Logf("instance %d log (tail):\n%s", in.idx, tail(in.log, 20))
					}
				}
			})

			// The first instance serves the file's certificate, then renews it.
			insts[0].start(t, bin)
			waitFor(t, "instance 0 to serve the file's certificate or its renewal", serveTimeout, func() bool {
				_, err1 := insts[0].handshake(name, fileRoots)
				_, err2 := insts[0].handshake(name, ca.RootPool())
				return err1 == nil || err2 == nil
			})
			var renewed *x509.Certificate
			waitFor(t, "instance 0 to serve the renewal", serveTimeout, func() bool {
				var err error
				renewed, err = insts[0].handshake(name, ca.RootPool())
				return err == nil
			})
			if got := ca.OrdersFor(name); got != 1 {
				t.Fatalf("%s ordered %d times, want 1 (the renewal)", name, got)
			}

			// The second instance's acme.json still holds the older one.
			f, err := acmejson.Load(filepath.Join(dir, "acme.1.json"))
			if err != nil || !bytes.Equal(f["le"].Certificates[0].Certificate, entry.Certificate) {
				t.Fatalf("instance 1's acme.json changed (%v)", err)
			}
			insts[1].start(t, bin)
			var served *x509.Certificate
			waitFor(t, "instance 1 to serve the renewal", serveTimeout, func() bool {
				var err error
				served, err = insts[1].handshake(name, ca.RootPool())
				if err != nil {
					// The file's older certificate must never be what it serves.
					if _, ferr := insts[1].handshake(name, fileRoots); ferr == nil {
						t.Fatalf("instance 1 serves the file's older certificate although storage holds the renewal")
					}
				}
				return err == nil
			})
			if !served.Equal(renewed) {
				t.Errorf("instance 1 serves serial %s, instance 0 stored %s", served.SerialNumber, renewed.SerialNumber)
			}
			if got := ca.OrdersFor(name); got != 1 {
				t.Errorf("%s ordered %d times, want 1", name, got)
			}
		})
	}
}
