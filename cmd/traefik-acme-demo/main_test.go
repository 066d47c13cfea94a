package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestDemo runs the demo once, as the README's first command does, and
// checks that it reports a verified certificate for every site.
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), &out, t.TempDir(), true); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	report := out.String()
	for _, s := range sites {
		if !strings.Contains(report, s.Name) || !strings.Contains(report, s.Challenge) {
			t.Errorf("report does not list %s via %s:\n%s", s.Name, s.Challenge, report)
		}
	}
	if !strings.Contains(report, "curl --cacert") {
		t.Errorf("report has no curl line:\n%s", report)
	}
}
