package traefikacme

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/caddyserver/certmagic"
	"github.com/spf13/cobra"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
	"github.com/ac075510/caddy-traefik-acme/internal/fixtures"
)

// cmdTestNow is the pinned clock of the command tests: the fixtures' leaves
// expire on 2027-02-27.
var cmdTestNow = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

const (
	cmdRichFixture = fixtures.TraefikV3Rich
	cmdV3Fixture   = fixtures.TraefikV3
	cmdRichCA      = "https://127.0.0.1:14300/dir" // the CA the rich fixture's accounts are registered with
	cmdV3CA        = "https://127.0.0.1:14000/dir"
)

// runTraefikCmd runs a traefik subcommand in-process: it parses args with the
// subcommand's real flag set and calls its function.
func runTraefikCmd(t *testing.T, sub string, args ...string) (string, int, error) {
	t.Helper()
	out, _, code, err := runTraefikCmdWarn(t, sub, args...)
	return out, code, err
}

// runTraefikCmdWarn is runTraefikCmd also returning what the command wrote
// to its warnings stream (stderr).
func runTraefikCmdWarn(t *testing.T, sub string, args ...string) (string, string, int, error) {
	t.Helper()
	var out, warn bytes.Buffer
	c := cmdIO{out: &out, progress: &out, warn: &warn, now: func() time.Time { return cmdTestNow }}
	parent := &cobra.Command{Use: "traefik"}
	addTraefikCommands(parent, c)
	cmd, _, err := parent.Find([]string{sub})
	if err != nil || cmd == parent {
		t.Fatalf("finding subcommand %q: %v", sub, err)
	}
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatalf("parsing flags %v: %v", args, err)
	}
	fn := map[string]traefikCmdFunc{"inspect": c.inspect, "import": c.importFile, "export": c.exportFile, "dns-providers": c.dnsProviders}[sub]
	code, err := fn(t.Context(), caddycmd.Flags{FlagSet: cmd.Flags()})
	return out.String(), warn.String(), code, err
}

// cmdCopyFixture copies a fixture into dir as name with mode 0600.
func cmdCopyFixture(t *testing.T, from, dir, name string) string {
	t.Helper()
	read := os.ReadFile
	if fixtures.Has(from) {
		read = fixtures.Bytes
	}
	data, err := read(from)
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
	if fixtures.Has(path) {
		return loadFixture(t, path)
	}
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
