package traefikacme

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/ac075510/caddy-traefik-acme/compat/config"
)

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
