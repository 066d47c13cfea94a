package traefikacme

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddytls"
	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3/acme"
	"go.uber.org/zap"

	"github.com/ac075510/caddy-traefik-acme/compat/config"
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

// TestRebuildCSR checks that CSRs get lego's Common Name and email SANs when
// the key was made by the issuer's generator, and stay as they are otherwise.
func TestRebuildCSR(t *testing.T) {
	gen := newKeyGenerator(config.KeyTypeEC256)
	mkCSR := func(key crypto.Signer) *x509.CertificateRequest {
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: []string{"a.example.test"}}, key)
		if err != nil {
			t.Fatal(err)
		}
		csr, err := x509.ParseCertificateRequest(der)
		if err != nil {
			t.Fatal(err)
		}
		return csr
	}
	tests := []struct {
		desc     string
		ours     bool
		useCN    bool
		emails   []string
		wantCN   string
		wantMail int
	}{
		{"common name like lego", true, true, nil, "a.example.test", 0},
		{"disableCommonName", true, false, nil, "", 0},
		{"email addresses", true, true, []string{"admin@example.test"}, "a.example.test", 1},
		{"key not generated here", false, true, []string{"admin@example.test"}, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			var key crypto.Signer
			if tt.ours {
				k, err := gen.GenerateKey()
				if err != nil {
					t.Fatal(err)
				}
				key = k.(crypto.Signer)
			} else {
				key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			}
			csr := gen.rebuildCSR(mkCSR(key), tt.useCN, tt.emails, zap.NewNop())
			if err := csr.CheckSignature(); err != nil {
				t.Fatalf("rebuilt CSR signature: %v", err)
			}
			if csr.Subject.CommonName != tt.wantCN {
				t.Errorf("CN %q, want %q", csr.Subject.CommonName, tt.wantCN)
			}
			if len(csr.EmailAddresses) != tt.wantMail {
				t.Errorf("emails %v, want %d", csr.EmailAddresses, tt.wantMail)
			}
			if len(csr.DNSNames) != 1 || csr.DNSNames[0] != "a.example.test" {
				t.Errorf("DNS names %v changed", csr.DNSNames)
			}
		})
	}
}

// TestCertificateTimeoutFloor checks that certificateTimeout never makes
// certmagic give up on an order sooner than plain Caddy would.
func TestCertificateTimeoutFloor(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
	defer cancel()
	tests := []struct {
		desc string
		set  time.Duration
		want time.Duration
	}{
		{"traefik default", 30 * time.Second, 5 * time.Minute},
		{"longer than the floor", 10 * time.Minute, 10 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			res := &config.ACME{TLSChallenge: &config.TLSChallenge{}}
			res.SetDefaults("test")
			res.CertificateTimeout = config.Duration(tt.set)
			iss, err := buildACMEIssuer(ctx, "le", res, nil, zap.NewNop())
			if err != nil {
				t.Fatal(err)
			}
			if got := time.Duration(iss.ACMETimeout); got != tt.want {
				t.Errorf("ACME timeout %s, want %s", got, tt.want)
			}
		})
	}
}

// TestRSAKeygenBounded runs three times as many RSA generations as there are
// slots and checks that no more than one per slot ran at once, that the
// slots were used, and that every key is remembered for its CSR.
func TestRSAKeygenBounded(t *testing.T) {
	g := newKeyGenerator(config.KeyTypeRSA2048)
	n := 3 * cap(rsaKeygenSlots)
	var (
		wg      sync.WaitGroup
		maxSeen atomic.Int64
		done    = make(chan struct{})
		keys    = make([]crypto.PrivateKey, n)
		errs    = make([]error, n)
	)
	go func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			if l := int64(len(rsaKeygenSlots)); l > maxSeen.Load() {
				maxSeen.Store(l)
			}
			runtime.Gosched()
		}
	}()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			keys[i], errs[i] = g.GenerateKey()
		}()
	}
	wg.Wait()
	close(done)
	if m := maxSeen.Load(); m < 1 || m > int64(cap(rsaKeygenSlots)) {
		t.Errorf("at most %d generations at once observed; want 1..%d", m, cap(rsaKeygenSlots))
	}
	for i, k := range keys {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok || rk.N.BitLen() != 2048 {
			t.Fatalf("key %d: %T", i, k)
		}
		if _, ok := g.take(rk.Public()); !ok {
			t.Errorf("key %d not remembered", i)
		}
	}
	// EC keys do not take a slot.
	ec := newKeyGenerator(config.KeyTypeEC256)
	for range cap(rsaKeygenSlots) {
		rsaKeygenSlots <- struct{}{}
	}
	defer func() {
		for range cap(rsaKeygenSlots) {
			<-rsaKeygenSlots
		}
	}()
	ecErr := make(chan error, 1)
	go func() {
		_, err := ec.GenerateKey()
		ecErr <- err
	}()
	select {
	case err := <-ecErr:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("an EC key generation waited for an RSA slot")
	}
}
