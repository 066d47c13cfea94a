package acmetest_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/libdns/libdns"
	"github.com/libdns/rfc2136"
	"github.com/mholt/acmez/v3/acme"
	"go.uber.org/zap"

	"github.com/ac075510/caddy-traefik-acme/internal/acmetest"
)

func init() {
	// certmagic allows 10 orders per 10 s per (CA, email) by default; the
	// limiter is created lazily, so this must be set before the first order.
	certmagic.RateLimitEvents = 1000
}

// obtainTimeout bounds each certificate request.
const obtainTimeout = 30 * time.Second

// challenge selects how a certmagic issuer solves challenges.
type challenge int

const (
	http01 challenge = iota
	tlsALPN01
	dns01RFC2136
	dns01Memory
)

// issuerFor returns an issuer template that solves only ch against ca.
func issuerFor(ca *acmetest.CA, ch challenge) certmagic.ACMEIssuer {
	dnsSolver := func(p certmagic.DNSProvider) *certmagic.DNS01Solver {
		return &certmagic.DNS01Solver{DNSManager: certmagic.DNSManager{
			DNSProvider:        p,
			Resolvers:          []string{ca.DNSAddr()},
			PropagationTimeout: -1,
			Logger:             zap.NewNop(),
		}}
	}
	switch ch {
	case http01:
		return certmagic.ACMEIssuer{AltHTTPPort: ca.HTTPPort(), DisableTLSALPNChallenge: true}
	case tlsALPN01:
		return certmagic.ACMEIssuer{AltTLSALPNPort: ca.TLSALPNPort(), DisableHTTPChallenge: true}
	case dns01RFC2136:
		return certmagic.ACMEIssuer{DNS01Solver: dnsSolver(&rfc2136.Provider{
			KeyName: ca.TSIGKeyName(),
			KeyAlg:  "hmac-sha256",
			Key:     ca.TSIGSecret(),
			Server:  ca.DNSAddr(),
		})}
	default:
		return certmagic.ACMEIssuer{DNS01Solver: dnsSolver(ca.DNSProvider())}
	}
}

// newMagic returns a certmagic config with its own cache (stopped on
// cleanup) and FileStorage at storage, issuing from ca with the issuer
// template iss.
func newMagic(t *testing.T, ca *acmetest.CA, storage string, iss certmagic.ACMEIssuer) *certmagic.Config {
	t.Helper()
	var cfg *certmagic.Config
	cache := certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) { return cfg, nil },
		Logger:           zap.NewNop(),
	})
	t.Cleanup(func() {
		done := make(chan struct{})
		go func() { defer close(done); cache.Stop() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("certmagic cache did not stop within 10s")
		}
	})
	cfg = certmagic.New(cache, certmagic.Config{
		Storage: &certmagic.FileStorage{Path: storage},
		Logger:  zap.NewNop(),
		OCSP:    certmagic.OCSPConfig{DisableStapling: true},
	})
	iss.CA = ca.DirectoryURL()
	iss.TestCA = ca.DirectoryURL()
	iss.TrustedRoots = ca.ServerCertPool()
	iss.Email = "test@example.org" // without it certmagic prompts on stdin
	iss.Agreed = true
	iss.ListenHost = "127.0.0.1"
	iss.Logger = zap.NewNop()
	cfg.Issuers = []certmagic.Issuer{certmagic.NewACMEIssuer(cfg, iss)}
	return cfg
}

// obtain gets a certificate for name through cfg and returns the leaf and
// the rest of the chain as served.
func obtain(t *testing.T, cfg *certmagic.Config, name string) (*x509.Certificate, []*x509.Certificate) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), obtainTimeout)
	defer cancel()
	start := time.Now()
	if err := cfg.ObtainCertSync(ctx, name); err != nil {
		t.Fatalf("obtaining certificate for %q: %v", name, err)
	}
	t.Logf("obtained %q in %v", name, time.Since(start).Round(time.Millisecond))
	cert, err := cfg.CacheManagedCertificate(ctx, name)
	if err != nil {
		t.Fatalf("loading certificate for %q: %v", name, err)
	}
	var chain []*x509.Certificate
	for _, der := range cert.Certificate.Certificate {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatalf("parsing certificate for %q: %v", name, err)
		}
		chain = append(chain, c)
	}
	return chain[0], chain[1:]
}

