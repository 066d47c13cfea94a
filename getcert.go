package traefikacme

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
)

func init() {
	caddy.RegisterModule(ACMEJSONManager{})
}

// ACMEJSONManager serves, at handshake time, the certificates held in a live
// acme.json file that Traefik manages. It is meant for Caddy running in front
// of (or beside) a Traefik that keeps obtaining and renewing certificates:
// both read the same file, Traefik writes it, and Caddy picks up every change
// within a second or two, without a reload and without ever writing the file.
//
// Certificates are selected by the names in the parsed leaf (subject common
// name, DNS and IP SANs, lower-cased), not by the entry's "domain" field:
//
//   - an exact match of the server name (SNI) wins over a wildcard;
//   - otherwise the SNI with its first label replaced by "*" is looked up
//     (one label only: "*.example.com" covers "a.example.com" but not
//     "a.b.example.com" nor "example.com"; "*.*.example.com" never matches);
//   - when several entries cover the same name, the one whose leaf expires
//     last (latest NotAfter) wins; on a tie, the resolver name that sorts
//     first, then the earlier entry in the file. Traefik instead keeps the
//     certificate added first and scans its certificates in
//     reverse-lexicographic order of their sorted name lists, so that a
//     wildcard can shadow an exact certificate and a stale duplicate can
//     shadow its renewal;
//   - without a match the manager returns no certificate and no error, so
//     Caddy goes on with its other managers and then its issuers (Caddy's
//     certificate cache is consulted before any manager).
//
// A get_certificate manager turns on on-demand TLS for its automation
// policy. Unless an on_demand_tls ask endpoint (or permission module)
// refuses, Caddy therefore obtains certificates itself, at handshake time,
// for names the file does not cover; for a catch-all site, that is any
// server name a client sends.
//
// Entries that do not parse, or whose key does not belong to the
// certificate, are skipped and logged once per reload. Expired certificates
// are still served when nothing newer covers the name, as Traefik does.
//
// The file is polled (size, modification time and file identity, so both
// in-place rewrites and rename-over are seen). A changed file is read and
// parsed completely into a new index that replaces the old one only if it
// parsed: while Traefik rewrites the file in place (truncate, then write),
// or when it is truncated, empty or missing, handshakes keep being served
// from the previous index.
//
// JSON:
//
//	{"via": "traefik_acme_json", "path": "/etc/traefik/acme.json", "resolvers": ["le"]}
//
// Caddyfile: see UnmarshalCaddyfile.
type ACMEJSONManager struct {
	// Path is the acme.json file Traefik writes (the resolver's storage
	// option). Placeholders such as {env.ACME_JSON} are expanded when the
	// module is provisioned. The file is opened read-only and never
	// written, so a read-only mount is enough. It may be missing or empty
	// at start (Traefik creates it lazily); its certificates are served
	// once it appears. A file that exists but does not parse as acme.json
	// fails provisioning.
	// Default: none (required).
	Path string `json:"path,omitempty"`

	// Resolvers limits the certificates served to those of the named
	// certificate resolvers (top-level keys of the file). A named resolver
	// that is absent from the file is logged at each reload.
	// Default: all resolvers in the file.
	Resolvers []string `json:"resolvers,omitempty"`

	// PollInterval is how often the file's metadata is checked for
	// changes. Checking costs one stat call; the file is read only when it
	// changed. It must be at least 10ms.
	// Default: 500ms.
	PollInterval caddy.Duration `json:"poll_interval,omitempty"`

	path    string           // Path with placeholders expanded; set at Provision
	watcher *acmeJSONWatcher // set at Provision
	stop    context.CancelFunc
	done    chan struct{} // closed when the poller has returned
	logger  *zap.Logger
}

// defaultPollInterval is the default ACMEJSONManager.PollInterval.
const defaultPollInterval = 500 * time.Millisecond

// minPollInterval is the smallest ACMEJSONManager.PollInterval accepted.
const minPollInterval = 10 * time.Millisecond

// initialLoadTimeout bounds how long Provision waits for a file that is
// being rewritten (or does not parse) to settle.
const initialLoadTimeout = 3 * time.Second

// CaddyModule returns the Caddy module information.
func (ACMEJSONManager) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "tls.get_certificate.traefik_acme_json",
		New: func() caddy.Module { return new(ACMEJSONManager) },
	}
}

