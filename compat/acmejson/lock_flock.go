//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package acmejson

import (
	"errors"
	"os"
	"syscall"
)

// lockPath takes an exclusive advisory lock (flock) on "<target>.lock",
// creating that file with mode 0600 if needed, and returns the function that
// releases it. It blocks until the lock is free. The kernel releases the
// lock when the process dies, so a crashed writer never leaves it held. The
// lock file is left in place: removing it would let two processes lock two
// different inodes.
func lockPath(target string) (unlock func(), err error) {
	fh, err := os.OpenFile(target+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	fd := int(fh.Fd())
	for {
		err = syscall.Flock(fd, syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		fh.Close()
		return nil, err
	}
	return func() {
		_ = syscall.Flock(fd, syscall.LOCK_UN)
		_ = fh.Close()
	}, nil
}