// verify checks that leaf is valid for dnsName under roots using the
// intermediates.
func verify(t *testing.T, leaf *x509.Certificate, intermediates []*x509.Certificate, roots *x509.CertPool, dnsName string) {
	t.Helper()
	inter := x509.NewCertPool()
	for _, c := range intermediates {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{
		DNSName:       dnsName,
		Intermediates: inter,
		Roots:         roots,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}); err != nil {
		t.Fatalf("verifying certificate for %q: %v", dnsName, err)
	}
}

// problemType returns the ACME problem type in err's chain, or "".
func problemType(err error) string {
	var p acme.Problem
	if errors.As(err, &p) {
		return p.Type
	}
	return ""
}

func TestObtainWithEachChallenge(t *testing.T) {
	ca := acmetest.Start(t)
	storage := t.TempDir() // shared: one account for every subtest

	tests := []struct {
		name      string
		challenge challenge
		domain    string
		verifyAs  string
		txtName   string // DNS-01 record that must be gone afterwards
	}{
		{name: "http-01", challenge: http01, domain: "http.example.test", verifyAs: "http.example.test"},
		{name: "tls-alpn-01", challenge: tlsALPN01, domain: "alpn.example.test", verifyAs: "alpn.example.test"},
		{
			name: "dns-01 rfc2136", challenge: dns01RFC2136, domain: "rfc2136.example.test",
			verifyAs: "rfc2136.example.test", txtName: "_acme-challenge.rfc2136.example.test",
		},
		{
			name: "dns-01 rfc2136 wildcard", challenge: dns01RFC2136, domain: "*.wild.example.test",
			verifyAs: "any.wild.example.test", txtName: "_acme-challenge.wild.example.test",
		},
		{
			name: "dns-01 memory provider", challenge: dns01Memory, domain: "deep.sub.example.test",
			verifyAs: "deep.sub.example.test", txtName: "_acme-challenge.deep.sub.example.test",
		},
	}
	var names []string
	for _, tc := range tests {
		names = append(names, tc.domain)
		t.Run(tc.name, func(t *testing.T) {
			cfg := newMagic(t, ca, storage, issuerFor(ca, tc.challenge))
			leaf, inter := obtain(t, cfg, tc.domain)
			verify(t, leaf, inter, ca.RootPool(), tc.verifyAs)
			if !slices.Equal(leaf.DNSNames, []string{tc.domain}) {
				t.Errorf("leaf DNSNames = %q, want [%q]", leaf.DNSNames, tc.domain)
			}
			if tc.txtName != "" {
				if got := ca.TXT(tc.txtName); len(got) != 0 {
					t.Errorf("TXT %s after cleanup = %q, want none", tc.txtName, got)
				}
			}
		})
	}

	if got := ca.NewAccounts(); got != 1 {
		t.Errorf("NewAccounts() = %d, want 1", got)
	}
	if got := ca.Orders(); got != len(names) {
		t.Errorf("Orders() = %d, want %d", got, len(names))
	}
	for _, n := range names {
		if got := ca.OrdersFor(n); got != 1 {
			t.Errorf("OrdersFor(%q) = %d, want 1", n, got)
		}
	}
	slices.Sort(names)
	if got := ca.OrderedNames(); !slices.Equal(got, names) {
		t.Errorf("OrderedNames() = %q, want %q", got, names)
	}
}

// silentProvider accepts records but publishes nothing.
type silentProvider struct{}

func (silentProvider) AppendRecords(_ context.Context, _ string, recs []libdns.Record) ([]libdns.Record, error) {
	return recs, nil
}

func (silentProvider) DeleteRecords(_ context.Context, _ string, recs []libdns.Record) ([]libdns.Record, error) {
	return recs, nil
}

