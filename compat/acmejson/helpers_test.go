package acmejson

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	traefikfixtures "github.com/ac075510/caddy-traefik-acme/internal/fixtures"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// pinnedNow is inside the validity period of every fixture leaf
// (2026-11-29 .. 2027-02-27).
var pinnedNow = time.Date(2026, 12, 15, 0, 0, 0, 0, time.UTC)

// fixtures are acme.json files written by real Traefik against Pebble.
var fixtures = []string{
	"traefik-v2-acme.json",
	"traefik-v3-acme.json",
	"traefik-v3.6.21-rich-acme.json",
}

// readTestdata returns a Traefik fixture (internal/fixtures) or a file of
// testdata/.
func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	if traefikfixtures.Has(name) {
		b, err := traefikfixtures.Bytes(name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// copyFixture copies a fixture or testdata file into a fresh temporary directory with
// the given mode and returns its path.
func copyFixture(t testing.TB, name string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "acme.json")
	if err := os.WriteFile(p, readTestdata(t, name), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // umask may have masked bits
		t.Fatal(err)
	}
	return p
}

func mustParse(t testing.TB, data []byte) File {
	t.Helper()
	f, _, err := Parse(data, "")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// entryPool returns every certificate entry of the fixtures (real Pebble
// certificates with RSA-4096 PKCS#8, RSA-2048 PKCS#1, P-256 and P-384 SEC1
// keys).
func entryPool(t testing.TB) []*Certificate {
	t.Helper()
	var pool []*Certificate
	for _, name := range fixtures {
		f := mustParse(t, readTestdata(t, name))
		for _, rn := range f.ResolverNames() {
			if r := f[rn]; r != nil {
				pool = append(pool, r.Certificates...)
			}
		}
	}
	return pool
}

// largeFile returns the v3 fixture plus a resolver "bulk" holding n
// certificates built from the fixture entries, each under distinct names.
func largeFile(t testing.TB, n int) File {
	t.Helper()
	f := mustParse(t, readTestdata(t, "traefik-v3-acme.json"))
	pool := entryPool(t)
	bulk := f.Ensure("bulk")
	bulk.Certificates = make([]*Certificate, 0, n)
	for i := range n {
		src := pool[i%len(pool)]
		bulk.Certificates = append(bulk.Certificates, &Certificate{
			Domain:      Domain{Main: fmt.Sprintf("site%05d.example.test", i), SANs: []string{fmt.Sprintf("www.site%05d.example.test", i)}},
			Certificate: src.Certificate,
			Key:         src.Key,
			Store:       DefaultStore,
		})
	}
	return f
}

// recorder is a slog.Handler keeping the messages it receives.
type recorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, rec.Message)
	return nil
}
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

func (r *recorder) count(msg string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.msgs {
		if m == msg {
			n++
		}
	}
	return n
}

// dirNames lists the names in dir, sorted.
func dirNames(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names
}

// allNames returns "resolver/name" for every requested name in f.
func allNames(f File) map[string]bool {
	out := map[string]bool{}
	for rn, r := range f {
		if r == nil {
			continue
		}
		for _, c := range r.Certificates {
			for _, n := range c.Names() {
				out[rn+"/"+n] = true
			}
		}
	}
	return out
}

func slogOf(h slog.Handler) *slog.Logger { return slog.New(h) }
