package traefikacme

import (
	"context"
	"crypto/x509"
	"os"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/ac075510/caddy-traefik-acme/internal/acmetest"
	"github.com/ac075510/caddy-traefik-acme/internal/caddytest"
)

func TestMain(m *testing.M) {
	// Pebble answers in milliseconds; certmagic's per-account order limiter
	// (10 per 10 s) would only slow the suite down.
	certmagic.RateLimitEvents = 1000
	os.Exit(m.Run())
}

// caddyEnv is the in-process Caddy of internal/caddytest under the short
// names this package's tests use; its fields are what a test Caddyfile
// template can use ({{template "preamble" .}}, .Dir, .CAPEM, .HTTPPort, …).
type caddyEnv struct{ *caddytest.Env }

// newCaddyEnv prepares ports and directories for a Caddy talking to ca.
func newCaddyEnv(t *testing.T, ca *acmetest.CA) *caddyEnv {
	t.Helper()
	return &caddyEnv{caddytest.ForCA(t.TempDir(), ca)}
}

// newLocalCaddyEnv prepares ports and directories for a Caddy that needs no
// ACME CA.
func newLocalCaddyEnv(t *testing.T) *caddyEnv {
	t.Helper()
	env, err := caddytest.Local(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &caddyEnv{env}
}

// freeLoopbackPorts returns n distinct TCP ports that were free on
// 127.0.0.1.
func freeLoopbackPorts(t *testing.T, n int) []int {
	t.Helper()
	ports, err := caddytest.FreePorts(n)
	if err != nil {
		t.Fatal(err)
	}
	return ports
}

// render executes a Caddyfile template with e.
func (e *caddyEnv) render(t *testing.T, caddyfileTmpl string) string {
	t.Helper()
	text, err := e.Render(caddyfileTmpl)
	if err != nil {
		t.Fatal(err)
	}
	return text
}

// adapt turns Caddyfile text into Caddy JSON, logging adapter warnings.
func adapt(t *testing.T, caddyfileText string) []byte {
	t.Helper()
	cfgJSON, warnings, err := caddytest.Adapt(caddyfileText)
	if err != nil {
		t.Fatalf("%v\n%s", err, caddyfileText)
	}
	for _, w := range warnings {
		t.Logf("adapt warning: %s", w.String())
	}
	return cfgJSON
}

// startCaddy runs a real Caddy in this process from a Caddyfile template
// and stops it when the test ends.
func (e *caddyEnv) startCaddy(t *testing.T, caddyfileTmpl string) {
	t.Helper()
	e.Start(t, caddyfileTmpl)
}

func (e *caddyEnv) stopCaddy(t *testing.T) {
	t.Helper()
	if err := caddytest.Stop(); err != nil {
		t.Fatal(err)
	}
}

// logContains reports whether Caddy's log has a line with every substring.
func (e *caddyEnv) logContains(subs ...string) bool { return caddytest.LogContains(e.Log, subs...) }

// handshake makes a real TLS handshake with Caddy for name and returns the
// verified chain (leaf first) ending at one of roots.
func (e *caddyEnv) handshake(name string, roots *x509.CertPool) ([]*x509.Certificate, error) {
	return e.Handshake(context.Background(), name, roots)
}

// handshakeAt is handshake with a pinned verification time; it returns the
// leaf.
func (e *caddyEnv) handshakeAt(name string, roots *x509.CertPool, at time.Time) (*x509.Certificate, error) {
	return e.HandshakeAt(context.Background(), name, roots, at)
}

// waitCert polls handshakes until Caddy serves name with a chain accepted
// by accept (nil accepts any), or fails the test after timeout.
func (e *caddyEnv) waitCert(t *testing.T, name string, roots *x509.CertPool, timeout time.Duration, accept func([]*x509.Certificate) bool) []*x509.Certificate {
	t.Helper()
	return e.WaitCert(t, name, roots, timeout, accept)
}

// waitFor polls cond until it holds or fails the test after timeout.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	caddytest.WaitFor(t, what, timeout, cond)
}
