package traefikacme

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
	"github.com/ac075510/caddy-traefik-acme/migrate"
)

// cmdImportedStorage imports the rich fixture into a new file_system
// storage and returns the config path, the storage and the fixture.
func cmdImportedStorage(t *testing.T) (string, *certmagic.FileStorage, acmejson.File) {
	t.Helper()
	cfg, storage := cmdTestStorageConfig(t, "")
	src := cmdCopyFixture(t, cmdRichFixture, t.TempDir(), "acme.json")
	if out, code, err := runTraefikCmd(t, "import", src, "--ca", cmdRichCA, "--config", cfg); err != nil || code != 0 {
		t.Fatalf("import: code %d, %v\n%s", code, err, out)
	}
	return cfg, storage, cmdLoad(t, src)
}

// cmdEntriesBySet maps the sorted, joined names of each entry to it.
func cmdEntriesBySet(t *testing.T, certs []*acmejson.Certificate) map[string]*acmejson.Certificate {
	t.Helper()
	m := map[string]*acmejson.Certificate{}
	for _, c := range certs {
		names := acmejson.NormalizeNames(c.Names())
		slices.Sort(names)
		k := strings.Join(names, ",")
		if _, dup := m[k]; dup {
			t.Errorf("two entries for %s", k)
		}
		m[k] = c
	}
	return m
}

func cmdAssertSameCertificates(t *testing.T, got, want []*acmejson.Certificate) {
	t.Helper()
	g, w := cmdEntriesBySet(t, got), cmdEntriesBySet(t, want)
	if len(g) != len(w) {
		t.Errorf("%d certificates, want %d (%v vs %v)", len(g), len(w), sortedKeys(g), sortedKeys(w))
	}
	for k, wc := range w {
		gc, ok := g[k]
		if !ok {
			t.Errorf("no certificate for %s", k)
			continue
		}
		if !bytes.Equal(gc.Certificate, wc.Certificate) || !bytes.Equal(gc.Key, wc.Key) || gc.Store != wc.Store {
			t.Errorf("certificate for %s differs from the original", k)
		}
	}
}

