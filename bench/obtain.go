package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ac075510/caddy-traefik-acme/internal/acmetest"
	"github.com/ac075510/caddy-traefik-acme/internal/caddytest"
)

// ObtainOptions configures [Obtain].
type ObtainOptions struct {
	// Dir is an existing directory for the CA's files and Caddy's storage
	// and log.
	Dir string
	// Names is how many certificates to obtain (one name each).
	Names int
	// KeyType is the resolver's keyType, in Traefik's spelling: "EC256",
	// "RSA4096", …
	KeyType string
	// RateLimit is the resolver's order_rate_limit, orders per RateWindow;
	// 0 keeps certmagic's default (10 per 10 s).
	RateLimit int
	// RateWindow is the limiter window; 0 means 10 s.
	RateWindow time.Duration
	// Timeout bounds the whole run; 0 means 10 minutes.
	Timeout time.Duration
}

// ObtainResult is what [Obtain] measured.
type ObtainResult struct {
	// Names is the number of certificates obtained and served.
	Names int `json:"names"`
	// KeyType is the resolver's keyType.
	KeyType string `json:"key_type"`
	// RateLimit is the limiter in force, "default (10/10s)" or "N/window".
	RateLimit string `json:"rate_limit"`
	// Wall is from starting Caddy to the last certificate being served.
	Wall time.Duration `json:"wall"`
	// FirstServed is from starting Caddy to the first certificate served.
	FirstServed time.Duration `json:"first_served"`
	// Orders is the number of new-order requests the CA answered.
	Orders int `json:"orders"`
	// NewAccounts is the number of accounts the CA created.
	NewAccounts int `json:"new_accounts"`
	// Memory is the process's RSS at the end (its peak includes everything
	// the process did before).
	Memory Memory `json:"memory"`
}

const obtainCaddyfile = `{
{{template "preamble" .}}
	traefik_acme {
		entrypoint web 127.0.0.1:{{.HTTPPort}}
		resolver le {
			email bench@example.test
			ca_server {{.Dir}}
			ca_certificates {{.CAPEM}}
			key_type {{.KeyType}}
			http_challenge web
			{{- if .RateLimit}}
			order_rate_limit {{.RateLimit}} {{.RateWindow}}
			{{- end}}
		}
	}
}
{{.Sites}} {
	tls {
		issuer traefik le
	}
	respond "ok"
}
`

// ObtainNames returns the n names [Obtain] orders.
func ObtainNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("site%03d.bench.test", i)
	}
	return names
}

// Obtain starts a test CA and an in-process Caddy whose single site block
// holds opts.Names names issued by a traefik resolver with httpChallenge,
// from an empty storage, and waits until every name is served with a chain
// that verifies against the CA's root. It fails if the CA saw any number of
// orders other than one per name. The CA and Caddy are stopped before
// Obtain returns.
func Obtain(ctx context.Context, opts ObtainOptions) (ObtainResult, error) {
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Minute
	}
	if opts.RateWindow == 0 {
		opts.RateWindow = 10 * time.Second
	}
	res := ObtainResult{Names: opts.Names, KeyType: opts.KeyType, RateLimit: "default (10/10s)"}
	if opts.RateLimit > 0 {
		res.RateLimit = fmt.Sprintf("%d/%s", opts.RateLimit, opts.RateWindow)
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()

	err := func() error {
		if opts.Dir == "" {
			return errors.New("obtain: no directory")
		}
		ca, err := acmetest.New(acmetest.WithDir(opts.Dir))
		if err != nil {
			return err
		}
		defer ca.Close()
		dir := opts.Dir
		names := ObtainNames(opts.Names)
		data := map[string]any{
			"Storage":    filepath.Join(dir, "storage"),
			"LogLevel":   "WARN",
			"Log":        filepath.Join(dir, "caddy.log"),
			"HTTPPort":   ca.HTTPPort(),
			"HTTPSPort":  ca.TLSALPNPort(),
			"Dir":        ca.DirectoryURL(),
			"CAPEM":      ca.ServerCertPEMFile(),
			"KeyType":    opts.KeyType,
			"RateLimit":  opts.RateLimit,
			"RateWindow": opts.RateWindow,
			"Sites":      strings.Join(names, ", "),
		}
		text, err := caddytest.Render(obtainCaddyfile, data)
		if err != nil {
			return err
		}
		start := time.Now()
		if err := caddytest.Load(text); err != nil {
			return err
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ca.TLSALPNPort()))
		first, last, err := waitServed(ctx, addr, names, ca.RootPool())
		stopErr := caddytest.Stop()
		if err != nil {
			return fmt.Errorf("%w\ncaddy log (tail):\n%s", err, caddytest.LogTail(data["Log"].(string), 20))
		}
		if stopErr != nil {
			return stopErr
		}
		res.Wall, res.FirstServed = last.Sub(start), first.Sub(start)
		res.Orders, res.NewAccounts = ca.Orders(), ca.NewAccounts()
		var dup []string
		for _, n := range names {
			if got := ca.OrdersFor(n); got != 1 {
				dup = append(dup, fmt.Sprintf("%s ordered %d times", n, got))
			}
		}
		if len(dup) > 0 || res.Orders != opts.Names {
			return fmt.Errorf("checking orders: %d orders for %d names: %s", res.Orders, opts.Names, strings.Join(dup, "; "))
		}
		return nil
	}()
	res.Memory = ReadMemory()
	return res, err
}