// Provision expands placeholders in the path, loads the file into the
// first index and starts polling it. A missing or empty file gives an empty
// index; a file that still does not parse after a short wait (Traefik may
// be rewriting it) is an error.
func (m *ACMEJSONManager) Provision(ctx caddy.Context) error {
	m.logger = ctx.Logger()
	path, err := caddy.NewReplacer().ReplaceOrErr(m.Path, true, true)
	if err != nil {
		return fmt.Errorf("traefik_acme_json: expanding placeholders in path %q: %w", m.Path, err)
	}
	m.path = path
	if err := m.Validate(); err != nil {
		return err
	}
	m.logger = m.logger.With(zap.String("path", m.path))

	w := newACMEJSONWatcher(m.path, m.Resolvers, m.logger)
	if err := w.initialLoad(ctx, initialLoadTimeout); err != nil {
		return fmt.Errorf("traefik_acme_json: %w", err)
	}
	m.watcher = w

	interval := time.Duration(m.PollInterval)
	if interval == 0 {
		interval = defaultPollInterval
	}
	pollCtx, cancel := context.WithCancel(context.Background())
	m.stop = cancel
	m.done = make(chan struct{})
	go w.run(pollCtx, interval, m.done)
	return nil
}

// Validate checks the configuration: a path, a poll interval of at least
// 10ms (or unset) and distinct, non-empty resolver names.
func (m *ACMEJSONManager) Validate() error {
	path := m.path
	if path == "" {
		path = m.Path
	}
	if path == "" {
		return errors.New("traefik_acme_json: missing path to acme.json")
	}
	if d := time.Duration(m.PollInterval); d != 0 && d < minPollInterval {
		return fmt.Errorf("traefik_acme_json: poll_interval %s is below the minimum of %s", d, minPollInterval)
	}
	seen := make(map[string]bool, len(m.Resolvers))
	for _, r := range m.Resolvers {
		if r == "" {
			return errors.New("traefik_acme_json: empty resolver name")
		}
		if seen[r] {
			return fmt.Errorf("traefik_acme_json: resolver %q listed twice", r)
		}
		seen[r] = true
	}
	return nil
}

// Cleanup stops polling the file and waits for the poller to return. It
// may be called more than once (not concurrently), and after a failed
// Provision.
func (m *ACMEJSONManager) Cleanup() error {
	if m.stop != nil {
		m.stop()
		<-m.done
		m.stop = nil
	}
	return nil
}

// GetCertificate implements certmagic.Manager. It returns the certificate
// that covers the handshake's server name (or, without SNI, the local IP
// address) in the current index, or (nil, nil) when none does, so that
// Caddy falls through to its other certificate sources. It takes no lock
// and does no parsing: the index is immutable and replaced atomically.
func (m *ACMEJSONManager) GetCertificate(_ context.Context, hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if m.watcher == nil || hello == nil {
		return nil, nil
	}
	idx := m.watcher.index.Load()
	if idx == nil {
		return nil, nil
	}
	if e := idx.lookup(serverName(hello)); e != nil {
		return &e.cert.tls, nil
	}
	return nil, nil
}

// UnmarshalCaddyfile sets up the manager from Caddyfile tokens:
//
//	get_certificate traefik_acme_json <path> [<resolver>...] {
//		poll_interval <duration>
//	}
//
// inside a site's tls block. Without resolvers, every resolver's
// certificates are served. The block is optional.
func (m *ACMEJSONManager) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume manager name
	if !d.NextArg() {
		return d.Errf("traefik_acme_json: missing path (get_certificate traefik_acme_json <path> [<resolver>...])")
	}
	m.Path = d.Val()
	m.Resolvers = append(m.Resolvers, d.RemainingArgs()...)
	for d.NextBlock(0) {
		switch d.Val() {
		case "poll_interval":
			if !d.NextArg() {
				return d.ArgErr()
			}
			dur, err := caddy.ParseDuration(d.Val())
			if err != nil {
				return d.Errf("traefik_acme_json: parsing poll_interval %q: %v", d.Val(), err)
			}
			m.PollInterval = caddy.Duration(dur)
			if d.NextArg() {
				return d.ArgErr()
			}
		default:
			return d.Errf("traefik_acme_json: unknown subdirective %q", d.Val())
		}
	}
	return nil
}

