package traefikacme

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
)

// visibleWithin is how soon a change to acme.json must reach new handshakes.
const visibleWithin = 2 * time.Second

// rewriteInPlace rewrites path as Traefik does: truncate, then write, on
// the same inode, no rename. The write is split in two to widen the window
// in which a reader sees a partial file.
func rewriteInPlace(tb testing.TB, path string, data []byte) {
	tb.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		tb.Fatal(err)
	}
	half := len(data) / 2
	if _, err := f.Write(data[:half]); err != nil {
		tb.Fatal(err)
	}
	if _, err := f.Write(data[half:]); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
}

// replaceByRename writes data to a sibling file and renames it over path.
func replaceByRename(tb testing.TB, path string, data []byte) {
	tb.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		tb.Fatal(err)
	}
}

// backdate sets path's modification time well in the past, so that the
// watcher trusts an unchanged stat at once (the file is not "racy").
func backdate(tb testing.TB, path string, by time.Duration) {
	tb.Helper()
	when := time.Now().Add(-by)
	if err := os.Chtimes(path, when, when); err != nil {
		tb.Fatal(err)
	}
}

// TestGetCertReloadRules drives the watcher by hand: which changes are
// seen, which content replaces the index, and what is logged (once per
// change, never per check).
func TestGetCertReloadRules(t *testing.T) {
	ca := newTestCA(t, 1)
	first := ca.issue(t, leafSpec{names: []string{"first.example.test"}})
	second := ca.issue(t, leafSpec{names: []string{"second.example.test"}})
	v1 := marshalFile(t, acmejson.File{"le": {Certificates: []*acmejson.Certificate{first}}})
	v2 := marshalFile(t, acmejson.File{"le": {Certificates: []*acmejson.Certificate{first, second}}})

	path := filepath.Join(t.TempDir(), "acme.json")
	core, logs := observer.New(zap.DebugLevel)
	w := newACMEJSONWatcher(path, nil, zap.New(core))
	serves := func(name string) bool { return w.index.Load() != nil && w.index.Load().lookup(name) != nil }
	count := func(msg string) int { return logs.FilterMessage(msg).FilterLevelExact(zap.WarnLevel).Len() }
	const notParse = "acme.json does not parse; keeping previous certificates"
	check := func(want checkResult) {
		t.Helper()
		got, err := w.check(t.Context(), false)
		if got != want {
			t.Fatalf("check: %d (%v), want %d", got, err, want)
		}
	}

	// Missing at start: empty index, logged once.
	if err := w.initialLoad(t.Context(), time.Second); err != nil {
		t.Fatalf("initial load of a missing file: %v", err)
	}
	check(checkKept)
	if n := count("acme.json does not exist; no certificates served from it until it is created"); n != 1 {
		t.Errorf("missing file logged %d times, want 1", n)
	}
	if n := logs.FilterMessageSnippet("keeping previous").Len(); n != 0 {
		t.Errorf("a file that never existed logged %d times as keeping previous certificates", n)
	}

	// Appears.
	if err := os.WriteFile(path, v1, 0o600); err != nil {
		t.Fatal(err)
	}
	backdate(t, path, time.Minute)
	check(checkSwapped)
	check(checkUnchanged)
	if !serves("first.example.test") {
		t.Fatal("first certificate not served")
	}

	// Truncated in the middle of the JSON: kept, logged once.
	rewriteInPlace(t, path, v2[:len(v2)/2])
	backdate(t, path, time.Minute)
	check(checkKept)
	for range 4 {
		check(checkUnchanged)
	}
	if n := count(notParse); n != 1 {
		t.Errorf("truncated file logged %d times, want 1", n)
	}
	if !serves("first.example.test") {
		t.Fatal("previous index not kept for a truncated file")
	}

	// Empty (Traefik's truncate before the write): kept.
	rewriteInPlace(t, path, nil)
	backdate(t, path, 50*time.Second)
	check(checkKept)
	check(checkUnchanged)
	if n := count(notParse); n != 2 {
		t.Errorf("after an empty file, %d warnings, want 2", n)
	}
	if !serves("first.example.test") {
		t.Fatal("previous index not kept for an empty file")
	}

	// A fresh partial write is not complained about until it settles.
	rewriteInPlace(t, path, v2[:len(v2)-10])
	check(checkKept)
	check(checkKept) // still fresh: read again, same content, same verdict
	if n := count(notParse); n != 2 {
		t.Errorf("fresh partial file logged as a warning (%d warnings)", n)
	}
	backdate(t, path, 40*time.Second)
	check(checkKept)
	if n := count(notParse); n != 3 {
		t.Errorf("settled partial file: %d warnings, want 3", n)
	}

	// Rename-over with new content.
	replaceByRename(t, path, v2)
	backdate(t, path, 30*time.Second)
	check(checkSwapped)
	if !serves("first.example.test") || !serves("second.example.test") {
		t.Fatal("renamed file not loaded")
	}

	// Unchanged bytes with a new mtime: nothing to do.
	backdate(t, path, 20*time.Second)
	check(checkUnchanged)

	// Same size and same mtime, new content: seen only because the file was
	// fresh when last read (racy); the swap of two entries changes which one
	// serves a name they share.
	a := ca.issue(t, leafSpec{names: []string{"pair.example.test"}, notAfter: pinnedTime.AddDate(0, 0, 50)})
	b := ca.issue(t, leafSpec{names: []string{"pair.example.test"}, notAfter: pinnedTime.AddDate(0, 0, 50)})
	ab := marshalFile(t, acmejson.File{"le": {Certificates: []*acmejson.Certificate{a, b}}})
	ba := marshalFile(t, acmejson.File{"le": {Certificates: []*acmejson.Certificate{b, a}}})
	if len(ab) != len(ba) {
		t.Fatal("swapped file differs in size")
	}
	rewriteInPlace(t, path, ab)
	check(checkSwapped)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	rewriteInPlace(t, path, ba)
	if err := os.Chtimes(path, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	check(checkSwapped)
	if got := w.index.Load().lookup("pair.example.test"); got == nil || !bytes.Equal(got.cert.tls.Leaf.Raw, leafOf(t, b).Raw) {
		t.Fatal("same-size, same-mtime rewrite was not picked up")
	}

	// Broken entries in a fresh file wait for it to settle, then are
	// skipped and logged once.
	bad := ca.issue(t, leafSpec{names: []string{"bad.example.test"}})
	bad.Certificate = []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
	withBad := marshalFile(t, acmejson.File{"le": {Certificates: []*acmejson.Certificate{first, bad}}})
	rewriteInPlace(t, path, withBad)
	check(checkRetry)
	if !serves("pair.example.test") || serves("first.example.test") {
		t.Fatal("index replaced before a file with broken entries settled")
	}
	backdate(t, path, 10*time.Second)
	check(checkSwapped)
	check(checkUnchanged)
	check(checkUnchanged)
	if n := count("skipping certificate entry"); n != 1 {
		t.Errorf("broken entry logged %d times, want 1", n)
	}
	if serves("pair.example.test") || !serves("first.example.test") {
		t.Fatal("settled file with a broken entry not loaded")
	}

	// Deleted: kept, logged once.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	check(checkKept)
	check(checkKept)
	if n := count("acme.json does not exist any more; keeping previous certificates"); n != 1 {
		t.Errorf("deleted file: %d warnings, want 1", n)
	}
	if !serves("first.example.test") {
		t.Fatal("previous index not kept for a deleted file")
	}
}

// TestGetCertPicksUpNewCertificate adds a certificate to the live file,
// atomically (rename) and in place (as Traefik writes), and expects it on
// new handshakes within visibleWithin.
func TestGetCertPicksUpNewCertificate(t *testing.T) {
	ca := newTestCA(t, 1)
	for _, tt := range []struct {
		desc  string
		write func(tb testing.TB, path string, data []byte)
	}{
		{"rename", replaceByRename},
		{"in place", rewriteInPlace},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			f := loadFixture(t, "traefik-v3-acme.json")
			pebble := fixtureRoots(t, "pebble-root.pem")
			h1 := fixtureLeaves(t, f)["h1.example.test"]
			env := newLocalCaddyEnv(t)
			path := startGetCertCaddy(t, env, marshalFile(t, f), "", "")
			env.waitCert(t, "h1.example.test", pebble, 5*time.Second, expectLeaf(h1))
			if _, err := env.handshake("new.example.test", ca.pool); err == nil {
				t.Fatal("new.example.test served before it was added")
			}

			entry := ca.issue(t, leafSpec{names: []string{"new.example.test", "*.new.example.test"}})
			f.Ensure("le-http").Upsert(entry.Names(), entry.Certificate, entry.Key)
			tt.write(t, path, marshalFile(t, f))
			leaf := leafOf(t, entry)
			env.waitCert(t, "new.example.test", ca.pool, visibleWithin, expectLeaf(leaf))
			env.waitCert(t, "www.new.example.test", ca.pool, time.Second, expectLeaf(leaf))
			env.waitCert(t, "h1.example.test", pebble, time.Second, expectLeaf(h1))
		})
	}
}

