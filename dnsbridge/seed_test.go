package dnsbridge

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

var seedRowRE = regexp.MustCompile("^\\|[^|]+\\|\\s*`([a-z0-9-]+)`\\s*\\|")

// seedCodes returns the codes of the "providers" table of the Traefik
// documentation page in ../../shared/seed (the page we implement). The
// test is skipped when the page is absent.
func seedCodes(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("../../shared/seed/traefik-acme-docs.md")
	if err != nil {
		t.Skipf("seed page not available: %v", err)
	}
	var codes []string
	for _, line := range strings.Split(string(data), "\n") {
		if m := seedRowRE.FindStringSubmatch(line); m != nil {
			codes = append(codes, m[1])
		}
	}
	if len(codes) < 50 {
		t.Fatalf("found %d provider codes in the seed page, want the whole table", len(codes))
	}
	return codes
}
