package traefikacme

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// TestREADMECaddyfiles adapts every complete Caddyfile example in README.md
// (fenced as caddyfile, starting with a global options block, without
// <placeholders>), so the documentation cannot drift from the parser.
func TestREADMECaddyfiles(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```caddyfile\n(.*?)```").FindAllStringSubmatch(string(b), -1)
	n := 0
	for _, m := range blocks {
		text := m[1]
		if !strings.HasPrefix(text, "{") || strings.Contains(text, "<") {
			continue
		}
		n++
		// Optional arguments shown in brackets are documentation only.
		text = regexp.MustCompile(`\s\[[^\]]*\]`).ReplaceAllString(text, "")
		if _, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(text), map[string]any{"filename": "README.md"}); err != nil {
			t.Errorf("README example %d does not adapt: %v\n%s", n, err, text)
		}
	}
	if n < 2 {
		t.Fatalf("found %d complete Caddyfile examples in README.md, want at least 2", n)
	}
}
