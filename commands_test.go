package traefikacme

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
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

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/caddyserver/certmagic"
	"github.com/spf13/cobra"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
	"github.com/ac075510/caddy-traefik-acme/migrate"
)

// cmdTestNow is the pinned clock of the command tests: the fixtures' leaves
// expire on 2027-02-27.
var cmdTestNow = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

const (
	cmdRichFixture = "testdata/acmejson/traefik-v3.6.21-rich-acme.json"
	cmdV3Fixture   = "testdata/acmejson/traefik-v3-acme.json"
	cmdRichCA      = "https://127.0.0.1:14300/dir" // the CA the rich fixture's accounts are registered with
	cmdV3CA        = "https://127.0.0.1:14000/dir"
)

// runTraefikCmd runs a traefik subcommand in-process: it parses args with the
// subcommand's real flag set and calls its function.
func runTraefikCmd(t *testing.T, sub string, args ...string) (string, int, error) {
	t.Helper()
	var out bytes.Buffer
	c := cmdIO{out: &out, progress: &out, now: func() time.Time { return cmdTestNow }}
	parent := &cobra.Command{Use: "traefik"}
	addTraefikCommands(parent, c)
	cmd, _, err := parent.Find([]string{sub})
	if err != nil || cmd == parent {
		t.Fatalf("finding subcommand %q: %v", sub, err)
	}
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatalf("parsing flags %v: %v", args, err)
	}
	fn := map[string]traefikCmdFunc{"inspect": c.inspect, "import": c.importFile, "export": c.exportFile}[sub]
	code, err := fn(t.Context(), caddycmd.Flags{FlagSet: cmd.Flags()})
	return out.String(), code, err
}