func resolverJSON(t *testing.T, f acmejson.File, name string) string {
	t.Helper()
	b, err := acmejson.File{name: f[name]}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// cmdSitesConfig writes a Caddyfile using the storage rooted at root whose
// sites obtain the rich fixture's names through its resolvers, as Traefik's
// routers did: http-ec (HTTP-01) a, b, c and plain; tls-rsa (TLS-ALPN-01)
// tls1; dns-wild (DNS-01) wild and *.wild.
func cmdSitesConfig(t *testing.T, root string) string {
	t.Helper()
	body := `{
	storage file_system ` + root + `
	traefik_acme {
		entrypoint web :80
		resolver http-ec {
			ca_server ` + cmdRichCA + `
			email http-ec@example.org
			http_challenge web
		}
		resolver tls-rsa {
			ca_server ` + cmdRichCA + `
			email tls-rsa@example.org
			tls_challenge
		}
		resolver dns-wild {
			ca_server ` + cmdRichCA + `
			email dns-wild@example.org
			dns_challenge rfc2136
		}
	}
}
a.example.test, b.example.test, c.example.test, plain.example.test {
	tls {
		issuer traefik http-ec
	}
}
tls1.example.test {
	tls {
		issuer traefik tls-rsa
	}
}
wild.example.test, *.wild.example.test {
	tls {
		issuer traefik dns-wild
	}
}
`
	path := filepath.Join(t.TempDir(), "Caddyfile")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestExportCommand(t *testing.T) {
	cfg, storage, orig := cmdImportedStorage(t)
	sites := cmdSitesConfig(t, storage.Path)

	// Regression: export into a new file used to put every certificate of
	// the CA (another resolver's wildcard included) under the first
	// resolver exported. Each resolver gets exactly its own certificates,
	// by the config's sites, and its own account.
	t.Run("into a new file, by the config's sites", func(t *testing.T) {
		target := filepath.Join(t.TempDir(), "acme.json")
		for _, r := range []string{"http-ec", "tls-rsa", "dns-wild"} {
			out, code, err := runTraefikCmd(t, "export", target, "--resolver", r, "--config", sites)
			if err != nil || code != 0 {
				t.Fatalf("export %s: code %d, %v\n%s", r, code, err, out)
			}
			if r == "http-ec" {
				for _, want := range []string{"account: written (http-ec@example.org", "written    a.example.test,b.example.test,c.example.test",
					"another's  wild.example.test,*.wild.example.test (resolver dns-wild: its sites use the name in the config)", "2 written", "Other resolvers untouched"} {
					if !strings.Contains(out, want) {
						t.Errorf("output does not contain %q:\n%s", want, out)
					}
				}
			}
			assertNoKeyMaterial(t, out, orig)
		}
		got := cmdLoad(t, target)
		if names := got.ResolverNames(); !slices.Equal(names, []string{"dns-wild", "http-ec", "tls-rsa"}) {
			t.Fatalf("resolvers %v, want [dns-wild http-ec tls-rsa]", names)
		}
		for _, r := range got.ResolverNames() {
			cmdAssertSameCertificates(t, got[r].Certificates, orig[r].Certificates)
			a, want := got[r].Account, orig[r].Account
			if a == nil || a.Email != want.Email || a.Registration.URI != want.Registration.URI || !bytes.Equal(a.PrivateKey, want.PrivateKey) {
				t.Errorf("resolver %s: exported account is not its own", r)
			}
		}
		fi, err := os.Stat(target)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("mode %v, %v; want 0600", fi.Mode().Perm(), err)
		}
	})

	t.Run("a name no resolver owns is reported, never guessed", func(t *testing.T) {
		target := filepath.Join(t.TempDir(), "acme.json")
		out, code, err := runTraefikCmd(t, "export", target, "--resolver", "http-ec", "--ca", cmdRichCA, "--email", "http-ec@example.org", "--config", cfg)
		if err != nil || code != 0 {
			t.Fatalf("export: code %d, %v\n%s", code, err, out)
		}
		if got := cmdLoad(t, target)["http-ec"]; got == nil || len(got.Certificates) != 0 {
			t.Errorf("certificates were exported without an owner: %+v", got)
		}
		for _, want := range []string{"no owner   a.example.test,b.example.test,c.example.test: no resolver owns it", "no owner   wild.example.test,*.wild.example.test", "4 owned by no resolver"} {
			if !strings.Contains(out, want) {
				t.Errorf("output does not contain %q:\n%s", want, out)
			}
		}
	})

	t.Run("only some domains", func(t *testing.T) {
		target := filepath.Join(t.TempDir(), "acme.json")
		out, code, err := runTraefikCmd(t, "export", target, "-r", "http-ec", "--ca", cmdRichCA, "--config", cfg,
			"--domain", "B.example.test", "--domain", "plain.example.test")
		if err != nil || code != 0 {
			t.Fatalf("export: code %d, %v\n%s", code, err, out)
		}
		cmdAssertSameCertificates(t, cmdLoad(t, target)["http-ec"].Certificates, orig["http-ec"].Certificates)
	})

	t.Run("into an existing file", func(t *testing.T) {
		target := cmdCopyFixture(t, cmdRichFixture, t.TempDir(), "acme.json")
		f := cmdLoad(t, target)
		f["http-ec"].Certificates = f["http-ec"].Certificates[1:] // lose a,b,c
		if err := acmejson.Save(target, f); err != nil {
			t.Fatal(err)
		}
		before := cmdLoad(t, target)
		out, code, err := runTraefikCmd(t, "export", target, "--resolver", "http-ec", "--ca", cmdRichCA, "--email", "http-ec@example.org", "--config", sites)
		if err != nil || code != 0 {
			t.Fatalf("export: code %d, %v\n%s", code, err, out)
		}
		after := cmdLoad(t, target)
		for _, other := range []string{"dns-wild", "tls-rsa", "unused"} {
			if resolverJSON(t, after, other) != resolverJSON(t, before, other) {
				t.Errorf("resolver %s was changed", other)
			}
		}
		cmdAssertSameCertificates(t, after["http-ec"].Certificates, orig["http-ec"].Certificates)
		if !sameAccount(after["http-ec"].Account, orig["http-ec"].Account) {
			t.Error("account of http-ec changed")
		}
		for _, want := range []string{
			"written    a.example.test,b.example.test,c.example.test",
			"unchanged  plain.example.test",
			"another's  wild.example.test,*.wild.example.test (resolver dns-wild: its sites use the name in the config)",
			"another's  tls1.example.test (resolver tls-rsa: its sites use the name in the config)",
			"account: the file's kept",
			"1 written, 0 updated, 1 unchanged, 0 kept (newer in the file), 2 left to other resolvers",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("output does not contain %q:\n%s", want, out)
			}
		}
	})

	t.Run("round trip leaves the original file byte for byte", func(t *testing.T) {
		target := cmdCopyFixture(t, cmdRichFixture, t.TempDir(), "acme.json")
		want, err := os.ReadFile(target)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range []string{"dns-wild", "http-ec", "tls-rsa"} {
			out, code, err := runTraefikCmd(t, "export", target, "--resolver", r, "--ca", cmdRichCA, "--email", r+"@example.org", "--config", cfg)
			if err != nil || code != 0 {
				t.Fatalf("export %s: code %d, %v\n%s", r, code, err, out)
			}
			if !strings.Contains(out, "is up to date; nothing written") {
				t.Errorf("export %s: %s", r, out)
			}
		}
		got, err := os.ReadFile(target)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Error("the file changed")
		}
	})

	// Regression: without --ca, a config resolver or an account in the file,
	// the CA used to default to Let's Encrypt production.
	t.Run("CA unknown", func(t *testing.T) {
		target := filepath.Join(t.TempDir(), "acme.json")
		_, code, err := runTraefikCmd(t, "export", target, "--resolver", "le", "--config", cfg)
		if err == nil || code == 0 || !strings.Contains(err.Error(), `cannot tell the CA of resolver "le"`) || !strings.Contains(err.Error(), "--ca") {
			t.Fatalf("got code %d, %v; want an error asking for --ca", code, err)
		}
		if _, err := os.Stat(target); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("target was created: %v", err)
		}
	})

	t.Run("nothing stored for the CA", func(t *testing.T) {
		target := filepath.Join(t.TempDir(), "acme.json")
		_, code, err := runTraefikCmd(t, "export", target, "--resolver", "le", "--ca", "https://acme-v02.api.letsencrypt.org/directory", "--config", cfg)
		if err == nil || code == 0 || !strings.Contains(err.Error(), "acme-v02.api.letsencrypt.org-directory") || !strings.Contains(err.Error(), "--ca") {
			t.Fatalf("got code %d, %v; want an error naming the issuer", code, err)
		}
		if _, err := os.Stat(target); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("target was created: %v", err)
		}
	})

	t.Run("missing resolver flag", func(t *testing.T) {
		_, code, err := runTraefikCmd(t, "export", filepath.Join(t.TempDir(), "acme.json"), "--config", cfg)
		if err == nil || code == 0 || !strings.Contains(err.Error(), "--resolver is required") {
			t.Fatalf("got code %d, %v", code, err)
		}
	})

	_ = storage
}

