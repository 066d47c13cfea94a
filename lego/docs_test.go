// The tests of this package link every lego provider; under -race that
// costs minutes of compilation for no gain (the providers are lego's code,
// the bridge's own concurrency lives in ./solver, tested with -race).
// .ci/run runs them without -race.

//go:build !race

package lego

import (
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite ../docs/dns-providers.md")

// TestDocsUpToDate fails when docs/dns-providers.md differs from what
// Markdown renders from the two registries.
func TestDocsUpToDate(t *testing.T) {
	const path = "../docs/dns-providers.md"
	want := Markdown()
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./lego -run TestDocsUpToDate -update)", err)
	}
	if string(got) != want {
		t.Fatalf("%s is out of date: run go test -run TestDocsUpToDate -update in lego/", path)
	}
}
