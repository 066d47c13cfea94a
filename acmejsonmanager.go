package traefikacme

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
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

// Interface guards
var (
	_ caddy.Provisioner     = (*ACMEJSONManager)(nil)
	_ caddy.Validator       = (*ACMEJSONManager)(nil)
	_ caddy.CleanerUpper    = (*ACMEJSONManager)(nil)
	_ caddyfile.Unmarshaler = (*ACMEJSONManager)(nil)
	_ certmagic.Manager     = (*ACMEJSONManager)(nil)
)