// TestGetCertSurvivesBrokenFile truncates the live file mid-JSON, empties
// it, then replaces it by rename: old certificates are served throughout,
// the broken states are logged once each, and the replacement is picked up.
func TestGetCertSurvivesBrokenFile(t *testing.T) {
	ca := newTestCA(t, 1)
	f := loadFixture(t, "traefik-v3.6.21-rich-acme.json")
	leaves := fixtureLeaves(t, f)
	roots := fixtureRoots(t, "traefik-v3.6.21-rich-root.pem")
	env := newLocalCaddyEnv(t)
	data := marshalFile(t, f)
	path := startGetCertCaddy(t, env, data, "", "100ms")
	env.waitCert(t, "a.example.test", roots, 5*time.Second, expectLeaf(leaves["a.example.test"]))

	servesAll := func() {
		t.Helper()
		for _, sni := range []string{"a.example.test", "tls1.example.test", "x.wild.example.test"} {
			name := sni
			if strings.HasPrefix(sni, "x.") {
				name = "*.wild.example.test"
			}
			chain, err := env.handshake(sni, roots)
			if err != nil {
				t.Fatalf("%s: %v", sni, err)
			}
			if !bytes.Equal(chain[0].Raw, leaves[name].Raw) {
				t.Fatalf("%s: wrong certificate", sni)
			}
		}
	}
	warnings := func(sub string) int {
		b, err := os.ReadFile(env.Log)
		if err != nil {
			return 0
		}
		n := 0
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, `"level":"warn"`) && strings.Contains(line, "acme.json does not parse") && strings.Contains(line, sub) {
				n++
			}
		}
		return n
	}

	rewriteInPlace(t, path, data[:len(data)/3])
	waitFor(t, "the truncated file to be reported", 5*time.Second, func() bool { return warnings("decoding JSON") > 0 })
	servesAll()

	rewriteInPlace(t, path, nil)
	waitFor(t, "the empty file to be reported", 5*time.Second, func() bool { return warnings("is empty") > 0 })
	servesAll()

	entry := ca.issue(t, leafSpec{names: []string{"renamed.example.test"}})
	f.Ensure("http-ec").Upsert(entry.Names(), entry.Certificate, entry.Key)
	replaceByRename(t, path, marshalFile(t, f))
	env.waitCert(t, "renamed.example.test", ca.pool, visibleWithin, expectLeaf(leafOf(t, entry)))
	servesAll()

	if n := warnings("decoding JSON"); n != 1 {
		t.Errorf("truncated file reported %d times, want once", n)
	}
	if n := warnings("is empty"); n != 1 {
		t.Errorf("empty file reported %d times, want once", n)
	}
}

