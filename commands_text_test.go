package traefikacme

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
)

func TestPrintable(t *testing.T) {
	tests := []struct{ in, want string }{
		{"le-http", "le-http"},
		{"bücher.example", "bücher.example"},
		{"a\x1b[2Jb", `a\x1b[2Jb`},
		{"\x1b]0;owned\x07", `\x1b]0;owned\x07`},
		{"c1\u009b31m", `c1\u009b31m`},
		{"rtl\u202egnp.exe", `rtl\u202egnp.exe`},
		{"tab\tnl\ncr\rdel\x7f", `tab\x09nl\x0acr\x0ddel\x7f`},
		{"bad\xffutf8", `bad\xffutf8`},
		{`back\slash`, `back\\slash`},
	}
	for _, tt := range tests {
		if got := printable(tt.in); got != tt.want {
			t.Errorf("printable(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestInspectTextSanitizesEscapes: resolver and domain names holding
// terminal escape sequences (ESC, OSC, C1, bidi overrides) are printed
// escaped by `inspect`; --json keeps them exact (JSON escapes them).
func TestInspectTextSanitizesEscapes(t *testing.T) {
	const (
		resolver = "le\x1b]0;owned\x07"
		domain   = "evil\x1b[2J\u009b1m\u202e.example.test"
	)
	f := cmdLoad(t, cmdV3Fixture)
	entry := *f["le-http"].Certificates[0]
	entry.Domain = acmejson.Domain{Main: domain}
	f[resolver] = &acmejson.Resolver{Certificates: []*acmejson.Certificate{&entry}}
	path := filepath.Join(t.TempDir(), "acme.json")
	if err := acmejson.Save(path, f); err != nil {
		t.Fatal(err)
	}
	out, code, err := runTraefikCmd(t, "inspect", path, "--now", cmdTestNow.Format(time.RFC3339))
	if err != nil || code != 0 {
		t.Fatalf("inspect: code %d, %v", code, err)
	}
	if strings.ContainsAny(out, "\x1b\x07\u009b\u202e") {
		t.Errorf("raw control characters in the output:\n%q", out)
	}
	for _, want := range []string{`resolver le\x1b]0;owned\x07`, `evil\x1b[2J\u009b1m\u202e.example.test`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	out, code, err = runTraefikCmd(t, "inspect", path, "--json", "--now", cmdTestNow.Format(time.RFC3339))
	if err != nil || code != 0 {
		t.Fatalf("inspect --json: code %d, %v", code, err)
	}
	var doc inspectReport
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range doc.Resolvers {
		if r.Name == resolver && len(r.Certificates) == 1 && r.Certificates[0].Names[0] == domain {
			found = true
		}
	}
	if !found {
		t.Error("--json does not keep the exact names")
	}
}

// TestCommandsReportRecoveredFile: the command line reports what the
// acme.json functions warn about, here a torn file read from the copy an
// interrupted in-place rewrite left.
func TestCommandsReportRecoveredFile(t *testing.T) {
	dir := t.TempDir()
	path := cmdCopyFixture(t, cmdV3Fixture, dir, "acme.json")
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+acmejson.InPlaceCopySuffix, good, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, good[:len(good)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	out, warn, code, err := runTraefikCmdWarn(t, "inspect", path, "--now", cmdTestNow.Format(time.RFC3339))
	if err != nil || code != 0 {
		t.Fatalf("inspect: code %d, %v", code, err)
	}
	if !strings.Contains(warn, "acme.json does not parse; using the copy an interrupted in-place rewrite left beside it") ||
		!strings.Contains(out, "resolver le-http") {
		t.Errorf("output:\n%s\nwarnings:\n%s", out, warn)
	}
}