func TestValidationIsReal(t *testing.T) {
	ca := acmetest.Start(t)
	iss := issuerFor(ca, dns01Memory)
	iss.DNS01Solver.(*certmagic.DNS01Solver).DNSProvider = silentProvider{}
	cfg := newMagic(t, ca, t.TempDir(), iss)

	ctx, cancel := context.WithTimeout(t.Context(), obtainTimeout)
	defer cancel()
	err := cfg.ObtainCertSync(ctx, "nothing.example.test")
	if got, want := problemType(err), acme.ProblemTypeUnauthorized; got != want {
		t.Fatalf("obtaining without a TXT record: problem %q (err %v), want %q", got, err, want)
	}
	if got := ca.OrdersFor("nothing.example.test"); got != 1 {
		t.Errorf("OrdersFor = %d, want 1 (the order exists, validation failed)", got)
	}
}

func TestEAB(t *testing.T) {
	mac := make([]byte, 32)
	if _, err := rand.Read(mac); err != nil {
		t.Fatal(err)
	}
	wrongMAC := make([]byte, 32)
	if _, err := rand.Read(wrongMAC); err != nil {
		t.Fatal(err)
	}
	key := base64.RawURLEncoding.EncodeToString(mac)
	ca := acmetest.Start(t, acmetest.WithEAB(map[string]string{"kid-1": key}))

	tests := []struct {
		name        string
		eab         *acme.EAB
		wantProblem string // "" = success
	}{
		{name: "missing", eab: nil, wantProblem: acme.ProblemTypeExternalAccountRequired},
		{
			name: "wrong mac key", eab: &acme.EAB{KeyID: "kid-1", MACKey: base64.RawURLEncoding.EncodeToString(wrongMAC)},
			wantProblem: acme.ProblemTypeUnauthorized,
		},
		{name: "unknown kid", eab: &acme.EAB{KeyID: "kid-2", MACKey: key}, wantProblem: acme.ProblemTypeUnauthorized},
		{name: "valid", eab: &acme.EAB{KeyID: "kid-1", MACKey: key}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			iss := issuerFor(ca, dns01Memory)
			iss.ExternalAccount = tc.eab
			cfg := newMagic(t, ca, t.TempDir(), iss)
			name := strings.ReplaceAll(tc.name, " ", "-") + ".eab.example.test"
			if tc.wantProblem == "" {
				leaf, inter := obtain(t, cfg, name)
				verify(t, leaf, inter, ca.RootPool(), name)
				return
			}
			ctx, cancel := context.WithTimeout(t.Context(), obtainTimeout)
			defer cancel()
			err := cfg.ObtainCertSync(ctx, name)
			if got := problemType(err); got != tc.wantProblem {
				t.Fatalf("obtaining: problem %q (err %v), want %q", got, err, tc.wantProblem)
			}
		})
	}
	if got := ca.NewAccounts(); got != 1 {
		t.Errorf("NewAccounts() = %d, want 1 (only the valid binding)", got)
	}
	if got := ca.Orders(); got != 1 {
		t.Errorf("Orders() = %d, want 1", got)
	}
}

