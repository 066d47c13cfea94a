package traefikacme

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddytls"
	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3/acme"

	"github.com/ac075510/caddy-traefik-acme/compat/config"
	"github.com/ac075510/caddy-traefik-acme/internal/acmetest"
)

// TestCertmagicInternalsReachable guards the two places where the issuer
// reaches into certmagic by reflection: the ACME HTTP client (timeouts,
// roots, server name) and NewAccountFunc (RSA-4096 account keys). If a
// certmagic upgrade moves them, this fails instead of users silently losing
// those options.
func TestCertmagicInternalsReachable(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
	defer cancel()
	iss := &caddytls.ACMEIssuer{CA: "https://127.0.0.1:14000/dir", Email: "a@example.test"}
	if err := iss.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := certmagicIssuerOf(iss); err == nil {
		t.Fatalf("certmagicIssuerOf succeeded before SetConfig")
	}
	cache := certmagic.NewCache(certmagic.CacheOptions{GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) { return nil, nil }})
	defer cache.Stop()
	cfg := certmagic.New(cache, certmagic.Config{Storage: &certmagic.FileStorage{Path: t.TempDir()}})
	iss.SetConfig(cfg)

	res := &config.ACME{CAServerName: "acme.internal"}
	res.SetDefaults("test")
	res.ClientTimeout = config.Duration(77 * time.Second)
	res.ClientResponseHeaderTimeout = config.Duration(11 * time.Second)
	if err := tuneACMEClient(iss, res); err != nil {
		t.Fatalf("tuneACMEClient: %v", err)
	}
	field, err := certmagicHTTPClientField(iss)
	if err != nil {
		t.Fatal(err)
	}
	hc := *field
	if hc.Timeout != 77*time.Second {
		t.Errorf("client timeout %s, want 77s", hc.Timeout)
	}
	tr := hc.Transport.(*http.Transport)
	if tr.ResponseHeaderTimeout != 11*time.Second {
		t.Errorf("response header timeout %s, want 11s", tr.ResponseHeaderTimeout)
	}
	if tr.TLSClientConfig == nil || tr.TLSClientConfig.ServerName != "acme.internal" {
		t.Errorf("server name not applied: %+v", tr.TLSClientConfig)
	}
	if tr.Proxy == nil {
		t.Errorf("the proxy function of certmagic's transport was lost")
	}

	if err := useRSAAccountKeys(iss); err != nil {
		t.Fatalf("useRSAAccountKeys: %v", err)
	}
	cm, _ := certmagicIssuerOf(iss)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	acct, err := cm.NewAccountFunc(t.Context(), cm, acme.Account{PrivateKey: ec})
	if err != nil {
		t.Fatal(err)
	}
	k, ok := acct.PrivateKey.(*rsa.PrivateKey)
	if !ok || k.N.BitLen() != 4096 {
		t.Errorf("new account key %T, want RSA-4096", acct.PrivateKey)
	}
}

// orderRateLimitCaddyfile has two resolvers on one CA with different
// accounts; {{.Extra.Limit}} is the "le" resolver's order_rate_limit line.
const orderRateLimitCaddyfile = `{
{{template "preamble" .}}
	traefik_acme {
		entrypoint web 127.0.0.1:{{.HTTPPort}}
		resolver le {
			email Ops@Example.test
			ca_server {{.Dir}}
			ca_certificates {{.CAPEM}}
			key_type EC256
			http_challenge web
			{{.Extra.Limit}}
		}
		resolver other {
			email other@example.test
			ca_server {{.Dir}}
			ca_certificates {{.CAPEM}}
			key_type EC256
			http_challenge web
		}
	}
}
a.example.test {
	tls {
		issuer traefik le
	}
	respond "ok"
}
b.example.test {
	tls {
		issuer traefik other
	}
	respond "ok"
}
`

// TestOrderRateLimitReachesCertmagic checks that order_rate_limit sets the
// limiter certmagic really consults for the resolver's account, leaves
// other accounts at certmagic's default, and is undone by a reload without
// it. The "other" account's limiter is created by certmagic itself when it
// places its first order: finding it through the linked map proves that the
// map is certmagic's.
func TestOrderRateLimitReachesCertmagic(t *testing.T) {
	ca := acmetest.Start(t)
	env := newCaddyEnv(t, ca)
	env.Extra["Limit"] = "order_rate_limit 50 1m"
	env.startCaddy(t, orderRateLimitCaddyfile)
	for _, name := range []string{"a.example.test", "b.example.test"} {
		env.waitCert(t, name, ca.RootPool(), obtainTimeout, nil)
		if got := ca.OrdersFor(name); got != 1 {
			t.Errorf("%s: %d orders at the CA, want 1", name, got)
		}
	}
	dir := ca.DirectoryURL()
	check := func(email string, wantEvents int, wantWindow time.Duration) {
		t.Helper()
		events, window, ok := orderRateLimit(dir, email)
		if !ok || events != wantEvents || window != wantWindow {
			t.Errorf("limiter of %s: %d per %s (exists %v), want %d per %s", email, events, window, ok, wantEvents, wantWindow)
		}
	}
	// TestMain raises certmagic's defaults for the whole package; they are
	// what certmagic gives an account nobody configured.
	defEvents, defWindow := certmagic.RateLimitEvents, certmagic.RateLimitEventsWindow
	check("ops@example.test", 50, time.Minute)
	check("other@example.test", defEvents, defWindow) // made by certmagic

	env.stopCaddy(t)
	env.Extra["Limit"] = ""
	env.startCaddy(t, orderRateLimitCaddyfile)
	check("ops@example.test", defEvents, defWindow)
}

// stubSolver is an acmez.Solver that does nothing.
type stubSolver struct{ id string }

func (stubSolver) Present(context.Context, acme.Challenge) error { return nil }
func (stubSolver) CleanUp(context.Context, acme.Challenge) error { return nil }

// TestDNSChallengeSolverReachable guards reach 5: a solver set into
// caddytls.DNSChallengeConfig is the DNS-01 solver of the certmagic issuer
// that caddytls builds, so resolvers served by the lego bridge work.
func TestDNSChallengeSolverReachable(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
	defer cancel()
	want := stubSolver{id: "lego"}
	dns := &caddytls.DNSChallengeConfig{}
	if err := setDNSChallengeSolver(dns, want); err != nil {
		t.Fatal(err)
	}
	iss := &caddytls.ACMEIssuer{CA: "https://127.0.0.1:14000/dir", Email: "a@example.test",
		Challenges: &caddytls.ChallengesConfig{DNS: dns}}
	if err := iss.Provision(ctx); err != nil {
		t.Fatalf("Provision with a solver and no provider: %v", err)
	}
	cache := certmagic.NewCache(certmagic.CacheOptions{GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) { return nil, nil }})
	defer cache.Stop()
	iss.SetConfig(certmagic.New(cache, certmagic.Config{Storage: &certmagic.FileStorage{Path: t.TempDir()}}))
	cm, err := certmagicIssuerOf(iss)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := cm.DNS01Solver.(stubSolver); !ok || got != want {
		t.Fatalf("certmagic DNS01Solver = %#v, want the solver set in the DNS challenge config", cm.DNS01Solver)
	}
}