// cmdCopyFixture copies a fixture into dir as name with mode 0600.
func cmdCopyFixture(t *testing.T, from, dir, name string) string {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	to := filepath.Join(dir, name)
	if err := os.WriteFile(to, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return to
}

// cmdStorageConfig writes a JSON Caddy config whose storage is a
// file_system rooted in a new directory, and returns the config path and
// the storage.
func cmdTestStorageConfig(t *testing.T, apps string) (string, *certmagic.FileStorage) {
	t.Helper()
	dir := t.TempDir()
	root := filepath.Join(dir, "storage")
	cfg := map[string]any{"storage": map[string]any{"module": "file_system", "root": root}}
	if apps != "" {
		cfg["apps"] = json.RawMessage(apps)
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "caddy.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, &certmagic.FileStorage{Path: root}
}

func cmdLoad(t *testing.T, path string) acmejson.File {
	t.Helper()
	f, err := acmejson.Load(path, acmejson.LoadOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// cmdCompareGolden compares got with testdata/commands/name, rewriting it
// with -update.
func cmdCompareGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "commands", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden (run with -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run with -update after checking):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// assertNoKeyMaterial fails if out contains any private key of f, in PEM or
// base64 form.
func assertNoKeyMaterial(t *testing.T, out string, f acmejson.File) {
	t.Helper()
	if strings.Contains(out, "PRIVATE KEY") {
		t.Error("output contains a PEM private key")
	}
	check := func(what string, b []byte) {
		if len(b) < 64 {
			return
		}
		for _, enc := range []string{base64.StdEncoding.EncodeToString(b), string(b)} {
			if strings.Contains(out, enc[32:64]) {
				t.Errorf("output contains key material of %s", what)
			}
		}
	}
	for name, r := range f {
		if r == nil {
			continue
		}
		if r.Account != nil {
			check(name+" account", r.Account.PrivateKey)
		}
		for _, c := range r.Certificates {
			if c != nil {
				check(name+" certificate key", c.Key)
			}
		}
	}
}

func TestCommandRegistered(t *testing.T) {
	reg, ok := caddycmd.Commands()["traefik"]
	if !ok {
		t.Fatal("command traefik is not registered")
	}
	// Build the command as caddycmd does (caddyCmdToCobra).
	build := func() *cobra.Command {
		cmd := &cobra.Command{Use: reg.Name + " " + reg.Usage, Short: reg.Short, Long: reg.Long}
		reg.CobraFunc(cmd)
		return cmd
	}
	tests := []struct {
		desc string
		args []string
		want []string
	}{
		{"traefik --help", []string{"--help"}, []string{"inspect", "import", "export", "Shows the accounts", "rollback"}},
		{"no subcommand prints help", nil, []string{"Available Commands:", "inspect"}},
		{"inspect --help", []string{"inspect", "--help"}, []string{"--json", "--now", "problem_count", "caddy traefik inspect /etc/traefik/acme.json"}},
		{"import --help", []string{"import", "--help"}, []string{"--resolver", "--ca", "--email", "--config", "--adapter", "Let's Encrypt production"}},
		{"export --help", []string{"export", "--help"}, []string{"--resolver", "--domain", "--ca", "--config", "RSA account\nkeys only"}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			cmd := build()
			var out bytes.Buffer
			cmd.SetOut(&out)
			cmd.SetErr(&out)
			cmd.SetArgs(append([]string{}, tt.args...)) // nil would mean os.Args
			if err := cmd.Execute(); err != nil {
				t.Fatalf("executing: %v", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("help does not mention %q:\n%s", w, out.String())
				}
			}
		})
	}
	t.Run("unknown subcommand", func(t *testing.T) {
		cmd := build()
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetErr(&bytes.Buffer{})
		cmd.SetArgs([]string{"bogus"})
		err := cmd.Execute()
		if err == nil || !strings.Contains(err.Error(), `unknown command "bogus"`) {
			t.Fatalf("got %v, want an unknown command error", err)
		}
	})
}

func TestInspectCommandFixtures(t *testing.T) {
	tests := []struct {
		desc, fixture, golden string
	}{
		{"traefik v2", "testdata/acmejson/traefik-v2-acme.json", "inspect-traefik-v2.txt"},
		{"traefik v3", cmdV3Fixture, "inspect-traefik-v3.txt"},
		{"traefik v3.6 rich", cmdRichFixture, "inspect-traefik-v3.6-rich.txt"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			dir := t.TempDir()
			path := cmdCopyFixture(t, tt.fixture, dir, "acme.json")
			f := cmdLoad(t, path)

			out, code, err := runTraefikCmd(t, "inspect", path, "--now", cmdTestNow.Format(time.RFC3339))
			if err != nil || code != 0 {
				t.Fatalf("inspect: code %d, %v", code, err)
			}
			assertNoKeyMaterial(t, out, f)
			cmdCompareGolden(t, tt.golden, strings.ReplaceAll(out, dir, "$TMP"))

			out, code, err = runTraefikCmd(t, "inspect", path, "--json", "--now", cmdTestNow.Format(time.RFC3339))
			if err != nil || code != 0 {
				t.Fatalf("inspect --json: code %d, %v", code, err)
			}
			assertNoKeyMaterial(t, out, f)
			var doc inspectReport
			dec := json.NewDecoder(strings.NewReader(out))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&doc); err != nil {
				t.Fatalf("decoding --json output: %v\n%s", err, out)
			}
			if doc.Path != path || doc.Format != "v2" || !doc.CheckedAt.Equal(cmdTestNow) || doc.ProblemCount != 0 || len(doc.Warnings) != 0 {
				t.Errorf("header: path %q format %q checked_at %v problems %d warnings %v", doc.Path, doc.Format, doc.CheckedAt, doc.ProblemCount, doc.Warnings)
			}
			var got []string
			for _, r := range doc.Resolvers {
				got = append(got, r.Name)
			}
			if want := f.ResolverNames(); !slices.Equal(got, want) {
				t.Fatalf("resolvers %v, want %v", got, want)
			}
			for _, r := range doc.Resolvers {
				entry := f[r.Name]
				if (entry.Account == nil) != (r.Account == nil) {
					t.Errorf("%s: account presence differs", r.Name)
				}
				if a := r.Account; a != nil {
					if a.Email != entry.Account.Email || a.RegistrationURI != entry.Account.Registration.URI || a.CAHost == "" || a.KeyType != "RSA4096" || a.Status != "valid" {
						t.Errorf("%s: account %+v", r.Name, *a)
					}
				}
				if len(r.Certificates) != len(entry.Certificates) {
					t.Fatalf("%s: %d certificates, want %d", r.Name, len(r.Certificates), len(entry.Certificates))
				}
				for i, c := range r.Certificates {
					p, err := entry.Certificates[i].Parse()
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(c.Names, entry.Certificates[i].Names()) || c.NotAfter == nil || !c.NotAfter.Equal(p.Leaf.NotAfter) ||
						c.KeyType != p.Leaf.KeyType || c.Issuer != p.Leaf.Issuer || c.DaysLeft == nil || *c.DaysLeft != 87 && *c.DaysLeft != 88 || len(c.Problems) != 0 {
						t.Errorf("%s[%d]: %+v", r.Name, i, c)
					}
				}
			}
		})
	}
}

// cmdProblemFile writes a file with one of each problem inspect reports.
func cmdProblemFile(t *testing.T, dir string) (string, acmejson.File) {
	t.Helper()
	f := cmdLoad(t, cmdRichFixture)
	// http-ec: the first entry gets the key of the second (mismatch).
	http := f["http-ec"]
	http.Certificates[0].Key = http.Certificates[1].Key
	// tls-rsa: the entry loses its certificate (empty entry).
	f["tls-rsa"].Certificates[0].Certificate = nil
	// dns-wild: an EC account key, which Traefik cannot read.
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	f["dns-wild"].Account.PrivateKey = der
	// broken: an undecodable certificate and an account never registered.
	f["broken"] = &acmejson.Resolver{
		Account: &acmejson.Account{Email: "broken@example.org"},
		Certificates: []*acmejson.Certificate{
			{Domain: acmejson.Domain{Main: "x.example.test"}, Certificate: []byte("not a pem"), Key: []byte("not a pem"), Store: "default"},
			nil,
		},
	}
	path := filepath.Join(dir, "acme.json")
	if err := acmejson.Save(path, f); err != nil {
		t.Fatal(err)
	}
	return path, f
}

func TestInspectCommandProblems(t *testing.T) {
	dir := t.TempDir()
	path, f := cmdProblemFile(t, dir)
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	after := "2027-03-01T00:00:00Z" // every leaf has expired

	out, code, err := runTraefikCmd(t, "inspect", path, "--now", after)
	if err != nil || code != 0 {
		t.Fatalf("inspect of a file with problems: code %d, %v (problems must not be fatal)", code, err)
	}
	assertNoKeyMaterial(t, out, f)
	cmdCompareGolden(t, "inspect-problems.txt", strings.ReplaceAll(out, dir, "$TMP"))

	out, _, err = runTraefikCmd(t, "inspect", path, "--json", "--now", after)
	if err != nil {
		t.Fatal(err)
	}
	var doc inspectReport
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	byName := map[string]inspectResolver{}
	for _, r := range doc.Resolvers {
		byName[r.Name] = r
	}
	tests := []struct {
		desc     string
		problems func() []string
		want     string
	}{
		{"key does not match", func() []string { return byName["http-ec"].Certificates[0].Problems }, "does not match"},
		{"expired", func() []string { return byName["http-ec"].Certificates[1].Problems }, "expired at 2027-02-27"},
		{"empty entry", func() []string { return byName["tls-rsa"].Certificates[0].Problems }, "empty certificate"},
		{"undecodable certificate", func() []string { return byName["broken"].Certificates[0].Problems }, "no PEM CERTIFICATE"},
		{"null entry", func() []string { return byName["broken"].Certificates[1].Problems }, "null"},
		{"EC account key", func() []string { return byName["dns-wild"].Account.Problems }, "must be RSA"},
		{"empty account key", func() []string { return byName["broken"].Account.Problems }, "key is empty"},
		{"unregistered account", func() []string { return byName["broken"].Account.Problems }, "no registration uri"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			got := tt.problems()
			if !slices.ContainsFunc(got, func(p string) bool { return strings.Contains(p, tt.want) }) {
				t.Errorf("problems %q do not mention %q", got, tt.want)
			}
		})
	}
	if got := byName["dns-wild"].Account.KeyType; got != "EC256" {
		t.Errorf("EC account key type %q, want EC256", got)
	}
	if c := byName["http-ec"].Certificates[0]; c.NotAfter == nil || c.Issuer == "" {
		t.Errorf("a mismatched entry still describes its leaf: %+v", c)
	}
	if len(doc.Warnings) != 1 || !strings.Contains(doc.Warnings[0], "0644") {
		t.Errorf("warnings %q, want one about mode 0644", doc.Warnings)
	}
}

