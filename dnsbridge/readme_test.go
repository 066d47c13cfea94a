package dnsbridge

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the provider table in ../docs/configuration.md")

const (
	readmePath  = "../docs/configuration.md"
	readmeBegin = "<!-- dnsbridge:providers:begin -->"
	readmeEnd   = "<!-- dnsbridge:providers:end -->"
)

// TestREADMEProviderTable checks that docs/configuration.md holds exactly
// MarkdownTable() between the dnsbridge markers. Run with -update to
// rewrite that section in place.
func TestREADMEProviderTable(t *testing.T) {
	data, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatalf("reading README: %v", err)
	}
	readme := string(data)
	begin := strings.Index(readme, readmeBegin)
	end := strings.Index(readme, readmeEnd)
	if begin < 0 || end < 0 || end < begin {
		t.Fatalf("docs/configuration.md lacks the lines %q and %q in that order", readmeBegin, readmeEnd)
	}
	head := readme[:begin+len(readmeBegin)]
	current := readme[begin+len(readmeBegin) : end]
	want := "\n\n" + MarkdownTable() + "\n"

	if *update {
		if current == want {
			return
		}
		out := head + want + readme[end:]
		if err := os.WriteFile(readmePath, []byte(out), 0o644); err != nil {
			t.Fatalf("writing README: %v", err)
		}
		return
	}
	if current != want {
		t.Errorf("docs/configuration.md provider table is out of date; run: go test ./dnsbridge -run TestREADMEProviderTable -update")
	}
}

func TestMarkdownTable(t *testing.T) {
	table := MarkdownTable()
	lines := strings.Split(strings.TrimSuffix(table, "\n"), "\n")
	if got, want := len(lines), 2+len(specs()); got != want {
		t.Fatalf("table has %d lines, want %d", got, want)
	}
	if lines[0] != "| code | aliases | required env | optional env | `_FILE` | notes |" {
		t.Errorf("header = %q", lines[0])
	}
	for _, l := range lines[2:] {
		// Six cells: seven unescaped pipes.
		if n := strings.Count(strings.ReplaceAll(l, `\|`, ""), "|"); n != 7 {
			t.Errorf("row has %d separators: %s", n, l)
		}
	}
	for _, want := range []string{
		"| `cloudflare` | – | `CLOUDFLARE_DNS_API_TOKEN` or `CF_DNS_API_TOKEN` |",
		"| `rfc2136` | `dnsupdate` |",
		"| `route53` | – | none |",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q", want)
		}
	}
}
