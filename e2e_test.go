package traefikacme

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"testing"
	"time"

	"github.com/ac075510/caddy-traefik-acme/internal/acmetest"
)

const obtainTimeout = 60 * time.Second

// TestObtainHTTP01 obtains three certificates through a resolver with
// httpChallenge, answered by Caddy's own HTTP server on the entry point's
// port, and checks each served chain against Pebble's root.
func TestObtainHTTP01(t *testing.T) {
	ca := acmetest.Start(t)
	env := newCaddyEnv(t, ca)
	env.startCaddy(t, `{
{{template "preamble" .}}
	traefik_acme {
		entrypoint web 127.0.0.1:{{.HTTPPort}}
		resolver le {
			email ops@example.test
			ca_server {{.Dir}}
			ca_certificates {{.CAPEM}}
			key_type EC256
			http_challenge web
		}
	}
}
a.example.test, b.example.test, c.example.test {
	tls {
		issuer traefik le
	}
	respond "ok"
}
`)
	for _, name := range []string{"a.example.test", "b.example.test", "c.example.test"} {
		chain := env.waitCert(t, name, ca.RootPool(), obtainTimeout, nil)
		if err := chain[0].VerifyHostname(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if got := ca.OrdersFor(name); got != 1 {
			t.Errorf("%s: %d orders at the CA, want 1", name, got)
		}
	}
	if got := ca.NewAccounts(); got != 1 {
		t.Errorf("new accounts at the CA: %d, want 1", got)
	}
}

// TestObtainTLSALPN01 does the same through tlsChallenge only: the CA
// validates on Caddy's HTTPS port.
func TestObtainTLSALPN01(t *testing.T) {
	ca := acmetest.Start(t)
	env := newCaddyEnv(t, ca)
	env.startCaddy(t, `{
{{template "preamble" .}}
	traefik_acme {
		resolver alpn {
			email ops@example.test
			ca_server {{.Dir}}
			ca_certificates {{.CAPEM}}
			key_type EC256
			tls_challenge
		}
	}
}
a.example.test, b.example.test, c.example.test {
	tls {
		issuer traefik alpn
	}
	respond "ok"
}
`)
	for _, name := range []string{"a.example.test", "b.example.test", "c.example.test"} {
		chain := env.waitCert(t, name, ca.RootPool(), obtainTimeout, nil)
		if err := chain[0].VerifyHostname(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if !env.logContains("tls-alpn-01") {
		t.Errorf("Caddy's log does not mention the tls-alpn-01 challenge")
	}
	if env.logContains(`"challenge_type":"http-01"`) {
		t.Errorf("an http-01 challenge was used although the resolver only enables tlsChallenge")
	}
}

// TestKeyTypes checks that keyType decides the leaf key, and that no
// keyType gives RSA-4096, Traefik's default.
func TestKeyTypes(t *testing.T) {
	ca := acmetest.Start(t)
	env := newCaddyEnv(t, ca)
	env.startCaddy(t, `{
{{template "preamble" .}}
	traefik_acme {
		entrypoint web 127.0.0.1:{{.HTTPPort}}
		resolver ec256 {
			email ec256@example.test
			ca_server {{.Dir}}
			ca_certificates {{.CAPEM}}
			key_type EC256
			http_challenge web
		}
		resolver ec384 {
			email ec384@example.test
			ca_server {{.Dir}}
			ca_certificates {{.CAPEM}}
			key_type EC384
			http_challenge web
		}
		resolver rsa2048 {
			email rsa2048@example.test
			ca_server {{.Dir}}
			ca_certificates {{.CAPEM}}
			key_type RSA2048
			http_challenge web
		}
		resolver default {
			email default@example.test
			ca_server {{.Dir}}
			ca_certificates {{.CAPEM}}
			http_challenge web
		}
	}
}
ec256.example.test {
	tls {
		issuer traefik ec256
	}
}
ec384.example.test {
	tls {
		issuer traefik ec384
	}
}
rsa2048.example.test {
	tls {
		issuer traefik rsa2048
	}
}
default.example.test {
	tls {
		issuer traefik default
	}
}
`)
	tests := []struct {
		name string
		want string
	}{
		{"ec256.example.test", "EC P-256"},
		{"ec384.example.test", "EC P-384"},
		{"rsa2048.example.test", "RSA 2048"},
		{"default.example.test", "RSA 4096"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chain := env.waitCert(t, tt.name, ca.RootPool(), obtainTimeout, nil)
			if got := keyDesc(chain[0]); got != tt.want {
				t.Errorf("leaf key: %s, want %s", got, tt.want)
			}
		})
	}
}

func keyDesc(c *x509.Certificate) string {
	switch k := c.PublicKey.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return "EC P-256"
		case elliptic.P384():
			return "EC P-384"
		}
		return "EC other"
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	}
	return fmt.Sprintf("%T", c.PublicKey)
}

