// Package caddytest runs a real Caddy in this process from a Caddyfile, on
// loopback ports, for the root package's tests, the benchmarks and the
// offline demo: one home for rendering a Caddyfile template, adapting it,
// loading and stopping Caddy, and proving what Caddy serves with real TLS
// handshakes.
//
// It does not import the root package (the root package's tests import
// caddytest, and that would be an import cycle) nor register any module:
// callers link the plugin themselves. It links Caddy's standard modules.
//
// Caddy is a process-wide singleton: one Caddy config runs at a time.
//
// The error-returning functions are for programs; the methods taking a TB
// are for tests and fail the test on error.
package caddytest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/modules/standard" // the http app, file_system storage, …

	"github.com/ac075510/caddy-traefik-acme/internal/acmetest"
)

// TB is the part of testing.TB the test helpers use.
type TB interface {
	Helper()
	Cleanup(func())
	Failed() bool
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
}

// dialTimeout bounds one TLS handshake.
const dialTimeout = 5 * time.Second

// pollInterval is how often WaitCert and WaitFor check again.
const pollInterval = 100 * time.Millisecond

// Preamble is the global options every Caddyfile template starts with
// ({{template "preamble" .}}): loopback only, no local CA trust, no admin
// endpoint, storage and log under the Env's directory. It reads the
// template data's Storage, HTTPPort, HTTPSPort, Log and LogLevel (default
// INFO).
const Preamble = `	admin off
	skip_install_trust
	storage file_system {{.Storage}}
	http_port {{.HTTPPort}}
	https_port {{.HTTPSPort}}
	default_bind 127.0.0.1
	log {
		output file {{.Log}}
		format json
		level {{with .LogLevel}}{{.}}{{else}}INFO{{end}}
	}`

// Env is the data a Caddyfile template can use, and where the Caddy it
// starts listens and writes.
type Env struct {
	CA        *acmetest.CA // nil for a Caddy that needs no ACME CA
	Dir       string       // ACME directory URL
	CAPEM     string       // PEM file trusted to reach the ACME API
	HTTPPort  int
	HTTPSPort int
	Storage   string // file_system storage root
	Log       string // Caddy's JSON log file
	LogLevel  string // default INFO
	Extra     map[string]string

	// Clock, if set, is the time served chains are verified at
	// (tls.Config.Time).
	Clock func() time.Time
}

// ForCA returns an Env for a Caddy talking to ca, with storage and log under
// dir: Caddy's HTTP and HTTPS ports are the ports Pebble's validation
// authority validates HTTP-01 and TLS-ALPN-01 on.
func ForCA(dir string, ca *acmetest.CA) *Env {
	return &Env{
		CA:        ca,
		Dir:       ca.DirectoryURL(),
		CAPEM:     ca.ServerCertPEMFile(),
		HTTPPort:  ca.HTTPPort(),
		HTTPSPort: ca.TLSALPNPort(),
		Storage:   filepath.Join(dir, "storage"),
		Log:       filepath.Join(dir, "caddy.log"),
		Extra:     map[string]string{},
	}
}

// Local returns an Env for a Caddy that needs no ACME CA, with storage and
// log under dir: HTTP and HTTPS ports that were free on 127.0.0.1.
func Local(dir string) (*Env, error) {
	ports, err := FreePorts(2)
	if err != nil {
		return nil, err
	}
	return &Env{
		HTTPPort:  ports[0],
		HTTPSPort: ports[1],
		Storage:   filepath.Join(dir, "storage"),
		Log:       filepath.Join(dir, "caddy.log"),
		Extra:     map[string]string{},
	}, nil
}

// Addr is Caddy's HTTPS address, 127.0.0.1:HTTPSPort.
func (e *Env) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(e.HTTPSPort)) }

// Render executes a Caddyfile template with e as data.
func (e *Env) Render(caddyfileTmpl string) (string, error) { return Render(caddyfileTmpl, e) }

// Render executes a Caddyfile template with data; {{template "preamble" .}}
// inserts [Preamble].
func Render(caddyfileTmpl string, data any) (string, error) {
	t, err := template.New("caddyfile").Parse(caddyfileTmpl)
	if err == nil {
		_, err = t.New("preamble").Parse(Preamble)
	}
	if err != nil {
		return "", fmt.Errorf("parsing the Caddyfile template: %w", err)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return "", fmt.Errorf("rendering the Caddyfile template: %w", err)
	}
	return buf.String(), nil
}

// Adapt turns Caddyfile text into Caddy JSON.
func Adapt(caddyfileText string) ([]byte, []caddyconfig.Warning, error) {
	cfgJSON, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfileText), map[string]any{"filename": "Caddyfile"})
	if err != nil {
		return nil, nil, fmt.Errorf("adapting the Caddyfile: %w", err)
	}
	return cfgJSON, warnings, nil
}

