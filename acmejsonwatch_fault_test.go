//go:build unix

package traefikacme

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
)

// TestAcmeJSONManagerRefusesSpecialFiles: a named pipe or a device at the
// path makes Provision fail at once with a clear error (it used to wait
// forever for a writer, or read /dev/zero until memory ran out).
func TestAcmeJSONManagerRefusesSpecialFiles(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "acme.json")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ path, want string }{
		{fifo, "is a named pipe (FIFO)"},
		{"/dev/zero", "is a character device"},
	} {
		ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
		m := &ACMEJSONManager{Path: tt.path}
		err := m.Provision(ctx)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, acmejson.ErrNotRegular) {
			t.Errorf("%s: error %v", tt.path, err)
		}
		if err := m.Cleanup(); err != nil {
			t.Error(err)
		}
		cancel()
	}
}

// TestAcmeJSONManagerCleanupWithStuckRead: a poll whose read hangs (a hung
// network file system) does not hold up Cleanup, so Caddy stops or
// reloads; the read's goroutine ends when the read does.
func TestAcmeJSONManagerCleanupWithStuckRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "acme.json")
	if err := os.WriteFile(path, marshalFile(t, loadFixture(t, "traefik-v3-acme.json")), 0o600); err != nil {
		t.Fatal(err)
	}
	var armed atomic.Bool
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	orig := readACMEJSON
	readACMEJSON = func(p string) ([]byte, os.FileInfo, error) {
		if p == path && armed.Load() {
			select {
			case entered <- struct{}{}:
			default:
			}
			<-release
		}
		return orig(p)
	}
	t.Cleanup(func() { readACMEJSON = orig })
	ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
	defer cancel()
	m := &ACMEJSONManager{Path: path, PollInterval: caddy.Duration(minPollInterval)}
	if err := m.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	armed.Store(true)
	// A change makes the next poll read the file.
	if err := os.WriteFile(path, marshalFile(t, loadFixture(t, "traefik-v2-acme.json")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, time.Now().Add(-time.Minute), time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	<-entered
	if err := m.Cleanup(); err != nil { // returns although the read is stuck
		t.Fatal(err)
	}
	close(release)
}
