package traefikacme

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/certmagic"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
	"github.com/ac075510/caddy-traefik-acme/migrate"
)

// TestImportCommandCAFromTheFile: without --config and --ca, the CA is the
// one the file's account is registered with (its registration URI), so a
// resolver of Let's Encrypt's staging CA is imported as staging, never as
// production. The file is the one Traefik v3 writes for a resolver with
// caServer set to LE staging: the shape of the fixture, its account URIs
// at acme-staging-v02.
func TestImportCommandCAFromTheFile(t *testing.T) {
	const staging = "https://acme-staging-v02.api.letsencrypt.org/directory"
	f := cmdLoad(t, cmdV3Fixture)
	for _, name := range f.ResolverNames() {
		f[name].Account.Registration.URI = strings.Replace(f[name].Account.Registration.URI, "https://127.0.0.1:14000/my-account/", "https://acme-staging-v02.api.letsencrypt.org/acme/acct/", 1)
	}
	src := filepath.Join(t.TempDir(), "acme.json")
	if err := acmejson.Save(src, f); err != nil {
		t.Fatal(err)
	}
	cfg, storage := cmdTestStorageConfig(t, "")
	out, code, err := runTraefikCmd(t, "import", src, "--config", cfg)
	if err != nil || code != 0 {
		t.Fatalf("import: code %d, %v\n%s", code, err, out)
	}
	if !strings.Contains(out, "le-http: CA "+staging+" (from the account's registration uri https://acme-staging-v02.api.letsencrypt.org/acme/acct/") {
		t.Errorf("output does not name the staging CA and why:\n%s", out)
	}
	ctx := t.Context()
	stagingKey := migrate.IssuerKeyFromCA(staging)
	cmdAssertImported(t, storage, stagingKey, f, "le-dns", "le-http", "le-tls")
	if storage.Exists(ctx, certmagic.StorageKeys.CertsPrefix(migrate.IssuerKeyFromCA("https://acme-v02.api.letsencrypt.org/directory"))) {
		t.Error("staging certificates were filed under Let's Encrypt production")
	}

	// The config says production, the file's accounts are staging's: the
	// certificates are not filed as production's.
	dir := t.TempDir()
	root := filepath.Join(dir, "storage")
	caddyfile := filepath.Join(dir, "Caddyfile")
	body := "{\n\tstorage file_system " + root + "\n\ttraefik_acme {\n\t\tresolver le-http {\n\t\t\tca_server https://acme-v02.api.letsencrypt.org/directory\n\t\t\temail bench@example.org\n\t\t\ttls_challenge\n\t\t}\n\t}\n}\n"
	if err := os.WriteFile(caddyfile, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code, err = runTraefikCmd(t, "import", src, "--config", caddyfile, "-r", "le-http")
	if err == nil || code == 0 || !strings.Contains(out, "le-http: FAILED: its account in the file is registered at acme-staging-v02.api.letsencrypt.org, not at the CA https://acme-v02.api.letsencrypt.org/directory") {
		t.Errorf("staging file into a production resolver: code %d, %v\n%s", code, err, out)
	}
	prodStorage := &certmagic.FileStorage{Path: root}
	if prodStorage.Exists(ctx, certmagic.StorageKeys.CertsPrefix(migrate.IssuerKeyFromCA("https://acme-v02.api.letsencrypt.org/directory"))) {
		t.Error("staging certificates were filed under Let's Encrypt production (config)")
	}

	// A private CA's account: refused, with the way out.
	_, code, err = runTraefikCmd(t, "import", cmdCopyFixture(t, cmdV3Fixture, t.TempDir(), "acme.json"), "--config", cfg)
	if err == nil || code == 0 {
		t.Fatalf("import of a private CA's file without --ca: code %d, %v; want a failure", code, err)
	}
}

// TestImportCommandV1UnderItsResolver: a Traefik v1 file is imported as the
// resolver of the config whose storage it is, not as "default"; without
// one, "default" is used and the output says so.
func TestImportCommandV1UnderItsResolver(t *testing.T) {
	dir := t.TempDir()
	src := cmdCopyFixture(t, "testdata/commands/traefik-v1-acme.json", dir, "acme.json")
	root := filepath.Join(dir, "storage")
	caddyfile := filepath.Join(dir, "Caddyfile")
	body := "{\n\tstorage file_system " + root + "\n\ttraefik_acme {\n\t\tresolver web {\n\t\t\temail bench@example.org\n\t\t\tstorage " + src +
		"\n\t\t\ttls_challenge\n\t\t}\n\t}\n}\n"
	if err := os.WriteFile(caddyfile, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code, err := runTraefikCmd(t, "import", src, "--config", caddyfile)
	if err != nil || code != 0 {
		t.Fatalf("import: code %d, %v\n%s", code, err, out)
	}
	for _, want := range []string{`Traefik v1 file: imported as resolver "web" (the resolver of ` + caddyfile + ` whose storage it is)`, "web: issuer acme-v02.api.letsencrypt.org-directory: 2 names imported"} {
		if !strings.Contains(out, want) {
			t.Errorf("output does not contain %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(src + ".v1.bak"); err == nil {
		t.Error("import wrote a backup: it must not change anything beside storage")
	}

	cfg, _ := cmdTestStorageConfig(t, "")
	out, code, err = runTraefikCmd(t, "import", src, "--config", cfg)
	if err != nil || code != 0 {
		t.Fatalf("import: code %d, %v\n%s", code, err, out)
	}
	if !strings.Contains(out, `Traefik v1 file: imported as resolver "default", since no resolver is known to use it; use --resolver <name>`) {
		t.Errorf("output does not say the v1 file went to \"default\":\n%s", out)
	}
}

// TestInspectLeftoverV1Keys: a file Traefik v2/v3 wrote after reading a v1
// file (its top-level keys Account, Certificates, HTTPChallenges and
// TLSChallenges taken for resolver names and written back as empty
// resolvers next to the real ones) is inspected and imported like any v2
// file; inspect points out the four odd resolvers.
func TestInspectLeftoverV1Keys(t *testing.T) {
	raw, err := os.ReadFile(cmdV3Fixture)
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"Account", "Certificates", "HTTPChallenges", "TLSChallenges"} {
		top[k] = json.RawMessage(`{"Account": null, "Certificates": null}`)
	}
	data, err := json.MarshalIndent(top, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "acme.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, code, err := runTraefikCmd(t, "inspect", path, "--json")
	if err != nil || code != 0 {
		t.Fatalf("inspect: code %d, %v\n%s", code, err, out)
	}
	var doc inspectReport
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Format != "v2" || len(doc.Resolvers) != 7 || len(doc.Warnings) != 1 ||
		!strings.Contains(doc.Warnings[0], `resolvers "Account", "Certificates", "HTTPChallenges", "TLSChallenges": keys of a traefik v1 file`) {
		t.Errorf("format %s, %d resolvers, warnings %q", doc.Format, len(doc.Resolvers), doc.Warnings)
	}
	cfg, storage := cmdTestStorageConfig(t, "")
	out, code, err = runTraefikCmd(t, "import", path, "--ca", cmdV3CA, "--config", cfg, "-r", "le-http", "-r", "le-tls", "-r", "le-dns")
	if err != nil || code != 0 {
		t.Fatalf("import: code %d, %v\n%s", code, err, out)
	}
	cmdAssertImported(t, storage, migrate.IssuerKeyFromCA(cmdV3CA), cmdLoad(t, path), "le-dns", "le-http", "le-tls")
}
