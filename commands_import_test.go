package traefikacme

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/certmagic"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
	"github.com/ac075510/caddy-traefik-acme/migrate"
)

// cmdAssertImported checks that storage holds certmagic's three files for
// every requested name of every certificate of f, under issuerKey, with the
// certificate bytes of the file, and each account.
func cmdAssertImported(t *testing.T, storage certmagic.Storage, issuerKey string, f acmejson.File, resolvers ...string) {
	t.Helper()
	ctx := t.Context()
	for _, name := range resolvers {
		r := f[name]
		for _, c := range r.Certificates {
			for _, n := range acmejson.NormalizeNames(c.Names()) {
				for _, key := range []string{
					certmagic.StorageKeys.SiteCert(issuerKey, n),
					certmagic.StorageKeys.SitePrivateKey(issuerKey, n),
					certmagic.StorageKeys.SiteMeta(issuerKey, n),
				} {
					if !storage.Exists(ctx, key) {
						t.Errorf("%s: %s is not in storage", name, key)
					}
				}
				got, err := storage.Load(ctx, certmagic.StorageKeys.SiteCert(issuerKey, n))
				if err == nil && !bytes.Equal(got, c.Certificate) {
					t.Errorf("%s: stored certificate of %s differs from the file's", name, n)
				}
			}
		}
		if r.Account != nil {
			reg, key := migrate.AccountStorageKeys(issuerKey, r.Account.Email)
			if !storage.Exists(ctx, reg) || !storage.Exists(ctx, key) {
				t.Errorf("%s: account %s is not in storage", name, reg)
			}
		}
	}
}

