//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package acmejson

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"syscall"
	"time"
)

// lockedTarget is a file held under an exclusive flock.
type lockedTarget struct {
	// fh is the file, open read-only at offset 0.
	fh *os.File
	// fi describes fh once locked.
	fi fs.FileInfo
	// created reports whether lockTarget created the (empty) file.
	created bool
}

// lockWaitLogAfter is how long lockTarget waits silently before it logs;
// lockWaitLogEvery is how often it logs again. Tests shorten them.
var (
	lockWaitLogAfter = 5 * time.Second
	lockWaitLogEvery = time.Minute
)

// lockTarget takes an exclusive advisory lock (flock) on the file target
// itself, creating it empty with mode 0600 when it does not exist, and
// returns it open. Locking the file rather than a sibling lock file means
// that every process that opens the same inode — two containers
// bind-mounting one host file included, which see different directories —
// takes the same lock, and that no file is created beside a file that is
// not ours. Since a writer replaces the file by rename, the lock is taken
// again when path no longer names the locked inode. The kernel releases the
// lock when the process dies. A wait longer than lockWaitLogAfter is logged
// (path, operation, our pid, the holder's pid where known), and ctx ends
// it.
func lockTarget(ctx context.Context, target, path string, log *slog.Logger, operation string) (*lockedTarget, error) {
	start := time.Now()
	nextLog := start.Add(lockWaitLogAfter)
	for {
		created := false
		fh, _, err := openRegular(target, os.O_RDONLY, 0)
		if errors.Is(err, fs.ErrNotExist) {
			fh, _, err = openRegular(target, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if errors.Is(err, fs.ErrExist) {
				continue
			}
			created = err == nil
		}
		if err != nil {
			return nil, err
		}
		if err := flockWait(ctx, fh, path, log, operation, start, &nextLog); err != nil {
			fh.Close()
			return nil, err
		}
		fi, err := fh.Stat()
		if err != nil {
			unlockClose(fh)
			return nil, err
		}
		now, err := os.Stat(target)
		if err == nil && os.SameFile(fi, now) {
			return &lockedTarget{fh: fh, fi: fi, created: created}, nil
		}
		// Replaced (or removed) while we waited: lock the new file.
		unlockClose(fh)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
}

// flockWait takes the lock on fh, polling without blocking so that ctx is
// honoured, and logs while it waits.
func flockWait(ctx context.Context, fh *os.File, path string, log *slog.Logger, operation string, start time.Time, nextLog *time.Time) error {
	rc, err := fh.SyscallConn()
	if err != nil {
		return err
	}
	delay := time.Millisecond
	for {
		var lerr error
		if err := rc.Control(func(fd uintptr) { lerr = syscall.Flock(int(fd), syscall.LOCK_EX|syscall.LOCK_NB) }); err != nil {
			return err
		}
		switch {
		case lerr == nil:
			return nil
		case errors.Is(lerr, syscall.EINTR):
			continue
		case !errors.Is(lerr, syscall.EWOULDBLOCK):
			return lerr
		}
		if now := time.Now(); !now.Before(*nextLog) {
			attrs := []any{slog.String("path", path), slog.String("operation", operation),
				slog.Int("pid", os.Getpid()), slog.Duration("waited", now.Sub(start).Round(time.Millisecond))}
			if holder := lockHolder(fh); holder > 0 {
				attrs = append(attrs, slog.Int("holder_pid", holder))
			}
			log.Warn("waiting for the acme.json lock held by another process", attrs...)
			*nextLog = now.Add(lockWaitLogEvery)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("waiting for the lock held by another process: %w", ctx.Err())
		case <-t.C:
		}
		delay = min(2*delay, 100*time.Millisecond)
	}
}

// unlockClose releases the lock and closes fh.
func unlockClose(fh *os.File) {
	if rc, err := fh.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) { _ = syscall.Flock(int(fd), syscall.LOCK_UN) })
	}
	_ = fh.Close()
}

// release removes the file lockTarget created when nothing was written to
// it (it is still the same empty file), then unlocks.
func (l *lockedTarget) release(target string, written bool) {
	if l.created && !written {
		if fi, err := os.Stat(target); err == nil && os.SameFile(fi, l.fi) && fi.Size() == 0 {
			_ = os.Remove(target)
		}
	}
	unlockClose(l.fh)
}
