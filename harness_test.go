package traefikacme

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
	"github.com/caddyserver/certmagic"

	"github.com/ac075510/caddy-traefik-acme/internal/acmetest"
)

func TestMain(m *testing.M) {
	// Pebble answers in milliseconds; certmagic's per-account order limiter
	// (10 per 10 s) would only slow the suite down.
	certmagic.RateLimitEvents = 1000
	os.Exit(m.Run())
}

// caddyEnv is what a test Caddyfile template can use.
type caddyEnv struct {
	CA        *acmetest.CA
	Dir       string // ACME directory URL
	CAPEM     string // PEM file trusted to reach the ACME API
	HTTPPort  int
	HTTPSPort int
	Storage   string
	Log       string
	Extra     map[string]string
	// Clock, if set, is the time served chains are verified at (tls.Config.Time).
	Clock func() time.Time
}

// newCaddyEnv prepares ports and directories for a Caddy talking to ca:
// Caddy's HTTP and HTTPS ports are the ports Pebble's VA validates HTTP-01
// and TLS-ALPN-01 on.
func newCaddyEnv(t *testing.T, ca *acmetest.CA) *caddyEnv {
	t.Helper()
	dir := t.TempDir()
	return &caddyEnv{
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

// newLocalCaddyEnv prepares ports and directories for a Caddy that needs no
// ACME CA: HTTP and HTTPS ports that were free on 127.0.0.1.
func newLocalCaddyEnv(t *testing.T) *caddyEnv {
	t.Helper()
	dir := t.TempDir()
	ports := freeLoopbackPorts(t, 2)
	return &caddyEnv{
		HTTPPort:  ports[0],
		HTTPSPort: ports[1],
		Storage:   filepath.Join(dir, "storage"),
		Log:       filepath.Join(dir, "caddy.log"),
		Extra:     map[string]string{},
	}
}

// freeLoopbackPorts returns n distinct TCP ports that were free on
// 127.0.0.1 (released before returning).
func freeLoopbackPorts(t *testing.T, n int) []int {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("reserving a loopback port: %v", err)
		}
		defer ln.Close()
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	return ports
}

// globalPreamble is the part of every test Caddyfile's global options that
// keeps Caddy on loopback, quiet and self-contained.
const globalPreamble = `
	admin off
	skip_install_trust
	storage file_system {{.Storage}}
	http_port {{.HTTPPort}}
	https_port {{.HTTPSPort}}
	default_bind 127.0.0.1
	log {
		output file {{.Log}}
		format json
		level INFO
	}
`

// render executes a Caddyfile template; {{template "preamble" .}} inserts
// globalPreamble.
func (e *caddyEnv) render(t *testing.T, caddyfileTmpl string) string {
	t.Helper()
	tmpl := template.Must(template.New("caddyfile").Parse(caddyfileTmpl))
	template.Must(tmpl.New("preamble").Parse(globalPreamble))
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, e); err != nil {
		t.Fatalf("rendering Caddyfile: %v", err)
	}
	return buf.String()
}

// adapt turns Caddyfile text into Caddy JSON.
func adapt(t *testing.T, caddyfileText string) []byte {
	t.Helper()
	cfgJSON, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfileText), map[string]any{"filename": "Caddyfile"})
	if err != nil {
		t.Fatalf("adapting Caddyfile: %v\n%s", err, caddyfileText)
	}
	for _, w := range warnings {
		t.Logf("adapt warning: %s", w.String())
	}
	return cfgJSON
}

// startCaddy runs a real Caddy in this process from Caddyfile text and stops
// it when the test ends. On failure the tail of Caddy's log is printed.
func (e *caddyEnv) startCaddy(t *testing.T, caddyfileTmpl string) {
	t.Helper()
	text := e.render(t, caddyfileTmpl)
	cfgJSON := adapt(t, text)
	if err := caddy.Load(cfgJSON, true); err != nil {
		t.Fatalf("starting Caddy: %v\n%s", err, text)
	}
	t.Cleanup(func() {
		_ = caddy.Stop()
		if t.Failed() {
			e.dumpLog(t)
		}
	})
}

func (e *caddyEnv) stopCaddy(t *testing.T) {
	t.Helper()
	if err := caddy.Stop(); err != nil {
		t.Fatalf("stopping Caddy: %v", err)
	}
}

func (e *caddyEnv) dumpLog(t *testing.T) {
	b, err := os.ReadFile(e.Log)
	if err != nil {
		return
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 60 {
		lines = lines[len(lines)-60:]
	}
	t.Logf("caddy log (tail):\n%s", strings.Join(lines, "\n"))
}

// logContains reports whether Caddy's log has a line with every substring.
func (e *caddyEnv) logContains(subs ...string) bool {
	b, err := os.ReadFile(e.Log)
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

// handshake makes a real TLS handshake with Caddy for name and returns the
// verified chain (leaf first) ending at one of roots.
func (e *caddyEnv) handshake(name string, roots *x509.CertPool) ([]*x509.Certificate, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d := tls.Dialer{Config: &tls.Config{ServerName: name, RootCAs: roots, MinVersion: tls.VersionTLS12, Time: e.Clock}}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(e.HTTPSPort)))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	st := conn.(*tls.Conn).ConnectionState()
	if len(st.VerifiedChains) == 0 {
		return nil, fmt.Errorf("no verified chain")
	}
	return st.VerifiedChains[0], nil
}

// waitCert polls handshakes until Caddy serves name with a chain that
// verifies against roots and satisfies accept (nil accepts any), or fails the
// test at the deadline.
func (e *caddyEnv) waitCert(t *testing.T, name string, roots *x509.CertPool, timeout time.Duration, accept func([]*x509.Certificate) bool) []*x509.Certificate {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		chain, err := e.handshake(name, roots)
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
		time.Sleep(100 * time.Millisecond)
	}
}

// waitFor polls cond until it holds or fails the test at the deadline.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// handshakeAt is handshake with a pinned verification time.
func (e *caddyEnv) handshakeAt(name string, roots *x509.CertPool, at time.Time) (*x509.Certificate, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d := tls.Dialer{Config: &tls.Config{ServerName: name, RootCAs: roots, Time: func() time.Time { return at }, MinVersion: tls.VersionTLS12}}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(e.HTTPSPort)))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.(*tls.Conn).ConnectionState().PeerCertificates[0], nil
}
