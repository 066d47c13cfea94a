//go:build unix

package acmejson

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"syscall"
)

// permissionsTooOpen reports whether the group or others have any access to
// the file, which Traefik refuses ("permissions 644 for … are too open").
func permissionsTooOpen(fi fs.FileInfo) bool {
	return fi.Mode().Perm()&0o077 != 0
}

// ownedByCurrentUser reports whether the effective user owns the file.
func ownedByCurrentUser(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int64(st.Uid) == int64(os.Geteuid())
}

// syncDir fsyncs a directory so that a rename in it is durable. File systems
// that cannot sync directories (EINVAL, ENOTSUP) are not an error.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) {
		return nil
	}
	return err
}

// renameNotPossible reports whether a rename failed because the target
// cannot be replaced (a bind-mounted file gives EBUSY; EXDEV for a target on
// another mount), in which case an in-place write is the only option.
func renameNotPossible(err error) bool {
	return errors.Is(err, syscall.EBUSY) || errors.Is(err, syscall.EXDEV)
}

// openNonblock is added to every open: opening a named pipe then returns at
// once instead of waiting for a writer (the file is refused after fstat).
const openNonblock = syscall.O_NONBLOCK

// keepOwner gives fh the owner and group of cur (the file fh replaces), so
// that a write as root does not take the file away from a non-root Traefik.
// A failure (not permitted) is logged; the write goes on.
func keepOwner(fh *os.File, cur fs.FileInfo, log *slog.Logger, target string) {
	if cur == nil {
		return
	}
	want, ok := cur.Sys().(*syscall.Stat_t)
	if !ok {
		return
	}
	fi, err := fh.Stat()
	if err != nil {
		return
	}
	have, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || (have.Uid == want.Uid && have.Gid == want.Gid) {
		return
	}
	if err := fh.Chown(int(want.Uid), int(want.Gid)); err != nil {
		log.Warn("cannot keep the owner and group of acme.json", slog.String("path", target),
			slog.Int("uid", int(want.Uid)), slog.Int("gid", int(want.Gid)), slog.String("error", err.Error()))
	}
}