// cmdStoreSelfSigned stores in storage, under issuerKey and name, a
// self-signed certificate for name expiring at notAfter, its key and
// certmagic metadata, as if Caddy had obtained it.
func cmdStoreSelfSigned(t *testing.T, storage certmagic.Storage, issuerKey, name string, notAfter time.Time) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{name},
		NotBefore:    notAfter.Add(-90 * 24 * time.Hour),
		NotAfter:     notAfter,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := certmagic.PEMEncodePrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	meta, err := json.Marshal(certmagic.CertificateResource{SANs: []string{name}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for k, v := range map[string][]byte{
		certmagic.StorageKeys.SiteCert(issuerKey, name):       pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		certmagic.StorageKeys.SitePrivateKey(issuerKey, name): keyPEM,
		certmagic.StorageKeys.SiteMeta(issuerKey, name):       meta,
	} {
		if err := storage.Store(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
}

func TestExportCommandRenewedNames(t *testing.T) {
	cfg, storage, orig := cmdImportedStorage(t)
	issuerKey := migrate.IssuerKeyFromCA(cmdRichCA)
	// Caddy renewed a.example.test on its own (one certificate per name) and
	// holds an older certificate for plain.example.test than the file.
	cmdStoreSelfSigned(t, storage, issuerKey, "a.example.test", time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC))
	cmdStoreSelfSigned(t, storage, issuerKey, "plain.example.test", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))

	target := cmdCopyFixture(t, cmdRichFixture, t.TempDir(), "acme.json")
	out, code, err := runTraefikCmd(t, "export", target, "--resolver", "http-ec", "--ca", cmdRichCA, "--email", "http-ec@example.org", "--config", cfg)
	if err != nil || code != 0 {
		t.Fatalf("export: code %d, %v\n%s", code, err, out)
	}
	for _, want := range []string{
		"written    a.example.test\n",
		"unchanged  b.example.test,c.example.test\n", // the file's a,b,c entry holds this certificate
		"kept       plain.example.test (the file's certificate expires later)",
		"1 written, 0 updated, 1 unchanged, 1 kept (newer in the file), 2 left to other resolvers, 0 owned by no resolver; 0 entries",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output does not contain %q:\n%s", want, out)
		}
	}
	got := cmdLoad(t, target)["http-ec"].Certificates
	if len(got) != 3 {
		t.Fatalf("%d entries, want the two original ones and one for a.example.test", len(got))
	}
	cmdAssertSameCertificates(t, got[:2], orig["http-ec"].Certificates)
	if p, err := got[2].Parse(); err != nil || got[2].Domain.Main != "a.example.test" || !p.Leaf.NotAfter.Equal(time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("new entry %+v, %v", got[2].Domain, err)
	}
}

