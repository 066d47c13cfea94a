package traefikacme

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// caddyfileFence matches a code block fenced as caddyfile, indented or
// not (inside a list item); group 1 is the indentation, group 2 the body.
var caddyfileFence = regexp.MustCompile("(?ms)^([ \t]*)```caddyfile[ \t]*\n(.*?)^[ \t]*```")

// TestDocsCaddyfiles adapts every code block fenced as caddyfile in
// README.md and docs/*.md, so the documentation cannot drift from the
// parser: each must adapt without error and without warnings, and be
// formatted as `caddy fmt` formats it. Reference syntax with <placeholders>
// is fenced as text, not caddyfile.
func TestDocsCaddyfiles(t *testing.T) {
	docs, err := filepath.Glob(filepath.Join("docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, doc := range append([]string{"README.md"}, docs...) {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range caddyfileFence.FindAllSubmatch(b, -1) {
			total++
			text := dedent(string(m[2]), string(m[1]))
			name := doc + " caddyfile block " + string(rune('1'+i))
			t.Run(name, func(t *testing.T) {
				if formatted := caddyfile.Format([]byte(text)); !bytes.Equal(formatted, []byte(text)) {
					t.Errorf("not formatted as caddy fmt formats it; caddy fmt gives:\n%s", formatted)
				}
				_, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(text), map[string]any{"filename": "Caddyfile"})
				if err != nil {
					t.Fatalf("does not adapt: %v\n%s", err, text)
				}
				for _, w := range warnings {
					t.Errorf("adapt warning: %s", w.String())
				}
			})
		}
	}
	if total < 5 {
		t.Fatalf("found %d Caddyfile blocks in README.md and docs/*.md, want at least 5", total)
	}
}

// dedent removes indent from the start of every line of text.
func dedent(text, indent string) string {
	if indent == "" {
		return text
	}
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(l, indent)
	}
	return strings.Join(lines, "\n")
}
