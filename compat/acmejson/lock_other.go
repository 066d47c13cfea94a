//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package acmejson

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// staleLockAge is how old "<file>.lock" must be before it is considered left
// behind by a process that died.
const staleLockAge = 2 * time.Minute

// lockPath is the fallback lock for systems without flock (Windows, Solaris,
// AIX, …): it creates "<target>.lock" exclusively (O_CREATE|O_EXCL), polling
// every 20ms while another process holds it, and deletes it on unlock. A
// lock file older than two minutes is taken to be left by a crashed process
// and removed. This is weaker than flock (a writer stalled for longer than
// that loses the lock), which is acceptable for a file written in well under
// a second.
func lockPath(target string) (unlock func(), err error) {
	name := target + ".lock"
	for {
		fh, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			_, _ = fmt.Fprintf(fh, "%d\n", os.Getpid())
			_ = fh.Close()
			return func() { _ = os.Remove(name) }, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		if fi, serr := os.Stat(name); serr == nil && time.Since(fi.ModTime()) > staleLockAge {
			_ = os.Remove(name)
			continue
		}
		time.Sleep(20 * time.Millisecond)
	}
}