// serverName returns the name a certificate is looked up by: the SNI,
// lower-cased, trimmed of spaces and of a trailing dot; without SNI, the
// connection's local IP address (as Traefik does).
func serverName(hello *tls.ClientHelloInfo) string {
	name := hello.ServerName
	if name == "" {
		if hello.Conn == nil {
			return ""
		}
		tcp, ok := hello.Conn.LocalAddr().(*net.TCPAddr)
		if !ok {
			return ""
		}
		return tcp.IP.String()
	}
	name = strings.TrimSuffix(strings.TrimSpace(name), ".")
	return strings.ToLower(name) // no allocation when already lower case
}

// servedCert is a parsed, ready-to-serve certificate entry. It is
// immutable once built and may be shared by successive indexes.
type servedCert struct {
	tls      tls.Certificate // chain, key and Leaf
	names    []string        // from the leaf: CN, DNS SANs, IP SANs, lower-cased
	notAfter time.Time
	key      [32]byte // entryHash of the certificate and key bytes it was parsed from
}

// indexEntry is a servedCert at its place in the file.
type indexEntry struct {
	cert     *servedCert
	resolver string
	position int // index in the resolver's Certificates
}

// preferred reports whether a should be served rather than b for a name
// both cover: the later NotAfter, then the resolver name that sorts first,
// then the earlier position in the file.
func (a *indexEntry) preferred(b *indexEntry) bool {
	if !a.cert.notAfter.Equal(b.cert.notAfter) {
		return a.cert.notAfter.After(b.cert.notAfter)
	}
	if a.resolver != b.resolver {
		return a.resolver < b.resolver
	}
	return a.position < b.position
}

// certIndex is an immutable lookup table built from one version of the
// file. Lookups are two map accesses at most.
type certIndex struct {
	exact    map[string]*indexEntry // names without wildcard
	wildcard map[string]*indexEntry // "*.example.com" stored as "example.com"
	byHash   map[[32]byte]*servedCert
	entries  int // indexed certificate entries
}

func newCertIndex(capacity int) *certIndex {
	return &certIndex{
		exact:    make(map[string]*indexEntry, capacity),
		wildcard: make(map[string]*indexEntry),
		byHash:   make(map[[32]byte]*servedCert, capacity),
	}
}

// lookup returns the entry for a normalized server name, or nil: an exact
// match first, then the name with its first label replaced by "*".
func (ix *certIndex) lookup(name string) *indexEntry {
	if name == "" {
		return nil
	}
	if e := ix.exact[name]; e != nil {
		return e
	}
	if i := strings.IndexByte(name, '.'); i > 0 && i < len(name)-1 {
		return ix.wildcard[name[i+1:]]
	}
	return nil
}

// add indexes e under every name of its leaf, keeping the preferred entry
// for names already present. Names with a "*" anywhere but as the whole
// first label ("*.*", "a*.example.com", "*.*.example.com") are not indexed:
// they can never match under Traefik's rule either.
func (ix *certIndex) add(e *indexEntry) {
	for _, name := range e.cert.names {
		table, key := ix.exact, name
		if rest, ok := strings.CutPrefix(name, "*."); ok {
			table, key = ix.wildcard, rest
		}
		if key == "" || strings.Contains(key, "*") {
			continue
		}
		if cur := table[key]; cur == nil || e.preferred(cur) {
			table[key] = e
		}
	}
	ix.byHash[e.cert.key] = e.cert
	ix.entries++
}

// skippedEntry is a certificate entry that could not be indexed.
type skippedEntry struct {
	resolver string
	position int
	domain   []string // requested names, as stored
	err      error
}

// buildReport says what buildCertIndex found besides the index.
type buildReport struct {
	format   acmejson.Format
	skipped  []skippedEntry
	missing  []string // requested resolvers absent from the file
	reused   int      // entries taken from the previous index unparsed
	expired  int      // indexed entries whose leaf has expired
	resolved []string // resolvers whose entries were considered
}