// Load adapts caddyfileText and runs it; it returns when Caddy's apps have
// started.
func Load(caddyfileText string) error {
	cfgJSON, _, err := Adapt(caddyfileText)
	if err != nil {
		return err
	}
	if err := caddy.Load(cfgJSON, true); err != nil {
		return fmt.Errorf("starting caddy: %w", err)
	}
	return nil
}

// Stop stops the in-process Caddy.
func Stop() error {
	if err := caddy.Stop(); err != nil {
		return fmt.Errorf("stopping caddy: %w", err)
	}
	return nil
}

// DialTLS completes one TLS handshake with addr under cfg (bounded by a
// few seconds) and returns the connection state.
func DialTLS(ctx context.Context, addr string, cfg *tls.Config) (tls.ConnectionState, error) {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	d := tls.Dialer{Config: cfg}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer conn.Close()
	return conn.(*tls.Conn).ConnectionState(), nil
}

// Handshake makes a real TLS handshake with Caddy for name and returns the
// verified chain (leaf first) ending at one of roots, verified at e.Clock
// when set.
func (e *Env) Handshake(ctx context.Context, name string, roots *x509.CertPool) ([]*x509.Certificate, error) {
	st, err := DialTLS(ctx, e.Addr(), &tls.Config{ServerName: name, RootCAs: roots, MinVersion: tls.VersionTLS12, Time: e.Clock})
	if err != nil {
		return nil, err
	}
	if len(st.VerifiedChains) == 0 {
		return nil, errors.New("no verified chain")
	}
	return st.VerifiedChains[0], nil
}

// HandshakeAt is Handshake verifying at the time at; it returns the leaf.
func (e *Env) HandshakeAt(ctx context.Context, name string, roots *x509.CertPool, at time.Time) (*x509.Certificate, error) {
	st, err := DialTLS(ctx, e.Addr(), &tls.Config{ServerName: name, RootCAs: roots, MinVersion: tls.VersionTLS12, Time: func() time.Time { return at }})
	if err != nil {
		return nil, err
	}
	return st.PeerCertificates[0], nil
}

// FreePorts returns n distinct TCP ports that were free on 127.0.0.1
// (released before returning).
func FreePorts(n int) ([]int, error) {
	ports := make([]int, n)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("reserving a loopback port: %w", err)
		}
		defer ln.Close()
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	return ports, nil
}

// LogTail returns the last n lines of the file at path, for error reports.
func LogTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// LogContains reports whether the log at path has a line holding every one
// of subs.
func LogContains(path string, subs ...string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		ok := true
		for _, s := range subs {
			if !strings.Contains(line, s) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// Start renders caddyfileTmpl with e, adapts it (logging adapter
// warnings) and runs it, and stops Caddy when the test ends, printing the
// tail of Caddy's log if the test failed.
func (e *Env) Start(t TB, caddyfileTmpl string) {
	t.Helper()
	text, err := e.Render(caddyfileTmpl)
	if err != nil {
		t.Fatalf("%v", err)
	}
	cfgJSON, warnings, err := Adapt(text)
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	for _, w := range warnings {
		t.Logf("adapt warning: %s", w.String())
	}
	if err := caddy.Load(cfgJSON, true); err != nil {
		t.Fatalf("starting Caddy: %v\n%s", err, text)
	}
	t.Cleanup(func() {
		_ = caddy.Stop()
		if t.Failed() {
			e.DumpLog(t)
		}
	})
}

// DumpLog writes the tail of Caddy's log to the test log.
func (e *Env) DumpLog(t TB) {
	if tail := LogTail(e.Log, 60); tail != "" {
		t.Logf("caddy log (tail):\n%s", tail)
	}
}

// WaitCert polls handshakes until Caddy serves name with a chain that
// verifies against roots and satisfies accept (nil accepts any), or fails
// the test after timeout. The timeout is a bound for a broken run, not a
// measurement: give it room.
func (e *Env) WaitCert(t TB, name string, roots *x509.CertPool, timeout time.Duration, accept func([]*x509.Certificate) bool) []*x509.Certificate {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		chain, err := e.Handshake(context.Background(), name, roots)
		if err == nil && (accept == nil || accept(chain)) {
			return chain
		}
		if err != nil {
			lastErr = err
		} else {
			lastErr = fmt.Errorf("served certificate (serial %s) not accepted yet", chain[0].SerialNumber)
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for a certificate for %s: %v", name, lastErr)
		}
		time.Sleep(pollInterval)
	}
}

// WaitFor polls cond until it holds, or fails the test after timeout (a
// bound for a broken run, not a measurement).
func WaitFor(t TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(pollInterval)
	}
}
