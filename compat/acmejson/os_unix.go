//go:build unix

package acmejson

import (
	"errors"
	"io/fs"
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
