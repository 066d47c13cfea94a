// Package bench measures the traefik_acme plugin the way the issue asks for:
// every scenario runs a real Caddy in this process against the in-process
// test CA (Pebble, internal/acmetest) on loopback, and checks what it
// measures (every certificate served and verified, orders counted at the
// CA) before reporting a number.
//
// The scenarios are plain functions so that both `go test -bench` (see
// bench_test.go) and the driver command cmd/traefik-acme-bench can run them.
// Caddy is a process-wide singleton: run one scenario at a time.
//
// Scenarios:
//   - [Obtain]: N certificates through HTTP-01 from an empty storage.
//   - [Start]: Caddy with a generated acme.json of N certificates; time to
//     the first verified handshake, then sequential full handshakes.
//   - [Mirror]: the cost of mirroring one obtained certificate into an
//     acme.json of N certificates (what the cert_obtained handler does).
package bench

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/modules/standard" // the http app and the file_system storage

	_ "github.com/ac075510/caddy-traefik-acme" // the traefik_acme app and issuer
)

// pollInterval is how often a readiness condition is checked.
const pollInterval = 20 * time.Millisecond

// Memory is the process's resident set size, read from /proc/self/status.
// Both fields are 0 where that file does not exist.
type Memory struct {
	// PeakRSS is VmHWM: the highest resident set size of the process so far.
	PeakRSS int64 `json:"peak_rss"`
	// RSS is VmRSS: the resident set size now.
	RSS int64 `json:"rss"`
}

// ReadMemory returns the process's current and peak resident set size in
// bytes. The peak cannot be reset from inside the process, so a scenario
// that needs its own peak must run in a fresh process.
func ReadMemory() Memory {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return Memory{}
	}
	return parseStatus(b)
}

// Machine describes the machine the numbers come from: CPU model, logical
// CPUs, GOMAXPROCS, total memory, OS/arch and Go version.
func Machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "MemTotal:") {
				if f := strings.Fields(line); len(f) >= 2 {
					if kb, err := strconv.ParseInt(f[1], 10, 64); err == nil {
						mem = fmt.Sprintf(", %.1f GiB RAM", float64(kb)/(1<<20))
					}
				}
			}
		}
	}
	return fmt.Sprintf("%s, %d logical CPUs (GOMAXPROCS %d)%s, %s/%s, %s",
		cpu, runtime.NumCPU(), runtime.GOMAXPROCS(0), mem, runtime.GOOS, runtime.GOARCH, runtime.Version())
}

// startCaddy adapts and loads caddyfileText; it returns when caddy.Load
// returns (Caddy's apps have started).
func startCaddy(caddyfileText string) error {
	cfgJSON, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfileText), map[string]any{"filename": "Caddyfile"})
	if err != nil {
		return fmt.Errorf("adapting the Caddyfile: %w", err)
	}
	if err := caddy.Load(cfgJSON, true); err != nil {
		return fmt.Errorf("starting caddy: %w", err)
	}
	return nil
}

// stopCaddy stops the in-process Caddy.
func stopCaddy() error {
	if err := caddy.Stop(); err != nil {
		return fmt.Errorf("stopping caddy: %w", err)
	}
	return nil
}

// render executes a Caddyfile template with data; {{template "preamble" .}}
// inserts [preamble].
func render(tmpl string, data any) (string, error) {
	t, err := template.New("caddyfile").Parse(tmpl)
	if err == nil {
		_, err = t.New("preamble").Parse(preamble)
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

// preamble is the global options every scenario's Caddyfile starts with
// ({{template "preamble" .}}): loopback only, no local CA trust, quiet.
const preamble = `	admin off
	skip_install_trust
	storage file_system {{.Storage}}
	http_port {{.HTTPPort}}
	https_port {{.HTTPSPort}}
	default_bind 127.0.0.1
	log {
		output file {{.Log}}
		format json
		level WARN
	}`

// handshake makes one full TLS handshake (no session resumption) with the
// server at addr for name and verifies the chain against roots.
func handshake(ctx context.Context, addr, name string, roots *x509.CertPool) (*x509.Certificate, error) {
	return dialTLS(ctx, addr, &tls.Config{ServerName: name, RootCAs: roots, MinVersion: tls.VersionTLS12})
}

// pollHandshake is handshake as a readiness probe: X25519 alone, without
// the default post-quantum hybrid, whose key generation and encapsulation
// make every probe of a name not yet served cost about a millisecond of
// CPU on each side — CPU the scenario being measured needs. The chain is
// verified all the same.
func pollHandshake(ctx context.Context, addr, name string, roots *x509.CertPool) (*x509.Certificate, error) {
	return dialTLS(ctx, addr, &tls.Config{ServerName: name, RootCAs: roots, MinVersion: tls.VersionTLS12,
		CurvePreferences: []tls.CurveID{tls.X25519}})
}

// dialTLS completes one TLS handshake with cfg and returns the leaf served.
func dialTLS(ctx context.Context, addr string, cfg *tls.Config) (*x509.Certificate, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	d := tls.Dialer{Config: cfg}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.(*tls.Conn).ConnectionState().PeerCertificates[0], nil
}

// waitServed polls handshakes for every name concurrently until each one
// verifies against roots, or ctx ends. It returns the time at which the
// first and the last name were first served. A name that is not served yet
// is probed again after a wait that doubles from pollInterval up to a cap
// that grows with the number of names (20 ms for one name, 500 ms from 100
// names on): probing 100 pending names every 20 ms took a large share of
// the CPU that the obtain scenario measures.
func waitServed(ctx context.Context, addr string, names []string, roots *x509.CertPool) (first, last time.Time, err error) {
	var (
		mu     sync.Mutex
		wg     sync.WaitGroup
		errs   []error
		sem    = make(chan struct{}, 16)
		record = func(t time.Time) {
			mu.Lock()
			defer mu.Unlock()
			if first.IsZero() || t.Before(first) {
				first = t
			}
			if t.After(last) {
				last = t
			}
		}
	)
	maxWait := min(500*time.Millisecond, pollInterval*time.Duration(max(1, len(names)/4)))
	for _, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lastErr error
			wait := pollInterval
			for {
				sem <- struct{}{}
				_, err := pollHandshake(ctx, addr, name, roots)
				<-sem
				if err == nil {
					record(time.Now())
					return
				}
				lastErr = err
				select {
				case <-ctx.Done():
					mu.Lock()
					errs = append(errs, fmt.Errorf("%s not served: %w", name, lastErr))
					mu.Unlock()
					return
				case <-time.After(wait):
				}
				wait = min(2*wait, maxWait)
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		return first, last, fmt.Errorf("waiting for certificates (%d of %d missing): %w", len(errs), len(names), errs[0])
	}
	return first, last, nil
}

// freePort returns a TCP port that was free on 127.0.0.1.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("reserving a loopback port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// logTail returns the last n lines of the file at path, for error reports.
func logTail(path string, n int) string {
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