// buildCertIndex parses the content of an acme.json file into an index of
// the certificates of resolvers (all when nil). Entries whose certificate
// and key bytes are unchanged since prev are reused from prev without
// parsing them again. It fails only when the file as a whole does not
// parse; broken entries are skipped and reported.
func buildCertIndex(data []byte, resolvers []string, prev *certIndex, now time.Time) (*certIndex, buildReport, error) {
	var rep buildReport
	f, format, err := acmejson.Parse(data, "")
	if err != nil {
		return nil, rep, fmt.Errorf("parsing acme.json: %w", err)
	}
	rep.format = format
	names := resolvers
	if names == nil {
		names = f.ResolverNames()
	} else {
		for _, r := range names {
			if _, ok := f[r]; !ok {
				rep.missing = append(rep.missing, r)
			}
		}
	}
	total := 0
	for _, r := range names {
		if res := f[r]; res != nil {
			total += len(res.Certificates)
		}
	}
	ix := newCertIndex(total)
	for _, r := range names {
		res := f[r]
		if res == nil {
			continue
		}
		rep.resolved = append(rep.resolved, r)
		for i, c := range res.Certificates {
			sc, reused, err := servedCertFor(c, prev)
			if err != nil {
				rep.skipped = append(rep.skipped, skippedEntry{resolver: r, position: i, domain: c.Names(), err: err})
				continue
			}
			if reused {
				rep.reused++
			}
			if now.After(sc.notAfter) {
				rep.expired++
			}
			ix.add(&indexEntry{cert: sc, resolver: r, position: i})
		}
	}
	return ix, rep, nil
}

// servedCertFor returns the parsed form of c, from prev when it holds the
// same certificate and key bytes.
func servedCertFor(c *acmejson.Certificate, prev *certIndex) (*servedCert, bool, error) {
	if c == nil {
		return nil, false, errors.New("certificate entry is null")
	}
	key := entryHash(c)
	if prev != nil {
		if sc := prev.byHash[key]; sc != nil {
			return sc, true, nil
		}
	}
	// The key is decoded at its first handshake: a file of 5,000
	// RSA-4096 entries loads without 5,000 RSA precomputations (~7 s of
	// CPU), and a reload pays only for entries that changed.
	p, err := c.ParseLazy()
	if err != nil {
		return nil, false, err
	}
	chain := make([][]byte, len(p.Chain))
	for i, crt := range p.Chain {
		chain[i] = crt.Raw
	}
	names := make([]string, len(p.Leaf.Names))
	for i, n := range p.Leaf.Names {
		names[i] = strings.ToLower(n)
	}
	return &servedCert{
		tls:      tls.Certificate{Certificate: chain, PrivateKey: p.Key, Leaf: p.Chain[0]},
		names:    names,
		notAfter: p.Leaf.NotAfter,
		key:      key,
	}, false, nil
}

// entryHash identifies an entry's certificate and key bytes.
func entryHash(c *acmejson.Certificate) [32]byte {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(c.Certificate)))
	h.Write(n[:])
	h.Write(c.Certificate)
	h.Write(c.Key)
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

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
	deadline := time.Now().Add(timeout)
	for {
		final := !time.Now().Before(deadline)
		res, err := w.check(final)
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
			w.check(false)
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
func (w *acmeJSONWatcher) check(final bool) (checkResult, error) {
	fi, err := os.Stat(w.path)
	if err != nil {
		w.stat = nil
		w.unavailable(err)
		return checkKept, fmt.Errorf("reading %s: %w", w.path, err)
	}
	if w.stat != nil && !w.racy && !w.pending && sameFileState(w.stat, fi) {
		return checkUnchanged, nil
	}
	readStart := time.Now()
	data, err := os.ReadFile(w.path)
	if err != nil {
		w.stat = nil
		w.unavailable(err)
		return checkKept, fmt.Errorf("reading %s: %w", w.path, err)
	}
	after, err := os.Stat(w.path)
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
		w.logger.Warn("acme.json does not parse; keeping previous certificates", zap.Error(err))
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
	w.logger.Warn("acme.json unavailable; keeping previous certificates", zap.Error(err))
}

// Interface guards
var (
	_ caddy.Provisioner     = (*ACMEJSONManager)(nil)
	_ caddy.Validator       = (*ACMEJSONManager)(nil)
	_ caddy.CleanerUpper    = (*ACMEJSONManager)(nil)
	_ caddyfile.Unmarshaler = (*ACMEJSONManager)(nil)
	_ certmagic.Manager     = (*ACMEJSONManager)(nil)
)