func TestInspectCommandLayouts(t *testing.T) {
	dir := t.TempDir()
	v1 := cmdCopyFixture(t, "testdata/commands/traefik-v1-acme.json", dir, "v1.json")
	v1Bytes, err := os.ReadFile(v1)
	if err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.json")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("traefik v1", func(t *testing.T) {
		out, code, err := runTraefikCmd(t, "inspect", v1, "--now", cmdTestNow.Format(time.RFC3339))
		if err != nil || code != 0 {
			t.Fatalf("inspect: code %d, %v", code, err)
		}
		cmdCompareGolden(t, "inspect-traefik-v1.txt", strings.ReplaceAll(out, dir, "$TMP"))
		if got, _ := os.ReadFile(v1); !bytes.Equal(got, v1Bytes) {
			t.Error("inspect changed the file")
		}
		if _, err := os.Stat(v1 + ".v1.bak"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("inspect wrote a backup: %v", err)
		}
	})
	t.Run("empty file", func(t *testing.T) {
		out, code, err := runTraefikCmd(t, "inspect", empty, "--json")
		if err != nil || code != 0 {
			t.Fatalf("inspect: code %d, %v", code, err)
		}
		var doc inspectReport
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatal(err)
		}
		if doc.Format != "empty" || len(doc.Resolvers) != 0 || len(doc.Warnings) != 1 || !strings.Contains(out, `"resolvers": []`) {
			t.Errorf("document for an empty file:\n%s", out)
		}
	})
}

