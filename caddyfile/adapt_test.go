package caddyfile

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

var update = flag.Bool("update", false, "rewrite the JSON half of testdata/*.caddyfiletest")

// separator splits a .caddyfiletest into its input and its expected
// output, as in Caddy's own caddyfile_adapt tests.
const separator = "\n----------\n"

// TestAdapt parses the traefik_acme global option of each
// testdata/*.caddyfiletest and compares the Options it gives, as indented
// JSON, with the file's second half (rewritten with -update).
func TestAdapt(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.caddyfiletest"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/*.caddyfiletest: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".caddyfiletest"), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			input, want, ok := strings.Cut(string(b), separator)
			if !ok && !*update {
				t.Fatalf("%s has no %q line between input and expected JSON (run with -update)", f, strings.TrimSpace(separator))
			}
			if got := caddyfile.Format([]byte(input)); !bytes.Equal(got, []byte(input)) {
				t.Errorf("input is not formatted as caddy fmt formats it:\n%s", got)
			}
			opts, err := ParseGlobalOption(caddyfile.NewTestDispenser(input), nil)
			if err != nil {
				t.Fatalf("parsing: %v", err)
			}
			got, err := json.MarshalIndent(opts, "", "\t")
			if err != nil {
				t.Fatal(err)
			}
			if *update {
				if err := os.WriteFile(f, []byte(input+separator+string(got)+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if strings.TrimSpace(want) != string(got) {
				t.Errorf("%s: parsed options differ (run with -update to accept):\n%s", f, got)
			}
		})
	}
}