// TestEAB runs Pebble with External Account Binding required: the resolver
// with the right kid/hmacEncoded gets its certificate, the one with a wrong
// HMAC key is refused and the error names the resolver.
func TestEAB(t *testing.T) {
	good := base64.RawURLEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	bad := base64.RawURLEncoding.EncodeToString([]byte("fedcba9876543210fedcba9876543210"))
	ca := acmetest.Start(t, acmetest.WithEAB(map[string]string{"kid-1": good}))
	env := newCaddyEnv(t, ca)
	env.Extra["good"] = good
	env.Extra["bad"] = bad
	env.startCaddy(t, `{
{{template "preamble" .}}
	traefik_acme {
		entrypoint web 127.0.0.1:{{.HTTPPort}}
		resolver right {
			email right@example.test
			ca_server {{.Dir}}
			ca_certificates {{.CAPEM}}
			key_type EC256
			eab kid-1 {{index .Extra "good"}}
			http_challenge web
		}
		resolver wrong {
			email wrong@example.test
			ca_server {{.Dir}}
			ca_certificates {{.CAPEM}}
			key_type EC256
			eab kid-1 {{index .Extra "bad"}}
			http_challenge web
		}
	}
}
right.example.test {
	tls {
		issuer traefik right
	}
}
wrong.example.test {
	tls {
		issuer traefik wrong
	}
}
`)
	env.waitCert(t, "right.example.test", ca.RootPool(), obtainTimeout, nil)
	waitFor(t, "the refusal of resolver \"wrong\" in Caddy's log", obtainTimeout, func() bool {
		return env.logContains("wrong.example.test", `resolver \"wrong\"`, "external account binding")
	})
	if env.logContains(bad) {
		t.Errorf("the wrong HMAC key appears in Caddy's log")
	}
	if _, err := env.handshake("wrong.example.test", ca.RootPool()); err == nil {
		t.Errorf("wrong.example.test got a certificate although its EAB key is wrong")
	}
	if got := ca.NewAccounts(); got != 1 {
		t.Errorf("new accounts at the CA: %d, want 1", got)
	}
}

// TestPreferredChain asks for the alternate chain: the served chain must end
// at the alternate root.
func TestPreferredChain(t *testing.T) {
	ca := acmetest.Start(t, acmetest.WithAlternateRoots(1))
	roots := ca.Roots()
	if len(roots) != 2 {
		t.Fatalf("CA has %d roots, want 2", len(roots))
	}
	env := newCaddyEnv(t, ca)
	env.Extra["alt"] = roots[1].Subject.CommonName
	env.startCaddy(t, `{
{{template "preamble" .}}
	traefik_acme {
		entrypoint web 127.0.0.1:{{.HTTPPort}}
		resolver le {
			email ops@example.test
			ca_server {{.Dir}}
			ca_certificates {{.CAPEM}}
			key_type EC256
			preferred_chain "{{index .Extra "alt"}}"
			http_challenge web
		}
	}
}
chain.example.test {
	tls {
		issuer traefik le
	}
}
`)
	chain := env.waitCert(t, "chain.example.test", ca.RootPool(), obtainTimeout, nil)
	top := chain[len(chain)-1]
	if top.Subject.CommonName != roots[1].Subject.CommonName {
		t.Errorf("served chain ends at %q, want the preferred root %q (default root: %q)", top.Subject.CommonName, roots[1].Subject.CommonName, roots[0].Subject.CommonName)
	}
}