func TestOptions(t *testing.T) {
	tests := []struct {
		name  string
		opts  []acmetest.Option
		check func(t *testing.T, ca *acmetest.CA, leaf *x509.Certificate, inter []*x509.Certificate)
	}{
		{
			name: "defaults",
			check: func(t *testing.T, ca *acmetest.CA, leaf *x509.Certificate, inter []*x509.Certificate) {
				if got := len(ca.Roots()); got != 1 {
					t.Errorf("len(Roots()) = %d, want 1", got)
				}
				if got := len(inter); got != 1 {
					t.Errorf("intermediates = %d, want 1", got)
				}
				if got := ca.Profile(); got != acmetest.DefaultProfile {
					t.Errorf("Profile() = %q, want %q", got, acmetest.DefaultProfile)
				}
				if life := leaf.NotAfter.Sub(leaf.NotBefore); life < 24*time.Hour {
					t.Errorf("default lifetime = %v, want days", life)
				}
			},
		},
		{
			name: "alternate roots",
			opts: []acmetest.Option{acmetest.WithAlternateRoots(2)},
			check: func(t *testing.T, ca *acmetest.CA, leaf *x509.Certificate, inter []*x509.Certificate) {
				roots := ca.Roots()
				if len(roots) != 3 {
					t.Fatalf("len(Roots()) = %d, want 3", len(roots))
				}
				seen := map[string]bool{}
				for i, r := range roots {
					if !r.IsCA || r.CheckSignatureFrom(r) != nil {
						t.Errorf("root %d (%s) is not a self-signed CA", i, r.Subject)
					}
					seen[string(r.Raw)] = true
				}
				if len(seen) != 3 {
					t.Errorf("roots are not distinct: %d unique", len(seen))
				}
				only0 := x509.NewCertPool()
				only0.AddCert(roots[0])
				verify(t, leaf, inter, only0, leaf.DNSNames[0])
			},
		},
		{
			name: "chain length",
			opts: []acmetest.Option{acmetest.WithChainLength(3)},
			check: func(t *testing.T, _ *acmetest.CA, _ *x509.Certificate, inter []*x509.Certificate) {
				if got := len(inter); got != 3 {
					t.Errorf("intermediates = %d, want 3", got)
				}
			},
		},
		{
			name: "short validity",
			opts: []acmetest.Option{acmetest.WithShortValidity(90 * time.Second)},
			check: func(t *testing.T, ca *acmetest.CA, leaf *x509.Certificate, _ []*x509.Certificate) {
				if got := ca.Profile(); got != acmetest.ShortLivedProfile {
					t.Errorf("Profile() = %q, want %q", got, acmetest.ShortLivedProfile)
				}
				// Pebble: NotAfter = NotBefore + d - 1s (inclusive bounds).
				if life := leaf.NotAfter.Sub(leaf.NotBefore); life != 89*time.Second {
					t.Errorf("lifetime = %v, want 89s", life)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ca := acmetest.Start(t, tc.opts...)
			cfg := newMagic(t, ca, t.TempDir(), issuerFor(ca, dns01Memory))
			name := strings.ReplaceAll(tc.name, " ", "-") + ".example.test"
			leaf, inter := obtain(t, cfg, name)
			verify(t, leaf, inter, ca.RootPool(), name)
			tc.check(t, ca, leaf, inter)
		})
	}
}

func TestStartRejectsInvalidOptions(t *testing.T) {
	// Start reports bad options through t.Fatalf; run it against a recorder.
	tests := []struct {
		name string
		opt  acmetest.Option
	}{
		{name: "negative alternate roots", opt: acmetest.WithAlternateRoots(-1)},
		{name: "zero chain length", opt: acmetest.WithChainLength(0)},
		{name: "sub-second validity", opt: acmetest.WithShortValidity(500 * time.Millisecond)},
		{name: "padded eab key", opt: acmetest.WithEAB(map[string]string{"kid": "YWJj="})},
		{name: "empty eab key", opt: acmetest.WithEAB(map[string]string{"kid": ""})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &fatalRecorder{TB: t}
			done := make(chan struct{})
			go func() { // Fatalf ends the goroutine via runtime.Goexit
				defer close(done)
				acmetest.Start(rec, tc.opt)
			}()
			<-done
			if !rec.fatal {
				t.Fatal("Start accepted an invalid option")
			}
			if strings.Contains(rec.msg, "YWJj") {
				t.Errorf("failure message leaks the eab key: %q", rec.msg)
			}
		})
	}
}

// fatalRecorder records Fatal/Fatalf instead of failing the test.
type fatalRecorder struct {
	testing.TB
	fatal bool
	msg   string
}

