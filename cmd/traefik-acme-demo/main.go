// Command traefik-acme-demo shows the plugin working end to end on a machine
// with no internet: it starts an embedded ACME CA (Pebble) on 127.0.0.1,
// starts Caddy with a Caddyfile holding two Traefik-style resolvers (one
// answering HTTP-01, one TLS-ALPN-01), obtains real certificates for a few
// *.example.test names, prints them with the curl command that proves it,
// and serves until interrupted. With -once it makes that request itself,
// prints the answer and exits (a curl line would be useless once Caddy has
// stopped).
//
//	go run ./cmd/traefik-acme-demo          # serve until Ctrl-C
//	go run ./cmd/traefik-acme-demo -once    # exit after printing
//
// It lives in its own main package so that Pebble never enters a Caddy
// built with xcaddy.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/ac075510/caddy-traefik-acme"
	"github.com/ac075510/caddy-traefik-acme/internal/acmetest"
)

// site is one name the demo obtains a certificate for.
type site struct {
	Name      string
	Resolver  string
	Challenge string
}

var sites = []site{
	{"app.example.test", "web", "HTTP-01"},
	{"api.example.test", "web", "HTTP-01"},
	{"shop.example.test", "alpn", "TLS-ALPN-01"},
}

const caddyfileTemplate = `{
	admin off
	skip_install_trust
	storage file_system {{storage}}
	http_port {{http_port}}
	https_port {{https_port}}
	default_bind 127.0.0.1
	log {
		output file {{log}}
	}
	traefik_acme {
		entrypoint web 127.0.0.1:{{http_port}}
		# certificatesResolvers.web.acme with httpChallenge.entryPoint=web
		resolver web {
			email demo@example.test
			ca_server {{ca}}
			ca_certificates {{ca_pem}}
			key_type EC256
			http_challenge web
		}
		# certificatesResolvers.alpn.acme with tlsChallenge (keyType defaults to RSA4096)
		resolver alpn {
			email demo@example.test
			ca_server {{ca}}
			ca_certificates {{ca_pem}}
			tls_challenge
		}
	}
}

app.example.test, api.example.test {
	tls {
		issuer traefik web
	}
	respond "hello from {host}, certificate by resolver web (HTTP-01)"
}

shop.example.test {
	tls {
		issuer traefik alpn
	}
	respond "hello from {host}, certificate by resolver alpn (TLS-ALPN-01)"
}
`

func main() {
	once := flag.Bool("once", false, "exit after the certificates are obtained, printed and requested once")
	dir := flag.String("dir", "", "directory for the Caddyfile, storage, log and CA root (default: a new temporary directory)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout, *dir, *once); err != nil {
		fmt.Fprintln(os.Stderr, "traefik-acme-demo:", err)
		os.Exit(1)
	}
}

// run does the whole demo, writing the report to out. With once it returns
// after the report; otherwise it serves until ctx is done.
func run(ctx context.Context, out io.Writer, dir string, once bool) (err error) {
	if dir == "" {
		if dir, err = os.MkdirTemp("", "traefik-acme-demo-"); err != nil {
			return err
		}
	}
	prog := acmetest.NewProgram(dir)
	return prog.Run(func() error { return demo(ctx, prog, out, dir, once) })
}