// TestRenewal has Pebble issue 30-second certificates; with
// certificates_duration 1 (hour) the resolver renews when a third of the
// lifetime is left, so a new certificate is served before the first expires,
// without a restart.
func TestRenewal(t *testing.T) {
	ca := acmetest.Start(t, acmetest.WithShortValidity(30*time.Second))
	env := newCaddyEnv(t, ca)
	env.startCaddy(t, `{
{{template "preamble" .}}
	renew_interval 1s
	traefik_acme {
		entrypoint web 127.0.0.1:{{.HTTPPort}}
		resolver short {
			email ops@example.test
			ca_server {{.Dir}}
			ca_certificates {{.CAPEM}}
			key_type EC256
			certificates_duration 1
			http_challenge web
		}
	}
}
renew.example.test {
	tls {
		issuer traefik short
	}
}
`)
	first := env.waitCert(t, "renew.example.test", ca.RootPool(), obtainTimeout, nil)[0]
	second := env.waitCert(t, "renew.example.test", ca.RootPool(), 40*time.Second, func(c []*x509.Certificate) bool {
		return c[0].SerialNumber.Cmp(first.SerialNumber) != 0
	})[0]
	if !time.Now().Before(first.NotAfter) {
		t.Errorf("renewed certificate served only after the first expired (%s)", first.NotAfter)
	}
	if !second.NotAfter.After(first.NotAfter) {
		t.Errorf("renewed certificate expires %s, not after the first (%s)", second.NotAfter, first.NotAfter)
	}
	if got := ca.OrdersFor("renew.example.test"); got < 2 {
		t.Errorf("orders for renew.example.test: %d, want at least 2", got)
	}
}

// TestCADownServesStoredCertificates obtains certificates, stops Caddy and
// the CA, and starts Caddy again on the same storage: the stored
// certificates are served although the CA cannot be reached.
func TestCADownServesStoredCertificates(t *testing.T) {
	ca := acmetest.Start(t)
	env := newCaddyEnv(t, ca)
	const cf = `{
{{template "preamble" .}}
	traefik_acme {
		entrypoint web 127.0.0.1:{{.HTTPPort}}
		resolver le {
			email ops@example.test
			ca_server {{.Dir}}
			ca_certificates {{.CAPEM}}
			key_type EC256
			http_challenge web
		}
	}
}
a.example.test, b.example.test {
	tls {
		issuer traefik le
	}
}
`
	env.startCaddy(t, cf)
	served := map[string]string{}
	for _, name := range []string{"a.example.test", "b.example.test"} {
		served[name] = env.waitCert(t, name, ca.RootPool(), obtainTimeout, nil)[0].SerialNumber.String()
	}
	env.stopCaddy(t)
	ordersBefore := ca.Orders()
	ca.Stop()

	env.startCaddy(t, cf)
	for name, serial := range served {
		chain := env.waitCert(t, name, ca.RootPool(), 10*time.Second, nil)
		if got := chain[0].SerialNumber.String(); got != serial {
			t.Errorf("%s: serial %s after restart, want the stored %s", name, got, serial)
		}
	}
	if got := ca.Orders(); got != ordersBefore {
		t.Errorf("orders at the CA changed from %d to %d", ordersBefore, got)
	}
}

// TestGlobalCertIssuer uses the resolver for every site through the global
// cert_issuer option.
func TestGlobalCertIssuer(t *testing.T) {
	ca := acmetest.Start(t)
	env := newCaddyEnv(t, ca)
	env.startCaddy(t, `{
{{template "preamble" .}}
	cert_issuer traefik le
	traefik_acme {
		entrypoint web 127.0.0.1:{{.HTTPPort}}
		resolver le {
			email ops@example.test
			ca_server {{.Dir}}
			ca_certificates {{.CAPEM}}
			key_type EC256
			http_challenge web
		}
	}
}
global.example.test {
	respond "ok"
}
`)
	env.waitCert(t, "global.example.test", ca.RootPool(), obtainTimeout, nil)
}
