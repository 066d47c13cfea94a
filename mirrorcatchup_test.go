package traefikacme

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
	"github.com/ac075510/caddy-traefik-acme/compat/config"
)

// catchUpFixture is a stores with one resolver ("le-http") whose acme.json
// is a copy of the Traefik v3 fixture, a file storage, and one certificate
// in storage, issued through the resolver, that the file does not hold.
type catchUpFixture struct {
	s        *stores
	logs     *observer.ObservedLogs
	path     string
	orig     []byte
	name     string
	cert     *acmejson.Certificate
	noteKeys func() []string
}

func newCatchUpFixture(t *testing.T) *catchUpFixture {
	t.Helper()
	orig, err := os.ReadFile(filepath.Join("testdata", "acmejson", "traefik-v3-acme.json"))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "acme.json")
	if err := os.WriteFile(p, orig, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := acmejson.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	// A certificate of another resolver stands for one Caddy obtained.
	cert := f["le-dns"].Certificates[0]
	name := cert.Domain.Main
	if f["le-http"].Find(name) >= 0 {
		t.Fatalf("fixture: le-http already holds %s", name)
	}
	core, logs := observer.New(zap.DebugLevel)
	logger := zap.New(core)
	storage := &certmagic.FileStorage{Path: t.TempDir()}
	const issuerKey = "ca.example.test-directory"
	s := &stores{
		storage: storage,
		logger:  logger,
		byResolver: map[string]*resolverStore{
			"le-http": {name: "le-http", path: p, res: &config.ACME{Email: "ops@example.org"}, issuerKey: issuerKey},
		},
		writers: map[string]*acmejson.Batcher{p: acmejson.NewBatcher(p, acmejson.LoadOptions{Resolver: "le-http", Operation: "mirror"})},
	}
	ctx := t.Context()
	for key, v := range map[string][]byte{
		certmagic.StorageKeys.SiteCert(issuerKey, name):       cert.Certificate,
		certmagic.StorageKeys.SitePrivateKey(issuerKey, name): cert.Key,
	} {
		if err := storage.Store(ctx, key, v); err != nil {
			t.Fatal(err)
		}
	}
	s.noteIssued(ctx, "le-http", []string{name})
	noteKeys := func() []string {
		keys, err := storage.List(context.Background(), mirrorNoteDir("le-http"), false)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		return keys
	}
	if len(noteKeys()) != 1 {
		t.Fatal("issuance not noted")
	}
	return &catchUpFixture{s: s, logs: logs, path: p, orig: orig, name: name, cert: cert, noteKeys: noteKeys}
}

// holds reports whether the file holds the fixture's certificate under
// le-http, with the other resolvers as they were.
func (fx *catchUpFixture) holds(t *testing.T) bool {
	t.Helper()
	f, err := acmejson.Load(fx.path)
	if err != nil {
		return false
	}
	i := f["le-http"].Find(fx.name)
	return i >= 0 && bytes.Equal(f["le-http"].Certificates[i].Certificate, fx.cert.Certificate)
}

// TestCatchUpAfterFailedMirror: while the file cannot be written the note
// stays; once it can, the catch-up writes the certificate, removes the note,
// and a further catch-up writes nothing.
func TestCatchUpAfterFailedMirror(t *testing.T) {
	fx := newCatchUpFixture(t)
	ctx := t.Context()
	// Locked out: the path holds something that is not an acme.json.
	if err := os.WriteFile(fx.path, []byte("not an acme.json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := fx.s.catchUp(ctx); err == nil {
		t.Fatal("catch-up into a file that cannot be written succeeded")
	}
	if len(fx.noteKeys()) != 1 {
		t.Fatal("note lost after a failed catch-up")
	}
	if err := os.WriteFile(fx.path, fx.orig, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := fx.s.catchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if !fx.holds(t) {
		t.Fatal("certificate not caught up")
	}
	if keys := fx.noteKeys(); len(keys) != 0 {
		t.Fatalf("notes left: %v", keys)
	}
	before, _ := os.Stat(fx.path)
	content, _ := os.ReadFile(fx.path)
	// Current: nothing to write, even when noted again.
	fx.s.noteIssued(ctx, "le-http", []string{fx.name})
	if err := fx.s.catchUp(ctx); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(fx.path)
	if got, _ := os.ReadFile(fx.path); !os.SameFile(before, after) || !before.ModTime().Equal(after.ModTime()) || !bytes.Equal(got, content) {
		t.Error("a current file was rewritten")
	}
}

// waitLog waits until a log entry with msg was written.
func waitLog(t *testing.T, logs *observer.ObservedLogs, msg string) {
	t.Helper()
	for logs.FilterMessage(msg).Len() == 0 {
		select {
		case <-t.Context().Done():
			t.Fatalf("no log %q", msg)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestCatchUpRetriesInBackground: started (as by the app's Start) while the
// file cannot be written, the catch-up logs, retries with backoff, and
// writes the certificate once the cause is gone; Stop ends it.
func TestCatchUpRetriesInBackground(t *testing.T) {
	fx := newCatchUpFixture(t)
	old := catchUpBackoffMin
	catchUpBackoffMin = 10 * time.Millisecond
	t.Cleanup(func() { catchUpBackoffMin = old })
	if err := os.WriteFile(fx.path, []byte("not an acme.json"), 0o600); err != nil {
		t.Fatal(err)
	}
	fx.s.startCatchUp()
	t.Cleanup(fx.s.stopCatchUp)
	waitLog(t, fx.logs, "acme.json is behind Caddy's storage; retrying")
	if err := os.WriteFile(fx.path, fx.orig, 0o600); err != nil {
		t.Fatal(err)
	}
	waitLog(t, fx.logs, "acme.json caught up with Caddy's storage")
	if !fx.holds(t) || len(fx.noteKeys()) != 0 {
		t.Fatal("not caught up")
	}
	fx.s.stopCatchUp()
}

// TestCatchUpAtStartNotAtValidate runs the app from a JSON configuration:
// `caddy validate` (Provision without Start) leaves the file and the note
// alone; `caddy run` catches the file up.
func TestCatchUpAtStartNotAtValidate(t *testing.T) {
	fx := newCatchUpFixture(t)
	storageRoot := fx.s.storage.(*certmagic.FileStorage).Path
	cfgJSON, err := json.Marshal(map[string]any{
		"admin":   map[string]any{"disabled": true},
		"storage": map[string]any{"module": "file_system", "root": storageRoot},
		"apps": map[string]any{"traefik_acme": map[string]any{"resolvers": map[string]any{
			"le-http": map[string]any{"email": "ops@example.org", "storage": fx.path, "ca_server": "https://ca.example.test/directory", "tls_challenge": map[string]any{}},
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var cfg caddy.Config
	if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(fx.path)
	if err := caddy.Validate(&cfg); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(fx.path)
	if got, _ := os.ReadFile(fx.path); !bytes.Equal(got, fx.orig) || !os.SameFile(before, after) || len(fx.noteKeys()) != 1 {
		t.Fatal("validate wrote the file or consumed the note")
	}
	if err := caddy.Load(cfgJSON, true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = caddy.Stop() })
	for !fx.holds(t) || len(fx.noteKeys()) != 0 {
		select {
		case <-t.Context().Done():
			t.Fatal("the file did not catch up at start")
		case <-time.After(20 * time.Millisecond):
		}
	}
}
