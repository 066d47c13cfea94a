// Package acmetest runs a real ACME certificate authority (Pebble) and an
// authoritative DNS server inside the test process, on loopback addresses with
// random ports, so that tests can obtain real certificates offline.
//
// Tests, the benchmarks and the offline demo use it: tests call Start, which
// fails the test on error and stops the CA in t.Cleanup; programs call New
// and Close. It is internal: it never enters a Caddy built with xcaddy.
//
// A typical test:
//
//	ca := acmetest.Start(t)
//	// point an ACME client at ca.DirectoryURL(), trusting ca.ServerCertPool();
//	// serve HTTP-01 on 127.0.0.1:ca.HTTPPort(), TLS-ALPN-01 on
//	// 127.0.0.1:ca.TLSALPNPort(), or publish DNS-01 records through
//	// ca.DNSProvider() or RFC 2136 (ca.DNSAddr(), ca.TSIGKeyName(), ca.TSIGSecret());
//	// verify issued chains against ca.RootPool();
//	// assert ca.Orders(), ca.OrdersFor(name), ca.NewAccounts().
//
// Pebble's validation authority really validates: it resolves every name
// through the in-process DNS server (every A query answers 127.0.0.1, AAAA
// answers are empty), connects to HTTPPort or TLSALPNPort on that address for
// HTTP-01 and TLS-ALPN-01, and reads TXT records from the same DNS server for
// DNS-01.
//
// # Process environment
//
// Pebble reads its tuning knobs from the process environment when va.New and
// wfe.New run. New therefore sets, with os.Setenv and for the rest of the
// process, PEBBLE_VA_NOSLEEP=1 (no random validation delay),
// PEBBLE_WFE_NONCEREJECT=0 (no spurious badNonce errors) and
// PEBBLE_AUTHZREUSE=0 (every order is validated again). t.Setenv is not used on
// purpose: it panics in tests that call t.Parallel, and it would forbid callers
// from running CA-backed tests in parallel. The values are (re)applied under a
// package mutex around construction, so concurrent New calls are safe.
// New fails if PEBBLE_VA_ALWAYS_VALID is set to a true value,
// because that would turn validation off.
//
// # Resources
//
// Everything New creates is stopped by Close (Start: in t.Cleanup) with
// bounded waits. Pebble's
// validation authority runs one worker goroutine that Pebble offers no way to
// stop; it stays parked on an unreferenced channel after the test (a known,
// harmless leak of one goroutine per CA).
//
// Pebble's own log is kept in memory and written to the test log only if the
// test failed.
package acmetest

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
)

// DefaultProfile is the name of the only certificate profile the CA offers
// when WithShortValidity is not used. Its certificates are valid for Pebble's
// default period (90 days).
const DefaultProfile = "default"

// ShortLivedProfile is the name of the only certificate profile the CA offers
// when WithShortValidity is used.
const ShortLivedProfile = "shortlived"

// stopTimeout bounds every shutdown step run by Stop and t.Cleanup.
const stopTimeout = 10 * time.Second

// Option changes how New and Start configure the CA.
type Option func(*options)

type options struct {
	dir            string
	eab            map[string]string
	alternateRoots int
	validity       time.Duration
	chainLength    int
}

// WithDir makes the CA write its files (the ACME API's server certificate)
// into dir, which must exist. Default: a new temporary directory, removed
// by Close. Start uses t.TempDir().
func WithDir(dir string) Option {
	return func(o *options) { o.dir = dir }
}

// WithEAB makes the CA require External Account Binding (RFC 8555 §7.3.4) on
// every new account and registers keys, a map from key identifier (kid) to
// the HMAC key encoded as unpadded base64url (the form ACME clients such as
// acmez, certmagic and lego expect). An empty map leaves EAB optional.
// New fails if a key is not valid unpadded base64url.
func WithEAB(keys map[string]string) Option {
	return func(o *options) {
		if o.eab == nil {
			o.eab = make(map[string]string, len(keys))
		}
		for kid, key := range keys {
			o.eab[kid] = key
		}
	}
}