func TestExportCommandECAccount(t *testing.T) {
	cfg, storage, orig := cmdImportedStorage(t)
	issuerKey := migrate.IssuerKeyFromCA(cmdRichCA)
	_, keyKey := migrate.AccountStorageKeys(issuerKey, "http-ec@example.org")
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pemKey, err := certmagic.PEMEncodePrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := storage.Store(t.Context(), keyKey, pemKey); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		desc     string
		existing bool
		recorded bool // the resolver's own account recorded at import
		want     string
	}{
		{"new file", false, true, "account: written (http-ec@example.org, its own, recorded when it was imported)"},
		{"new file, nothing recorded", false, false, "account: none written (account key is EC256; traefik can only read RSA account keys"},
		{"existing file", true, true, "account: the file's account kept; storage's not exported: account key is EC256"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			dir := t.TempDir()
			target := filepath.Join(dir, "acme.json")
			if tt.existing {
				target = cmdCopyFixture(t, cmdRichFixture, dir, "acme.json")
			}
			if !tt.recorded {
				if err := storage.Delete(t.Context(), migrate.ResolverAccountKey(issuerKey, "http-ec")); err != nil {
					t.Fatal(err)
				}
			}
			out, code, err := runTraefikCmd(t, "export", target, "--resolver", "http-ec", "--ca", cmdRichCA, "--email", "http-ec@example.org", "--config", cfg)
			if err != nil || code != 0 {
				t.Fatalf("export: code %d, %v\n%s", code, err, out)
			}
			if !strings.Contains(out, tt.want) {
				t.Errorf("output does not contain %q:\n%s", tt.want, out)
			}
			got := cmdLoad(t, target)["http-ec"]
			switch {
			case tt.recorded && !sameAccount(got.Account, orig["http-ec"].Account):
				t.Error("the resolver's own account was not kept")
			case !tt.recorded && got != nil && got.Account != nil:
				t.Error("an account was written")
			}
			if strings.Contains(out, "PRIVATE KEY") {
				t.Error("output contains key material")
			}
		})
	}
}
