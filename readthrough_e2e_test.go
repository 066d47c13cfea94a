package traefikacme

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/caddyserver/certmagic"
	"github.com/spf13/cobra"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
	"github.com/ac075510/caddy-traefik-acme/internal/acmetest"
	"github.com/ac075510/caddy-traefik-acme/migrate"
)

// treeListing lists every file and directory under roots: path, type,
// mode, size and SHA-256 of the content, one line each, sorted.
func treeListing(t *testing.T, roots ...string) []string {
	t.Helper()
	var out []string
	for _, root := range roots {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			fi, err := os.Lstat(p)
			if err != nil {
				return err
			}
			line := fmt.Sprintf("%s %v %d", p, fi.Mode(), fi.Size())
			if fi.Mode().IsRegular() {
				b, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				sum := sha256.Sum256(b)
				line += " " + hex.EncodeToString(sum[:])
			}
			out = append(out, line)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(out)
	return out
}

// runCaddyCommand runs the real Caddy command name (as registered by Caddy,
// the code behind `caddy validate` and `caddy adapt`) in this process.
func runCaddyCommand(t *testing.T, name string, args ...string) error {
	t.Helper()
	c, ok := caddycmd.Commands()[name]
	if !ok {
		t.Fatalf("caddy command %q not registered", name)
	}
	cmd := &cobra.Command{Use: name, SilenceUsage: true}
	c.CobraFunc(cmd)
	cmd.SetArgs(args)
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	return cmd.Execute()
}

// TestValidateAndAdaptChangeNothingOnDisk runs the real `caddy validate`
// and `caddy adapt --validate` on a Caddyfile whose resolvers use a Traefik
// v1 acme.json (which Caddy converts) and a group-readable v3 acme.json
// (which Caddy tightens to 0600), with a storage that already holds files:
// neither command changes a byte or a mode of the storage or the
// acme.json folder, and creates nothing there. Validation still reads the
// files: a broken acme.json fails it.
func TestValidateAndAdaptChangeNothingOnDisk(t *testing.T) {
	dir := t.TempDir()
	acmeDir := filepath.Join(dir, "traefik")
	storage := filepath.Join(dir, "storage")
	for _, d := range []string{acmeDir, filepath.Join(storage, "certificates", "other")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(storage, "certificates", "other", "kept.json"), []byte(`{"sans":["kept.test"]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	v1 := filepath.Join(acmeDir, "v1-acme.json")
	copyFile(t, filepath.Join("testdata", "commands", "traefik-v1-acme.json"), v1, 0o644)
	v3 := filepath.Join(acmeDir, "acme.json")
	copyFile(t, filepath.Join("testdata", "acmejson", "traefik-v3-acme.json"), v3, 0o640)

	caddyfile := filepath.Join(t.TempDir(), "Caddyfile")
	// No skip_install_trust: that option loads the pki app, whose local CA
	// plain Caddy writes into storage at provisioning (caddy validate too).
	text := fmt.Sprintf(`{
	admin off
	storage file_system %s
	http_port 0
	https_port 0
	default_bind 127.0.0.1
	traefik_acme {
		resolver old {
			email bench@example.org
			storage %s
			ca_server https://127.0.0.1:9/dir
			tls_challenge
		}
		resolver le-http {
			email bench@example.org
			storage %s
			ca_server https://127.0.0.1:9/dir
			tls_challenge
		}
	}
}
v1.example.test {
	tls {
		issuer traefik old
	}
}
h1.example.test {
	tls {
		issuer traefik le-http
	}
}
`, storage, v1, v3)
	if err := os.WriteFile(caddyfile, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}

	before := treeListing(t, storage, acmeDir)
	if err := runCaddyCommand(t, "validate", "--config", caddyfile, "--adapter", "caddyfile"); err != nil {
		t.Fatalf("caddy validate: %v", err)
	}
	if after := treeListing(t, storage, acmeDir); !slices.Equal(before, after) {
		t.Errorf("caddy validate changed the disk:\nbefore:\n%s\nafter:\n%s", strings.Join(before, "\n"), strings.Join(after, "\n"))
	}
	if err := runCaddyCommand(t, "adapt", "--config", caddyfile, "--adapter", "caddyfile", "--validate"); err != nil {
		t.Fatalf("caddy adapt --validate: %v", err)
	}
	if after := treeListing(t, storage, acmeDir); !slices.Equal(before, after) {
		t.Errorf("caddy adapt changed the disk:\nbefore:\n%s\nafter:\n%s", strings.Join(before, "\n"), strings.Join(after, "\n"))
	}

	// The files are read all the same: a broken one fails validation, and
	// is not touched either.
	if err := os.WriteFile(v3, []byte(`{"le-http": [`), 0o640); err != nil {
		t.Fatal(err)
	}
	before = treeListing(t, storage, acmeDir)
	if err := runCaddyCommand(t, "validate", "--config", caddyfile, "--adapter", "caddyfile"); err == nil {
		t.Error("caddy validate accepted a broken acme.json")
	}
	if after := treeListing(t, storage, acmeDir); !slices.Equal(before, after) {
		t.Errorf("a failed caddy validate changed the disk:\nbefore:\n%s\nafter:\n%s", strings.Join(before, "\n"), strings.Join(after, "\n"))
	}
}

// testIssuer issues certificates from a throwaway root, for acme.json
// entries whose dates the test chooses.
type testIssuer struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
	pool *x509.CertPool
}

func newTestIssuer(t *testing.T) *testIssuer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "read-through test root"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testIssuer{key: key, cert: cert, pool: pool}
}

// entry returns an acme.json entry for name valid until notAfter.
func (ti *testIssuer) entry(t *testing.T, name string, serial int64, notAfter time.Time) *acmejson.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ti.cert, key.Public(), ti.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return &acmejson.Certificate{
		Domain:      acmejson.Domain{Main: name},
		Certificate: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		Key:         pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		Store:       acmejson.DefaultStore,
	}
}

// storedSiteFiles lists the certificate and key files under a file-system
// storage's certificates folder.
func storedSiteFiles(t *testing.T, storage string) []string {
	t.Helper()
	var out []string
	root := filepath.Join(storage, "certificates")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if strings.HasSuffix(p, ".crt") || strings.HasSuffix(p, ".key") {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestReadThroughStarts starts Caddy three times on one acme.json, as a
// migration does, checking the guarantees of reading it through instead of
// importing it:
//  1. every name is served from the file with no order and no new account
//     at the CA, and no certificate or key is written to Caddy's storage;
//  2. Traefik renews a certificate in the file meanwhile: the next start
//     serves the renewed one;
//  3. Caddy's storage then holds a certificate for the name that expires
//     later (a renewal this or another instance stored): it is served, never
//     the file's older one.
func TestReadThroughStarts(t *testing.T) {
	ca := acmetest.Start(t)
	env := newCaddyEnv(t, ca)
	acmeFile := filepath.Join(t.TempDir(), "acme.json")
	env.Extra["acme"] = acmeFile
	ti := newTestIssuer(t)
	names := []string{"a.read.test", "b.read.test", "c.read.test"}
	res := &acmejson.Resolver{}
	for i, n := range names {
		res.Certificates = append(res.Certificates, ti.entry(t, n, int64(10+i), time.Now().AddDate(0, 0, 60)))
	}
	if err := acmejson.Save(acmeFile, acmejson.File{"le": res}); err != nil {
		t.Fatal(err)
	}
	caddyfile := `{
{{template "preamble" .}}
	traefik_acme {
		resolver le {
			email bench@example.org
			ca_server {{.Dir}}
			ca_certificates {{.CAPEM}}
			storage {{index .Extra "acme"}}
			key_type EC256
			tls_challenge
		}
	}
}
a.read.test, b.read.test, c.read.test {
	tls {
		issuer traefik le
	}
}
`
	serial := func(name string) int64 {
		t.Helper()
		chain := env.waitCert(t, name, ti.pool, 30*time.Second, nil)
		return chain[0].SerialNumber.Int64()
	}

	// 1. Served from the file; nothing imported.
	env.startCaddy(t, caddyfile)
	for i, n := range names {
		if got := serial(n); got != int64(10+i) {
			t.Errorf("%s: serial %d, want the file's %d", n, got, 10+i)
		}
	}
	if n, a := ca.Orders(), ca.NewAccounts(); n != 0 || a != 0 {
		t.Errorf("CA saw %d orders and %d new accounts, want 0 and 0", n, a)
	}
	if got := storedSiteFiles(t, env.Storage); len(got) != 0 {
		t.Errorf("start wrote certificates or keys into storage: %v", got)
	}
	env.stopCaddy(t)

	// 2. Traefik renewed b in the file.
	res.Certificates[1] = ti.entry(t, "b.read.test", 21, time.Now().AddDate(0, 0, 80))
	if err := acmejson.Save(acmeFile, acmejson.File{"le": res}); err != nil {
		t.Fatal(err)
	}
	env.startCaddy(t, caddyfile)
	if got := serial("b.read.test"); got != 21 {
		t.Errorf("after Traefik renewed it: serial %d, want 21", got)
	}
	env.stopCaddy(t)

	// 3. Storage holds a later certificate for c (stored as certmagic
	// stores a renewal, here by an offline import of it).
	renewed := &acmejson.Resolver{Certificates: []*acmejson.Certificate{ti.entry(t, "c.read.test", 31, time.Now().AddDate(0, 0, 85))}}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if _, err := migrate.Import(ctx, &certmagic.FileStorage{Path: env.Storage}, renewed, migrate.ImportOptions{CA: ca.DirectoryURL()}); err != nil {
		t.Fatal(err)
	}
	env.startCaddy(t, caddyfile)
	if got := serial("c.read.test"); got != 31 {
		t.Errorf("with a later certificate in storage: serial %d, want storage's 31", got)
	}
	if got := serial("a.read.test"); got != 10 {
		t.Errorf("a.read.test: serial %d, want the file's 10", got)
	}
	if n, a := ca.Orders(), ca.NewAccounts(); n != 0 || a != 0 {
		t.Errorf("CA saw %d orders and %d new accounts, want 0 and 0", n, a)
	}
}
