package traefikacme

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
)

// racyWindow is how recently before a read the file may have been modified
// for an unchanged stat not to be trusted: a write within the timestamp
// granularity of the file system could leave size and modification time as
// they were. While the file is that fresh, every poll reads it again and
// compares its hash.
const racyWindow = time.Second

// errEmptyFile reports an acme.json with no content, which Traefik's
// in-place rewrite shows for a moment.
var errEmptyFile = errors.New("acme.json is empty")

// acmeJSONWatcher loads one acme.json file and keeps its index current.
// index may be read from any goroutine; every other field belongs to the
// goroutine that calls check (Provision's, then the poller).
type acmeJSONWatcher struct {
	path      string
	resolvers []string // nil for all
	logger    *zap.Logger
	index     atomic.Pointer[certIndex]

	stat    os.FileInfo // the file as last read completely; nil forces a read
	racy    bool        // the file was modified within racyWindow before that read
	sum     [32]byte    // SHA-256 of the content last handled
	pending bool        // content with sum must be handled again once the file is no longer racy
	// pendingResult and pendingErr are the answer for pending content
	// while the file is still racy.
	pendingResult checkResult
	pendingErr    error
	problem       string // the unavailability last logged, so it is logged once
	loading       bool   // in initialLoad, whose errors fail provisioning (not logged as warnings)
}

func newACMEJSONWatcher(path string, resolvers []string, logger *zap.Logger) *acmeJSONWatcher {
	if logger == nil {
		logger = zap.NewNop()
	}
	var rs []string
	if len(resolvers) > 0 {
		rs = slices.Clone(resolvers)
		slices.Sort(rs)
	}
	return &acmeJSONWatcher{path: path, resolvers: rs, logger: logger}
}

// checkResult is what one check did.
type checkResult int

const (
	checkUnchanged checkResult = iota // nothing new to do
	checkSwapped                      // a new index is in place
	checkKept                         // the file cannot be used (err says why); the previous index stays
	checkRetry                        // the file is changing; the next check tries again
)

// initialLoad performs the first load, waiting up to timeout for a file
// that is being rewritten to settle. A missing file gives an empty index.
func (w *acmeJSONWatcher) initialLoad(ctx context.Context, timeout time.Duration) error {
	w.index.Store(newCertIndex(0))
	w.loading = true
	defer func() { w.loading = false }()
	deadline := time.Now().Add(timeout)
	for {
		final := !time.Now().Before(deadline)
		res, err := w.check(ctx, final)
		switch res {
		case checkUnchanged, checkSwapped:
			return nil
		case checkKept:
			switch {
			case errors.Is(err, fs.ErrNotExist), errors.Is(err, errEmptyFile):
				return nil // served once Traefik writes it
			case !final && w.pending:
				// a fresh file that does not parse may be mid-write
			default:
				return err
			}
		}
		if final {
			return fmt.Errorf("loading %s: the file kept changing for %s", w.path, timeout)
		}
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// run checks the file every interval until ctx is done, then closes done.
func (w *acmeJSONWatcher) run(ctx context.Context, interval time.Duration, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.check(ctx, false)
		}
	}
}

// sameFileState reports whether a and b describe the same, unmodified file
// as far as stat can tell: same file (inode), size and modification time.
func sameFileState(a, b os.FileInfo) bool {
	return a.Size() == b.Size() && a.ModTime().Equal(b.ModTime()) && os.SameFile(a, b)
}