// TestGetCertRewriteLoop rewrites the live file 200 times in place (truncate
// + write, like Traefik), concurrently with handshakes for names present in
// every version, which must always get their own certificate, never a
// stale duplicate nor none. Versions differ in an extra certificate and in
// a stale duplicate of a served name (older NotAfter) that must never win.
func TestGetCertRewriteLoop(t *testing.T) {
	const rewrites = 200
	ca := newTestCA(t, 2)
	base := loadFixture(t, "traefik-v3.6.21-rich-acme.json")
	leaves := fixtureLeaves(t, base)
	roots := fixtureRoots(t, "traefik-v3.6.21-rich-root.pem")
	stale := ca.issue(t, leafSpec{names: []string{"plain.example.test", "a.example.test"}, notAfter: pinnedTime.AddDate(0, 1, 0)})

	extras := make([]*acmejson.Certificate, 7)
	for i := range extras {
		extras[i] = ca.issue(t, leafSpec{names: []string{"extra" + string(rune('a'+i)) + ".example.test"}, key: i % 2})
	}
	versions := make([][]byte, rewrites)
	for i := range versions {
		f := cloneFile(t, base)
		r := f.Ensure("http-ec")
		r.Certificates = append(r.Certificates, extras[i%len(extras)])
		if i%3 == 0 {
			r.Certificates = append([]*acmejson.Certificate{stale}, r.Certificates...)
		}
		if i%5 == 0 {
			f.Ensure("zz-more").Certificates = []*acmejson.Certificate{extras[(i+1)%len(extras)]}
		}
		versions[i] = marshalFile(t, f)
	}

	env := newLocalCaddyEnv(t)
	path := startGetCertCaddy(t, env, versions[0], "", "10ms")
	checks := []struct{ sni, name string }{
		{"a.example.test", "a.example.test"},
		{"b.example.test", "b.example.test"},
		{"plain.example.test", "plain.example.test"},
		{"tls1.example.test", "tls1.example.test"},
		{"wild.example.test", "wild.example.test"},
		{"deep.wild.example.test", "*.wild.example.test"},
	}
	for _, c := range checks {
		env.waitCert(t, c.sni, roots, 5*time.Second, expectLeaf(leaves[c.name]))
	}

	progress := make(chan struct{}, 64)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var handshakes, failures atomic.Int64
	for g := range 3 {
		wg.Go(func() {
			for i := g; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				c := checks[i%len(checks)]
				chain, err := env.handshake(c.sni, roots)
				handshakes.Add(1)
				switch {
				case err != nil:
					failures.Add(1)
					t.Errorf("rewrite loop: %s: %v", c.sni, err)
				case !bytes.Equal(chain[0].Raw, leaves[c.name].Raw):
					failures.Add(1)
					t.Errorf("rewrite loop: %s: wrong certificate (serial %s)", c.sni, chain[0].SerialNumber)
				}
				select {
				case progress <- struct{}{}:
				default:
				}
			}
		})
	}
	for i := 1; i < rewrites; i++ {
		rewriteInPlace(t, path, versions[i])
		// Let a few handshakes run against this version before the next.
		for range 2 {
			<-progress
		}
		if failures.Load() > 10 {
			break
		}
	}
	close(stop)
	wg.Wait()

	last := extras[(rewrites-1)%len(extras)]
	env.waitCert(t, last.Domain.Main, ca.pool, visibleWithin, expectLeaf(leafOf(t, last)))
	log, err := os.ReadFile(env.Log)
	if err != nil {
		t.Fatal(err)
	}
	reloads := strings.Count(string(log), "loaded certificates from acme.json")
	t.Logf("%d rewrites, %d handshakes, %d reloads; reads caught mid-write: %d torn, %d not parsing, %d with broken entries",
		rewrites, handshakes.Load(), reloads,
		strings.Count(string(log), "acme.json changed while being read"),
		strings.Count(string(log), "acme.json does not parse yet"),
		strings.Count(string(log), "acme.json has broken entries"))
	if reloads < 10 {
		t.Errorf("only %d reloads during %d rewrites: the loop did not exercise reloading", reloads, rewrites)
	}
}