// demo is run's body; prog hosts the embedded CA and ends it when run returns.
func demo(ctx context.Context, prog *acmetest.Program, out io.Writer, dir string, once bool) error {
	ca := acmetest.Start(prog)
	rootFile := filepath.Join(dir, "pebble-root.pem")
	if err := os.WriteFile(rootFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Roots()[0].Raw}), 0o644); err != nil {
		return err
	}

	caddyfile := strings.NewReplacer(
		"{{storage}}", filepath.Join(dir, "storage"),
		"{{log}}", filepath.Join(dir, "caddy.log"),
		"{{http_port}}", strconv.Itoa(ca.HTTPPort()),
		"{{https_port}}", strconv.Itoa(ca.TLSALPNPort()),
		"{{ca}}", ca.DirectoryURL(),
		"{{ca_pem}}", ca.ServerCertPEMFile(),
	).Replace(caddyfileTemplate)
	cfPath := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(cfPath, []byte(caddyfile), 0o644); err != nil {
		return err
	}
	cfgJSON, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), map[string]any{"filename": cfPath})
	if err != nil {
		return fmt.Errorf("adapting %s: %w", cfPath, err)
	}
	fmt.Fprintf(out, "Embedded ACME CA (Pebble): %s\nCaddyfile: %s\nCaddy log: %s\n\nObtaining certificates...\n", ca.DirectoryURL(), cfPath, filepath.Join(dir, "caddy.log"))
	start := time.Now()
	if err := caddy.Load(cfgJSON, true); err != nil {
		return fmt.Errorf("starting Caddy: %w", err)
	}
	defer func() { _ = caddy.Stop() }()

	roots := ca.RootPool()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ca.TLSALPNPort()))
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tRESOLVER\tCHALLENGE\tKEY\tNOT AFTER")
	for _, s := range sites {
		leaf, err := waitForCertificate(ctx, addr, s.Name, roots, 60*time.Second)
		if err != nil {
			return fmt.Errorf("%s: %w", s.Name, err)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Name, s.Resolver, s.Challenge, keyDesc(leaf), leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	tw.Flush()
	port := ca.TLSALPNPort()
	took := time.Since(start).Round(10 * time.Millisecond)
	if once {
		// Caddy stops when the demo exits, so a curl line printed now
		// could never work: make the request here instead.
		status, body, err := httpsGet(ctx, addr, sites[0].Name, port, roots)
		if err != nil {
			return fmt.Errorf("requesting https://%s:%d/: %w", sites[0].Name, port, err)
		}
		fmt.Fprintf(out, "\n%d certificates in %s, each verified against the CA root by a TLS handshake.\n", len(sites), took)
		fmt.Fprintf(out, "GET https://%s:%d/ (verified against the CA root): %s %q\n", sites[0].Name, port, status, body)
		fmt.Fprintln(out, "Exiting (-once): Caddy and the CA stop now; run without -once to keep serving and try it with curl.")
		return nil
	}
	fmt.Fprintf(out, "\n%d certificates in %s, each verified against the CA root by a TLS handshake. Try:\n\n", len(sites), took)
	fmt.Fprintf(out, "  curl --cacert %s --resolve %s:%d:127.0.0.1 https://%s:%d/\n\n", rootFile, sites[0].Name, port, sites[0].Name, port)
	fmt.Fprintln(out, "Serving; press Ctrl-C to stop.")
	<-ctx.Done()
	return nil
}

// httpsGet makes the request the curl line makes: GET https://name:port/
// sent to addr, verified against roots. It returns the status line and the
// body.
func httpsGet(ctx context.Context, addr, name string, port int, roots *x509.CertPool) (string, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}}
	defer client.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("https://%s:%d/", name, port), nil)
	if err != nil {
		return "", "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return "", "", err
	}
	return resp.Status, string(body), nil
}

func waitForCertificate(ctx context.Context, addr, name string, roots *x509.CertPool, timeout time.Duration) (*x509.Certificate, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var lastErr error
	for {
		d := tls.Dialer{Config: &tls.Config{ServerName: name, RootCAs: roots, MinVersion: tls.VersionTLS12}}
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			leaf := conn.(*tls.Conn).ConnectionState().PeerCertificates[0]
			conn.Close()
			return leaf, nil
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("no verified certificate served: %w", lastErr)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func keyDesc(c *x509.Certificate) string {
	switch c.PublicKeyAlgorithm {
	case x509.ECDSA:
		return "ECDSA"
	case x509.RSA:
		return "RSA"
	}
	return c.PublicKeyAlgorithm.String()
}