func TestInspectCommandErrors(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile(cmdV3Fixture)
	if err != nil {
		t.Fatal(err)
	}
	corrupt := filepath.Join(dir, "corrupt.json")
	if err := os.WriteFile(corrupt, data[:len(data)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.json")
	tests := []struct {
		desc string
		args []string
		want []string
		is   error
	}{
		{"corrupted file", []string{corrupt}, []string{corrupt, "offset"}, nil},
		{"missing file", []string{missing}, []string{missing}, fs.ErrNotExist},
		{"a directory", []string{dir}, []string{dir, "is a directory"}, nil},
		{"no path", nil, []string{"missing the acme.json path"}, nil},
		{"two paths", []string{corrupt, missing}, []string{"expected one acme.json path"}, nil},
		{"bad --now", []string{cmdV3Fixture, "--now", "yesterday"}, []string{"--now"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			out, code, err := runTraefikCmd(t, "inspect", tt.args...)
			if err == nil || code == 0 {
				t.Fatalf("got code %d, error %v; want a failure", code, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
			if out != "" {
				t.Errorf("printed %q on failure", out)
			}
		})
	}
}

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
		"tls-rsa: issuer 127.0.0.1:14300-dir: 1 names imported (0 expired), 0 unchanged",
		"unused: issuer 127.0.0.1:14300-dir: 0 names imported",
		"http-ec: CA " + cmdRichCA + " (--ca), email http-ec@example.org (the account's, from the file)",
		"http-ec: importing 2 certificate entries", // progress (a terminal in this test)
		"Done: 4 resolvers imported",
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

	out, code, err := runTraefikCmd(t, "import", src, "--config", caddyfile, "--resolver", "le-http", "-r", "le-dns")
	if err != nil || code != 0 {
		t.Fatalf("import: code %d, %v\n%s", code, err, out)
	}
	for _, want := range []string{
		"(2 resolvers)",
		`le-dns: CA ` + cmdV3CA + ` (resolver "le-dns" of ` + caddyfile + `), email Other@Example.org (resolver "le-dns" of`,
		`le-http: CA https://acme-v02.api.letsencrypt.org/directory (default: Let's Encrypt production; ` + caddyfile + ` defines no resolver "le-http")`,
		"le-dns: issuer 127.0.0.1:14000-dir: 1 names imported",
		"le-http: issuer acme-v02.api.letsencrypt.org-directory: 1 names imported",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output does not contain %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "le-tls") {
		t.Errorf("le-tls was not asked for:\n%s", out)
	}
	ctx := t.Context()
	if !storage.Exists(ctx, certmagic.StorageKeys.SiteCert(migrate.IssuerKeyFromCA(cmdV3CA), "d1.example.test")) ||
		!storage.Exists(ctx, certmagic.StorageKeys.SiteCert("acme-v02.api.letsencrypt.org-directory", "h1.example.test")) {
		t.Error("certificates are not under the issuer keys of their CAs")
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

func TestExportCommand(t *testing.T) {
	cfg, storage, orig := cmdImportedStorage(t)
	var all []*acmejson.Certificate
	for _, name := range orig.ResolverNames() {
		all = append(all, orig[name].Certificates...)
	}

	t.Run("into a new file", func(t *testing.T) {
		target := filepath.Join(t.TempDir(), "acme.json")
		out, code, err := runTraefikCmd(t, "export", target, "--resolver", "http-ec", "--ca", cmdRichCA, "--email", "http-ec@example.org", "--config", cfg)
		if err != nil || code != 0 {
			t.Fatalf("export: code %d, %v\n%s", code, err, out)
		}
		got := cmdLoad(t, target)
		if names := got.ResolverNames(); !slices.Equal(names, []string{"http-ec"}) {
			t.Fatalf("resolvers %v, want [http-ec]", names)
		}
		// Storage holds the certificates of every resolver of the same CA.
		cmdAssertSameCertificates(t, got["http-ec"].Certificates, all)
		a, want := got["http-ec"].Account, orig["http-ec"].Account
		if a == nil || a.Email != want.Email || a.Registration.URI != want.Registration.URI || !bytes.Equal(a.PrivateKey, want.PrivateKey) {
			t.Errorf("exported account differs from the original")
		}
		fi, err := os.Stat(target)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("mode %v, %v; want 0600", fi.Mode().Perm(), err)
		}
		for _, want := range []string{"account: written (http-ec@example.org", "written    a.example.test,b.example.test,c.example.test", "4 written", "Other resolvers untouched"} {
			if !strings.Contains(out, want) {
				t.Errorf("output does not contain %q:\n%s", want, out)
			}
		}
		assertNoKeyMaterial(t, out, got)
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
		out, code, err := runTraefikCmd(t, "export", target, "--resolver", "http-ec", "--ca", cmdRichCA, "--email", "http-ec@example.org", "--config", cfg)
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
			"skipped    wild.example.test,*.wild.example.test (held by resolver dns-wild of the file)",
			"skipped    tls1.example.test (held by resolver tls-rsa of the file)",
			"account: unchanged",
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

	t.Run("nothing stored for the CA", func(t *testing.T) {
		target := filepath.Join(t.TempDir(), "acme.json")
		_, code, err := runTraefikCmd(t, "export", target, "--resolver", "le", "--config", cfg)
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
		"1 written, 0 updated, 1 unchanged, 1 kept (newer in the file), 2 left to other resolvers; 0 entries",
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
		want     string
	}{
		{"new file", false, "account: none written (account key is EC256; traefik can only read RSA account keys"},
		{"existing file", true, "account: the file's account kept; storage's not exported: account key is EC256"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			dir := t.TempDir()
			target := filepath.Join(dir, "acme.json")
			if tt.existing {
				target = cmdCopyFixture(t, cmdRichFixture, dir, "acme.json")
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
			case tt.existing && !sameAccount(got.Account, orig["http-ec"].Account):
				t.Error("the file's account was not kept")
			case !tt.existing && got.Account != nil:
				t.Error("an account was written")
			}
			if strings.Contains(out, "PRIVATE KEY") {
				t.Error("output contains key material")
			}
		})
	}
}