// WithAlternateRoots makes the CA create n additional root certificates, each
// with its own chain to the same issuing key, so that issued certificates have
// n alternate chains (offered through "alternate" Link headers). Roots()
// returns the default chain's root first, then the alternates. Default: 0.
func WithAlternateRoots(n int) Option {
	return func(o *options) { o.alternateRoots = n }
}

// WithShortValidity makes every certificate valid for only d, truncated to
// whole seconds (at least one second): the CA then offers the single profile
// ShortLivedProfile, so orders that name no profile get it too. Pebble sets
// NotAfter = NotBefore + d − 1s, which under RFC 5280's inclusive counting is
// a validity period of exactly d.
func WithShortValidity(d time.Duration) Option {
	return func(o *options) { o.validity = d }
}

// WithChainLength sets how many intermediate certificates sit between the
// root and issued certificates (at least 1). Default: 1.
func WithChainLength(n int) Option {
	return func(o *options) { o.chainLength = n }
}

// CA is a running Pebble ACME server plus the DNS server its validation
// authority uses. Create it with Start or New. All methods are safe for concurrent
// use.
type CA struct {
	dirURL     string
	srv        *httptest.Server
	certFile   string
	serverPool *x509.CertPool
	roots      []*x509.Certificate
	httpPort   int
	tlsPort    int
	profile    string
	dns        *DNS
	counts     *counter
	logs       *logBuffer
	dir        string // holds certFile
	ownDir     bool   // dir was created by New, removed by Close
	logf       func(format string, args ...any)
	stopOnce   sync.Once
	closeOnce  sync.Once
}

// envMu serialises setting Pebble's environment variables with the
// constructors that read them.
var envMu sync.Mutex

// pebbleEnv holds the variables Start sets for the whole process; see the
// package documentation.
var pebbleEnv = [...][2]string{
	{"PEBBLE_VA_NOSLEEP", "1"},
	{"PEBBLE_WFE_NONCEREJECT", "0"},
	{"PEBBLE_AUTHZREUSE", "0"},
}

// Start runs a new, independent CA for the test and stops it in t.Cleanup
// (see New). Start fails the test (t.Fatal) if any part cannot be started
// or an option is invalid, and writes Pebble's log to the test log if the
// test failed. It may be called from parallel tests.
func Start(t TB, opts ...Option) *CA {
	t.Helper()
	c, err := New(append([]Option{WithDir(t.TempDir())}, opts...)...)
	if err != nil {
		t.Fatalf("%v", err)
	}
	c.logf = t.Logf
	c.dns.logf = t.Logf
	t.Cleanup(func() {
		c.Close()
		if t.Failed() {
			t.Logf("acmetest: pebble log:\n%s", c.PebbleLog())
		}
	})
	return c
}

