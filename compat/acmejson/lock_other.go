//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package acmejson

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"time"
)

// staleLockAge is how old "<file>.lock" must be before it is considered left
// behind by a process that died.
const staleLockAge = 2 * time.Minute

// lockWaitLogAfter is how long lockTarget waits silently before it logs.
var lockWaitLogAfter = 5 * time.Second

// lockedTarget is a file held under the lock.
type lockedTarget struct {
	fh      *os.File
	fi      fs.FileInfo
	created bool
	unlock  func()
}

// lockTarget is the fallback lock for systems without flock (Windows,
// Solaris, AIX, …): it creates "<target>.lock" exclusively
// (O_CREATE|O_EXCL), polling every 20ms while another process holds it
// (logging after lockWaitLogAfter, giving up when ctx is done), and deletes
// it on unlock. A lock file older than two minutes is taken to be left by a
// crashed process and removed. This is weaker than flock (a writer stalled
// for longer than that loses the lock), which is acceptable for a file
// written in well under a second. The target is then opened (created empty
// when absent).
func lockTarget(ctx context.Context, target, path string, log *slog.Logger, operation string) (*lockedTarget, error) {
	name := target + ".lock"
	start := time.Now()
	logged := false
	for {
		fh, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			_, _ = fmt.Fprintf(fh, "%d\n", os.Getpid())
			_ = fh.Close()
			break
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		if fi, serr := os.Stat(name); serr == nil && time.Since(fi.ModTime()) > staleLockAge {
			_ = os.Remove(name)
			continue
		}
		if !logged && time.Since(start) >= lockWaitLogAfter {
			log.Warn("waiting for the acme.json lock held by another process", slog.String("path", path),
				slog.String("operation", operation), slog.Int("pid", os.Getpid()))
			logged = true
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for the lock held by another process: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	unlock := func() { _ = os.Remove(name) }
	created := false
	fh, fi, err := openRegular(target, os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		fh, fi, err = openRegular(target, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o600)
		created = err == nil
	}
	if err != nil {
		unlock()
		return nil, err
	}
	return &lockedTarget{fh: fh, fi: fi, created: created, unlock: unlock}, nil
}

// release removes the file lockTarget created when nothing was written to
// it, then unlocks.
func (l *lockedTarget) release(target string, written bool) {
	_ = l.fh.Close()
	if l.created && !written {
		if fi, err := os.Stat(target); err == nil && os.SameFile(fi, l.fi) && fi.Size() == 0 {
			_ = os.Remove(target)
		}
	}
	l.unlock()
}