// check looks at the file and, if it changed, reads and indexes it. The new
// index replaces the current one only when the file parsed. With final
// set, a fresh file with broken entries is accepted without waiting for it
// to settle.
//
// The file system calls run in their own goroutine and check gives up with
// ctx's error when ctx ends, so that a read stuck in the kernel (a hung
// network file system) never holds up Cleanup or a reload. Only a regular
// file of at most acmejson.MaxFileSize bytes is read, opened without
// blocking (a named pipe at the path is refused, not waited on).
func (w *acmeJSONWatcher) check(ctx context.Context, final bool) (checkResult, error) {
	fi, err := statWithContext(ctx, w.path)
	if ctx.Err() != nil {
		return checkKept, ctx.Err()
	}
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s: %w", describeNotRegular(fi.Mode()), acmejson.ErrNotRegular)
	}
	if err != nil {
		w.stat = nil
		w.unavailable(err)
		return checkKept, fmt.Errorf("reading %s: %w", w.path, err)
	}
	if w.stat != nil && !w.racy && !w.pending && sameFileState(w.stat, fi) {
		return checkUnchanged, nil
	}
	readStart := time.Now()
	data, err := readWithContext(ctx, w.path)
	if ctx.Err() != nil {
		return checkKept, ctx.Err()
	}
	if err != nil {
		w.stat = nil
		w.unavailable(err)
		return checkKept, fmt.Errorf("reading %s: %w", w.path, err)
	}
	after, err := statWithContext(ctx, w.path)
	if err != nil || !sameFileState(fi, after) {
		// Written while being read: the content may mix two versions.
		w.stat = nil
		w.logger.Debug("acme.json changed while being read; reading again at next check")
		return checkRetry, nil
	}
	if w.problem != "" {
		w.logger.Info("acme.json is readable again")
		w.problem = ""
	}
	w.stat = fi
	w.racy = readStart.Sub(fi.ModTime()) < racyWindow
	sum := sha256.Sum256(data)
	settling := w.racy && !final
	if sum == w.sum {
		switch {
		case !w.pending:
			return checkUnchanged, nil
		case settling:
			// Same content, still too fresh to judge: same verdict.
			return w.pendingResult, w.pendingErr
		}
	}
	w.sum = sum
	w.pending = false

	prev := w.index.Load()
	start := time.Now()
	ix, rep, err := buildCertIndex(data, w.resolvers, prev, start)
	if err == nil && rep.format == acmejson.FormatEmpty && prev != nil && prev.entries > 0 {
		err = errEmptyFile
	}
	if err != nil {
		if settling {
			// Most likely caught in the middle of Traefik's in-place
			// rewrite: look again before complaining.
			w.setPending(checkKept, err)
			w.logger.Debug("acme.json does not parse yet; keeping previous certificates", zap.Error(err))
			return checkKept, err
		}
		switch {
		case w.loading:
			// The error fails provisioning; nothing was kept.
		case w.hasCertificates():
			w.logger.Warn("acme.json does not parse; keeping previous certificates", zap.Error(err))
		default:
			w.logger.Warn("acme.json does not parse; no certificates served from it", zap.Error(err))
		}
		return checkKept, err
	}
	if len(rep.skipped) > 0 && settling {
		// A torn read can break single entries; wait for the file to
		// settle before serving without them.
		w.setPending(checkRetry, nil)
		w.logger.Debug("acme.json has broken entries; waiting for it to settle", zap.Int("skipped", len(rep.skipped)))
		return checkRetry, nil
	}
	w.index.Store(ix)

	for _, s := range rep.skipped {
		w.logger.Warn("skipping certificate entry",
			zap.String("resolver", s.resolver),
			zap.Int("index", s.position),
			zap.Strings("domain", s.domain),
			zap.Error(s.err))
	}
	for _, r := range rep.missing {
		w.logger.Warn("resolver not found in acme.json", zap.String("resolver", r))
	}
	w.logger.Info("loaded certificates from acme.json",
		zap.Stringer("format", rep.format),
		zap.Strings("resolvers", rep.resolved),
		zap.Int("certificates", ix.entries),
		zap.Int("names", len(ix.exact)+len(ix.wildcard)),
		zap.Int("skipped", len(rep.skipped)),
		zap.Int("expired", rep.expired),
		zap.Int("reused", rep.reused),
		zap.Duration("took", time.Since(start)))
	return checkSwapped, nil
}

// readACMEJSON reads the watched file: acmejson.ReadFile (a regular file
// only, bounded, opened without blocking). Tests replace it to simulate a
// read that hangs.
var readACMEJSON = acmejson.ReadFile

// readWithContext calls readACMEJSON in its own goroutine and returns
// ctx's error as soon as ctx is done, leaving a stuck read behind (its
// goroutine ends when the read does).
func readWithContext(ctx context.Context, path string) ([]byte, error) {
	type result struct {
		data []byte
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		data, _, err := readACMEJSON(path)
		ch <- result{data, err}
	}()
	select {
	case r := <-ch:
		return r.data, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// statWithContext is os.Stat given up when ctx is done, as readWithContext.
func statWithContext(ctx context.Context, path string) (os.FileInfo, error) {
	type result struct {
		fi  os.FileInfo
		err error
	}
	ch := make(chan result, 1)
	go func() {
		fi, err := os.Stat(path)
		ch <- result{fi, err}
	}()
	select {
	case r := <-ch:
		return r.fi, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// describeNotRegular names what a file of mode m is.
func describeNotRegular(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "is a directory"
	case m&fs.ModeNamedPipe != 0:
		return "is a named pipe (FIFO)"
	case m&fs.ModeCharDevice != 0:
		return "is a character device"
	case m&fs.ModeDevice != 0:
		return "is a block device"
	case m&fs.ModeSocket != 0:
		return "is a socket"
	}
	return "is a special file"
}

// setPending records that the content just read must be judged again once
// the file has settled, and what to answer until then.
func (w *acmeJSONWatcher) setPending(res checkResult, err error) {
	w.pending = true
	w.pendingResult = res
	w.pendingErr = err
}

// unavailable logs that the file cannot be read, once per distinct problem.
func (w *acmeJSONWatcher) unavailable(err error) {
	problem := err.Error()
	if errors.Is(err, fs.ErrNotExist) {
		problem = "missing"
	}
	if problem == w.problem {
		return
	}
	w.problem = problem
	w.sum = [32]byte{}
	w.pending = false
	missing := errors.Is(err, fs.ErrNotExist)
	switch {
	case w.loading && !missing:
		// The error fails provisioning; nothing was kept.
	case missing && w.hasCertificates():
		w.logger.Warn("acme.json does not exist any more; keeping previous certificates")
	case missing:
		// Traefik may create it later: a warning, not an error.
		w.logger.Warn("acme.json does not exist; no certificates served from it until it is created")
	case w.hasCertificates():
		w.logger.Warn("acme.json unavailable; keeping previous certificates", zap.Error(err))
	default:
		w.logger.Warn("acme.json unavailable; no certificates served from it", zap.Error(err))
	}
}

// hasCertificates reports whether the current index holds certificates,
// which a failed reload keeps serving.
func (w *acmeJSONWatcher) hasCertificates() bool {
	ix := w.index.Load()
	return ix != nil && ix.entries > 0
}