// New runs a new, independent CA, for programs (the offline demo, the
// benchmark driver) as well as tests; the caller ends it with Close. Each
// CA has its own in-memory database, freshly generated ECDSA roots and
// intermediates, its own DNS server (with a fresh TSIG secret) and its own
// ports. Pebble runs non-strict, with no Retry-After delays, no OCSP URL and
// the CAA identity "pebble.letsencrypt.org". New returns an error if any
// part cannot be started or an option is invalid.
func New(opts ...Option) (_ *CA, err error) {
	o := options{chainLength: 1}
	for _, opt := range opts {
		opt(&o)
	}
	profileName, profile := DefaultProfile, ca.Profile{Description: "acmetest default profile"}
	switch {
	case o.alternateRoots < 0:
		return nil, fmt.Errorf("acmetest: alternate roots must be >= 0, got %d", o.alternateRoots)
	case o.chainLength < 1:
		return nil, fmt.Errorf("acmetest: chain length must be >= 1, got %d", o.chainLength)
	case o.validity != 0 && o.validity < time.Second:
		return nil, fmt.Errorf("acmetest: short validity must be at least 1s, got %v", o.validity)
	}
	if o.validity != 0 {
		profileName = ShortLivedProfile
		profile = ca.Profile{
			Description:    fmt.Sprintf("acmetest certificates valid for %v", o.validity.Truncate(time.Second)),
			ValidityPeriod: uint64(o.validity / time.Second),
		}
	}
	for kid, key := range o.eab {
		if kid == "" {
			return nil, errors.New("acmetest: empty eab key id")
		}
		if _, err := base64.RawURLEncoding.DecodeString(key); err != nil || key == "" {
			// The key itself is a secret: never print it.
			return nil, fmt.Errorf("acmetest: eab key for kid %q is not unpadded base64url: (redacted)", kid)
		}
	}

	c := &CA{profile: profileName, logs: &logBuffer{}}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	c.dir = o.dir
	if c.dir == "" {
		if c.dir, err = os.MkdirTemp("", "acmetest-"); err != nil {
			return nil, fmt.Errorf("acmetest: %w", err)
		}
		c.ownDir = true
	}
	logger := log.New(c.logs, "pebble ", log.Lmicroseconds)

	if c.dns, err = NewDNS(); err != nil {
		return nil, err
	}
	if c.httpPort, c.tlsPort, err = freePorts(); err != nil {
		return nil, err
	}

	store := db.NewMemoryStore()
	for kid, key := range o.eab {
		if err := store.AddExternalAccountKeyByID(kid, key); err != nil {
			// Pebble's error text contains the key.
			return nil, fmt.Errorf("acmetest: adding eab key for kid %q: (redacted)", kid)
		}
	}

	envMu.Lock()
	for _, kv := range pebbleEnv {
		if err := os.Setenv(kv[0], kv[1]); err != nil {
			envMu.Unlock()
			return nil, fmt.Errorf("acmetest: setting %s: %w", kv[0], err)
		}
	}
	switch v := os.Getenv("PEBBLE_VA_ALWAYS_VALID"); v {
	case "1", "true", "True", "TRUE":
		envMu.Unlock()
		return nil, fmt.Errorf("acmetest: PEBBLE_VA_ALWAYS_VALID=%s would disable validation; unset it", v)
	}
	cai := ca.New(logger, store, "", "ecdsa", o.alternateRoots, o.chainLength,
		map[string]ca.Profile{profileName: profile})
	vai := va.New(logger, c.httpPort, c.tlsPort, false, c.dns.Addr(), store)
	wfei := wfe.New(logger, store, vai, cai, []string{"pebble.letsencrypt.org"},
		false, len(o.eab) > 0, 0, 0)
	envMu.Unlock()

	handler := wfei.Handler()
	if c.counts, err = newCounter(handler); err != nil {
		return nil, fmt.Errorf("acmetest: %w", err)
	}
	for i := range cai.GetNumberOfRootCerts() {
		c.roots = append(c.roots, cai.GetRootCert(i).Cert)
	}

	srv := httptest.NewUnstartedServer(c.counts)
	srv.Config.ErrorLog = log.New(c.logs, "acme api ", log.Lmicroseconds)
	srv.StartTLS()
	c.srv = srv
	c.dirURL = srv.URL + wfe.DirectoryPath

	c.serverPool = x509.NewCertPool()
	c.serverPool.AddCert(srv.Certificate())
	c.certFile = filepath.Join(c.dir, "acme-server.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(c.certFile, pemBytes, 0o600); err != nil {
		return nil, fmt.Errorf("acmetest: writing server certificate: %w", err)
	}
	return c, nil
}

// Close stops the ACME API and the DNS server and removes the directory New
// created (not one given with WithDir). It is idempotent; Start's t.Cleanup
// calls it.
func (c *CA) Close() {
	c.closeOnce.Do(func() {
		c.Stop()
		if c.dns != nil {
			c.dns.Close()
		}
		if c.ownDir {
			_ = os.RemoveAll(c.dir)
		}
	})
}