func TestImportCommand(t *testing.T) {
	cfg, storage := cmdTestStorageConfig(t, "")
	src := cmdCopyFixture(t, cmdRichFixture, t.TempDir(), "acme.json")
	f := cmdLoad(t, src)
	issuerKey := migrate.IssuerKeyFromCA(cmdRichCA)

	out, code, err := runTraefikCmd(t, "import", src, "--ca", cmdRichCA, "--config", cfg)
	if err != nil || code != 0 {
		t.Fatalf("import: code %d, %v\n%s", code, err, out)
	}
	cmdAssertImported(t, storage, issuerKey, f, "dns-wild", "http-ec", "tls-rsa")
	for _, want := range []string{
		"into " + storage.String(),
		"dns-wild: issuer 127.0.0.1:14300-dir: 2 names imported (0 expired), 0 unchanged",
		"http-ec: issuer 127.0.0.1:14300-dir: 4 names imported (0 expired), 0 unchanged",
		"tls-rsa: issuer 127.0.0.1:14300-dir: 1 name imported (0 expired), 0 unchanged",
		"unused: issuer 127.0.0.1:14300-dir: 0 names imported",
		"http-ec: CA " + cmdRichCA + " (--ca), email http-ec@example.org (the account's, from the file)",
		"http-ec: importing 2 certificate entries", // progress (a terminal in this test)
		"Done: 3 resolvers imported, 1 unchanged;", // unused has nothing to import
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output does not contain %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "account imported") != 3 {
		t.Errorf("want 3 accounts imported:\n%s", out)
	}
	assertNoKeyMaterial(t, out, f)

	// A second import changes nothing.
	out, code, err = runTraefikCmd(t, "import", src, "--ca", cmdRichCA, "--config", cfg)
	if err != nil || code != 0 {
		t.Fatalf("second import: code %d, %v\n%s", code, err, out)
	}
	for _, want := range []string{
		"dns-wild: issuer 127.0.0.1:14300-dir: 0 names imported (0 expired), 2 unchanged",
		"http-ec: issuer 127.0.0.1:14300-dir: 0 names imported (0 expired), 4 unchanged",
		"tls-rsa: issuer 127.0.0.1:14300-dir: 0 names imported (0 expired), 1 unchanged",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("second import: output does not contain %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "account unchanged") != 3 {
		t.Errorf("second import: want 3 accounts unchanged:\n%s", out)
	}
	if !strings.Contains(out, "Done: nothing changed (4 resolvers already in storage)") || strings.Contains(out, "resolvers imported") {
		t.Errorf("second import claims to have imported something:\n%s", out)
	}
}

func TestImportCommandConfigResolvers(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "storage")
	caddyfile := filepath.Join(dir, "Caddyfile")
	body := "{\n\tstorage file_system " + root + "\n\ttraefik_acme {\n\t\tresolver le-dns {\n\t\t\tca_server " + cmdV3CA +
		"\n\t\t\temail Other@Example.org\n\t\t\tstorage /nonexistent/acme.json\n\t\t}\n\t}\n}\n"
	if err := os.WriteFile(caddyfile, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	src := cmdCopyFixture(t, cmdV3Fixture, dir, "acme.json")
	storage := &certmagic.FileStorage{Path: root}

	// le-http is not in the config and its account lives at a private CA
	// (Pebble) whose directory URL the file does not tell: it is refused
	// (it used to be imported as Let's Encrypt production's), le-dns is
	// imported with the config's CA.
	out, code, err := runTraefikCmd(t, "import", src, "--config", caddyfile, "--resolver", "le-http", "-r", "le-dns")
	if err == nil || code == 0 {
		t.Fatalf("import: code %d, %v; want le-http refused\n%s", code, err, out)
	}
	for _, want := range []string{
		"(2 resolvers)",
		`le-dns: CA ` + cmdV3CA + ` (resolver "le-dns" of ` + caddyfile + `), email Other@Example.org (resolver "le-dns" of`,
		`le-http: FAILED: cannot tell the CA of resolver "le-http" (` + caddyfile + ` defines no resolver "le-http")`,
		"registered at 127.0.0.1:14000, whose directory URL is not known; give its ACME directory URL with --ca",
		"le-dns: issuer 127.0.0.1:14000-dir: 1 name imported",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output does not contain %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "le-tls") {
		t.Errorf("le-tls was not asked for:\n%s", out)
	}
	ctx := t.Context()
	if !storage.Exists(ctx, certmagic.StorageKeys.SiteCert(migrate.IssuerKeyFromCA(cmdV3CA), "d1.example.test")) {
		t.Error("le-dns's certificate is not under the issuer key of its CA")
	}
	if keys, _ := storage.List(ctx, "certificates", true); slices.ContainsFunc(keys, func(k string) bool { return strings.Contains(k, "h1.example.test") }) {
		t.Errorf("le-http's certificate was imported without a CA: %v", keys)
	}
	if reg, _ := migrate.AccountStorageKeys(migrate.IssuerKeyFromCA(cmdV3CA), "other@example.org"); !storage.Exists(ctx, reg) {
		t.Errorf("le-dns account not stored under the config's email (%s)", reg)
	}
}

func TestImportCommandTraefikV1(t *testing.T) {
	tests := []struct {
		desc     string
		args     []string
		resolver string
	}{
		{"named with --resolver", []string{"--resolver", "le"}, "le"},
		{"default name", nil, "default"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			cfg, storage := cmdTestStorageConfig(t, "")
			src := cmdCopyFixture(t, "testdata/commands/traefik-v1-acme.json", t.TempDir(), "acme.json")
			out, code, err := runTraefikCmd(t, "import", append([]string{src, "--config", cfg}, tt.args...)...)
			if err != nil || code != 0 {
				t.Fatalf("import: code %d, %v\n%s", code, err, out)
			}
			// The v1 registration URI (acme-v01) is read as Let's Encrypt's
			// v2 API, so the account matches the default CA.
			want := tt.resolver + ": issuer acme-v02.api.letsencrypt.org-directory: 2 names imported (0 expired), 0 unchanged, 0 skipped (newer in storage), 0 skipped (invalid); account imported"
			if !strings.Contains(out, want) {
				t.Errorf("output does not contain %q:\n%s", want, out)
			}
			f, err := acmejson.Load(src, acmejson.LoadOptions{Resolver: tt.resolver, ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			cmdAssertImported(t, storage, "acme-v02.api.letsencrypt.org-directory", f, tt.resolver)
		})
	}
}

func TestImportCommandErrors(t *testing.T) {
	cfg, storage := cmdTestStorageConfig(t, "")
	src := cmdCopyFixture(t, cmdV3Fixture, t.TempDir(), "acme.json")
	empty := cmdCopyFixture(t, cmdV3Fixture, t.TempDir(), "empty.json")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		desc string
		args []string
		want []string
	}{
		{"unknown resolver", []string{src, "--config", cfg, "--resolver", "le-dns", "--resolver", "nope"},
			[]string{`resolver "nope" not in acme.json ` + src, "its resolvers: le-dns, le-http, le-tls"}},
		{"missing file", []string{filepath.Join(t.TempDir(), "acme.json"), "--config", cfg}, []string{"acme.json", "file does not exist"}},
		{"empty file", []string{empty, "--config", cfg}, []string{"holds no resolvers"}},
		{"bad config", []string{src, "--config", src + ".nope"}, []string{"loading config"}},
		{"adapter without config", []string{src, "--adapter", "caddyfile"}, []string{"--adapter needs --config"}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			_, code, err := runTraefikCmd(t, "import", tt.args...)
			if err == nil || code == 0 {
				t.Fatalf("got code %d, error %v; want a failure", code, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	if keys, err := storage.List(t.Context(), "", true); err == nil && len(keys) > 0 {
		t.Errorf("failed imports wrote to storage: %v", keys)
	}
}