func (r *fatalRecorder) Fatal(args ...any) {
	r.fatal = true
	r.msg = fmt.Sprint(args...)
	runtime.Goexit()
}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.fatal = true
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestCounters(t *testing.T) {
	ca := acmetest.Start(t)
	client := acme.Client{
		Directory: ca.DirectoryURL(),
		HTTPClient: &http.Client{
			Timeout:   10 * time.Second,
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.ServerCertPool()}},
		},
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), obtainTimeout)
	defer cancel()
	acct := acme.Account{Contact: []string{"mailto:test@example.org"}, TermsOfServiceAgreed: true, PrivateKey: key}
	var registered acme.Account // acct as created, with its Location

	// Each step runs in order against the same account key.
	steps := []struct {
		name         string
		run          func() error
		wantErr      bool
		wantAccounts int
		wantOrders   int
	}{
		{
			name:    "lookup of unknown key",
			run:     func() error { _, err := client.GetAccount(ctx, acct); return err },
			wantErr: true,
		},
		{
			name:         "new account",
			run:          func() error { var err error; registered, err = client.NewAccount(ctx, acct); return err },
			wantAccounts: 1,
		},
		{
			name:         "lookup with onlyReturnExisting",
			run:          func() error { _, err := client.GetAccount(ctx, acct); return err },
			wantAccounts: 1,
		},
		{
			name:         "new account with existing key",
			run:          func() error { _, err := client.NewAccount(ctx, acct); return err }, // 200, not 201
			wantAccounts: 1,
		},
		{
			name: "rejected order",
			run: func() error {
				_, err := client.NewOrder(ctx, registered, acme.Order{Identifiers: []acme.Identifier{{Type: "dns", Value: "bad_name!.example.test"}}})
				return err
			},
			wantErr:      true,
			wantAccounts: 1,
		},
		{
			name: "order for two names",
			run: func() error {
				_, err := client.NewOrder(ctx, registered, acme.Order{Identifiers: []acme.Identifier{
					{Type: "dns", Value: "B.example.test"}, {Type: "dns", Value: "a.example.test"},
				}})
				return err
			},
			wantAccounts: 1,
			wantOrders:   1,
		},
		{
			name: "order for one of them again",
			run: func() error {
				_, err := client.NewOrder(ctx, registered, acme.Order{Identifiers: []acme.Identifier{{Type: "dns", Value: "a.example.test"}}})
				return err
			},
			wantAccounts: 1,
			wantOrders:   2,
		},
	}
	for _, s := range steps {
		err := s.run()
		if (err != nil) != s.wantErr {
			t.Fatalf("%s: err = %v, want error %t", s.name, err, s.wantErr)
		}
		if got := ca.NewAccounts(); got != s.wantAccounts {
			t.Errorf("%s: NewAccounts() = %d, want %d", s.name, got, s.wantAccounts)
		}
		if got := ca.Orders(); got != s.wantOrders {
			t.Errorf("%s: Orders() = %d, want %d", s.name, got, s.wantOrders)
		}
	}
	if got := ca.OrdersFor("A.Example.Test."); got != 2 {
		t.Errorf("OrdersFor(a) = %d, want 2", got)
	}
	if got := ca.OrdersFor("b.example.test"); got != 1 {
		t.Errorf("OrdersFor(b) = %d, want 1", got)
	}
	if got, want := ca.OrderedNames(), []string{"a.example.test", "a.example.test", "b.example.test"}; !slices.Equal(got, want) {
		t.Errorf("OrderedNames() = %q, want %q", got, want)
	}
}

func TestServerCertAndStop(t *testing.T) {
	ca := acmetest.Start(t)

	pemBytes, err := os.ReadFile(ca.ServerCertPEMFile())
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("ServerCertPEMFile holds no certificate: %q", pemBytes)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatal("ServerCertPEMFile is not usable as a pool")
	}
	get := func(pool *x509.CertPool) (*http.Response, error) {
		c := &http.Client{
			Timeout:   5 * time.Second,
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: true},
		}
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, ca.DirectoryURL(), nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("User-Agent", "acmetest-test")
		return c.Do(req)
	}

	for name, p := range map[string]*x509.CertPool{"pem file": pool, "pool": ca.ServerCertPool()} {
		resp, err := get(p)
		if err != nil {
			t.Fatalf("GET directory trusting %s: %v", name, err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET directory trusting %s: status %d", name, resp.StatusCode)
		}
	}
	if _, err := get(ca.RootPool()); err == nil {
		t.Error("GET directory trusting only the issuing roots succeeded; the API certificate must be separate")
	}

	ca.Stop()
	ca.Stop() // idempotent
	if resp, err := get(pool); err == nil {
		_ = resp.Body.Close()
		t.Fatal("GET directory after Stop succeeded")
	}
	ca.SetTXT("still.example.test", "up") // DNS keeps working after Stop
	if got := ca.TXT("still.example.test"); !slices.Equal(got, []string{"up"}) {
		t.Errorf("TXT after Stop = %q", got)
	}
}