// PebbleLog returns what Pebble and the ACME API's HTTP server logged so
// far (at most a few MiB).
func (c *CA) PebbleLog() string { return c.logs.String() }

// DirectoryURL returns the ACME directory URL,
// https://127.0.0.1:<port>/dir. It keeps returning the same URL after Stop.
func (c *CA) DirectoryURL() string { return c.dirURL }

// ServerCertPEMFile returns the path of a PEM file (in a t.TempDir) holding
// the ACME API's TLS server certificate, which clients must trust to reach
// DirectoryURL. It is self-signed and unrelated to Roots.
func (c *CA) ServerCertPEMFile() string { return c.certFile }

// ServerCertPool returns a new pool holding only the ACME API's TLS server
// certificate (see ServerCertPEMFile).
func (c *CA) ServerCertPool() *x509.CertPool { return c.serverPool.Clone() }

// Roots returns Pebble's issuing root certificates: index 0 is the root of
// the default chain, then one per alternate root (WithAlternateRoots). Issued
// certificates chain to these, not to the ACME API's server certificate.
func (c *CA) Roots() []*x509.Certificate {
	return append([]*x509.Certificate(nil), c.roots...)
}

// RootPool returns a new pool holding all of Roots.
func (c *CA) RootPool() *x509.CertPool {
	p := x509.NewCertPool()
	for _, r := range c.roots {
		p.AddCert(r)
	}
	return p
}

// Profile returns the name of the single certificate profile the CA offers:
// DefaultProfile, or ShortLivedProfile with WithShortValidity.
func (c *CA) Profile() string { return c.profile }

// HTTPPort returns the loopback port on which the CA's validation authority
// fetches HTTP-01 challenge responses (http://<name>:HTTPPort, <name>
// resolving to 127.0.0.1). Nothing listens there until a client serves the
// challenge.
func (c *CA) HTTPPort() int { return c.httpPort }

// TLSALPNPort returns the loopback port on which the CA's validation authority
// performs TLS-ALPN-01 handshakes. Nothing listens there until a client serves
// the challenge.
func (c *CA) TLSALPNPort() int { return c.tlsPort }

// DNS returns the DNS server the CA's validation authority resolves through.
func (c *CA) DNS() *DNS { return c.dns }

// DNSAddr returns the DNS server address, "127.0.0.1:<port>", served over
// both UDP and TCP.
func (c *CA) DNSAddr() string { return c.dns.Addr() }

// SetTXT replaces all TXT values at fqdn with value. See DNS.SetTXT.
func (c *CA) SetTXT(fqdn, value string) { c.dns.SetTXT(fqdn, value) }

// AddTXT adds value to the TXT values at fqdn. See DNS.AddTXT.
func (c *CA) AddTXT(fqdn, value string) { c.dns.AddTXT(fqdn, value) }

// DeleteTXT removes value from the TXT values at fqdn. See DNS.DeleteTXT.
func (c *CA) DeleteTXT(fqdn, value string) { c.dns.DeleteTXT(fqdn, value) }

// TXT returns the TXT values at fqdn. See DNS.TXT.
func (c *CA) TXT(fqdn string) []string { return c.dns.TXT(fqdn) }

// TSIGKeyName returns the name of the TSIG key the DNS server accepts for
// RFC 2136 updates. See DNS.TSIGKeyName.
func (c *CA) TSIGKeyName() string { return c.dns.TSIGKeyName() }

// TSIGSecret returns the base64 TSIG secret. See DNS.TSIGSecret.
func (c *CA) TSIGSecret() string { return c.dns.TSIGSecret() }

// DNSProvider returns an in-memory libdns provider writing TXT records into
// the DNS server's records. See DNS.Provider.
func (c *CA) DNSProvider() *MemoryProvider { return c.dns.Provider() }

// NewAccounts returns how many accounts the CA created: new-account requests
// it answered 201 Created. Lookups of an existing key (200 OK, with or without
// onlyReturnExisting) and rejected requests do not count.
func (c *CA) NewAccounts() int { return c.counts.newAccounts() }

// Orders returns how many orders the CA created: new-order requests it
// answered 201 Created.
func (c *CA) Orders() int { return c.counts.orders() }

// OrdersFor returns how many created orders include the identifier name
// (compared case-insensitively, ignoring trailing dots; "*.example.test" is
// a name of its own).
func (c *CA) OrdersFor(name string) int { return c.counts.ordersFor(name) }

// OrderedNames returns the identifier values of all created orders, sorted
// and lower-cased, one entry per identifier per order: a name ordered twice
// appears twice.
func (c *CA) OrderedNames() []string { return c.counts.orderedNames() }

// Stop closes the ACME API: afterwards connections to DirectoryURL are
// refused, as for a CA that is down. The DNS server keeps running, and the
// counters stay readable. Stop is idempotent; Close also stops.
func (c *CA) Stop() {
	if c.srv == nil {
		return
	}
	c.stopOnce.Do(func() {
		within(c.logf, "closing acme api", func() {
			c.srv.CloseClientConnections()
			c.srv.Close()
		})
	})
}

// within runs f and waits at most stopTimeout for it, logging (not failing)
// (with logf, when not nil) if it takes longer; f then finishes in the
// background.
func within(logf func(string, ...any), what string, f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	timer := time.NewTimer(stopTimeout)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		if logf != nil {
			logf("acmetest: %s: gave up after %v", what, stopTimeout)
		}
	}
}

// freePorts returns two distinct TCP ports that were free on 127.0.0.1. They
// are released before returning, so another process could take them in the
// meantime (a small window that certmagic and Pebble cannot avoid: Pebble
// wants port numbers, and ACME clients bind them only while solving).
func freePorts() (int, int, error) {
	var ports [2]int
	var lns [2]net.Listener
	for i := range lns {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			for _, l := range lns[:i] {
				_ = l.Close()
			}
			return 0, 0, fmt.Errorf("acmetest: reserving a loopback port: %w", err)
		}
		lns[i] = ln
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	for _, ln := range lns {
		_ = ln.Close()
	}
	return ports[0], ports[1], nil
}

// logBuffer collects Pebble's log in memory, keeping at most maxLog bytes.
type logBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	dropped int
}

const maxLog = 4 << 20

// Write implements io.Writer.
func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buf.Len()+len(p) > maxLog {
		l.dropped += len(p)
		return len(p), nil
	}
	return l.buf.Write(p)
}

// String returns the collected log.
func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dropped > 0 {
		return fmt.Sprintf("%s... (%d bytes dropped)\n", l.buf.String(), l.dropped)
	}
	return l.buf.String()
}

// directoryPaths asks the WFE handler for its directory and returns the URL
// paths of the newAccount and newOrder resources.
func directoryPaths(h http.Handler) (newAccount, newOrder string, err error) {
	req := httptest.NewRequest(http.MethodGet, "https://acmetest.invalid"+wfe.DirectoryPath, nil)
	req.Header.Set("User-Agent", "acmetest")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return "", "", fmt.Errorf("reading pebble directory: status %d", rec.Code)
	}
	var dir struct {
		NewAccount string `json:"newAccount"`
		NewOrder   string `json:"newOrder"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &dir); err != nil {
		return "", "", fmt.Errorf("decoding pebble directory: %w", err)
	}
	for _, p := range []*string{&dir.NewAccount, &dir.NewOrder} {
		u, err := url.Parse(*p)
		if err != nil {
			return "", "", fmt.Errorf("parsing pebble directory url %q: %w", *p, err)
		}
		if u.Path == "" {
			return "", "", fmt.Errorf("parsing pebble directory url %q: empty path", *p)
		}
		*p = u.Path
	}
	return dir.NewAccount, dir.NewOrder, nil
}
