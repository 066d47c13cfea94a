package traefikacme

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"runtime"
	"sync"

	"github.com/caddyserver/caddy/v2/modules/caddytls"
	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3/acme"
	"go.uber.org/zap"

	"github.com/ac075510/caddy-traefik-acme/compat/config"
)

// useRSAAccountKeys makes the certmagic issuer behind iss register new
// ACME accounts with an RSA-4096 key, as Traefik does, instead of
// certmagic's P-256: Traefik reads only RSA account keys from acme.json, so
// this keeps a mirrored file usable by Traefik (rollback). It also covers
// accounts certmagic recreates when the CA no longer knows the stored one.
func useRSAAccountKeys(iss *caddytls.ACMEIssuer) error {
	cm, err := certmagicIssuerOf(iss)
	if err != nil {
		return err
	}
	prev := cm.NewAccountFunc
	cm.NewAccountFunc = func(ctx context.Context, ai *certmagic.ACMEIssuer, acct acme.Account) (acme.Account, error) {
		if prev != nil {
			var err error
			if acct, err = prev(ctx, ai, acct); err != nil {
				return acct, err
			}
		}
		if _, ok := acct.PrivateKey.(*rsa.PrivateKey); ok {
			return acct, nil
		}
		key, err := rsa.GenerateKey(rand.Reader, 4096)
		if err != nil {
			return acct, fmt.Errorf("generating rsa-4096 account key: %w", err)
		}
		acct.PrivateKey = key
		return acct, nil
	}
	return nil
}

// keyGenerator makes certificate keys of a Traefik keyType and remembers
// the keys it made recently, so that Issue can rebuild the CSR that
// certmagic signed with one of them.
type keyGenerator struct {
	gen certmagic.StandardKeyGenerator

	mu     sync.Mutex
	recent map[[32]byte]crypto.Signer
	order  [][32]byte
}

const maxRememberedKeys = 256

func newKeyGenerator(keyType string) *keyGenerator {
	return &keyGenerator{gen: certmagic.StandardKeyGenerator{KeyType: certmagicKeyType(keyType)}, recent: make(map[[32]byte]crypto.Signer)}
}

// certmagicKeyType maps a Traefik keyType to certmagic's key type. Unknown
// values take Traefik's default, RSA4096 (Validate rejects them earlier).
func certmagicKeyType(keyType string) certmagic.KeyType {
	switch keyType {
	case config.KeyTypeEC256:
		return certmagic.P256
	case config.KeyTypeEC384:
		return certmagic.P384
	case config.KeyTypeRSA2048:
		return certmagic.RSA2048
	case config.KeyTypeRSA8192:
		return certmagic.RSA8192
	default:
		return certmagic.RSA4096
	}
}

// rsaKeygenSlots bounds concurrent RSA key generations to the number of
// CPUs. An RSA-4096 key costs about 0.9 s of CPU; when Caddy starts with
// 100 new names it obtains them all at once, and 100 generations sharing
// two cores all finish together, ~45 s later, so no site is served before
// then. One generation per core yields the same total but the first key in
// under a second, and each order proceeds as soon as its key exists.
var rsaKeygenSlots = make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))

// GenerateKey implements certmagic.KeyGenerator. RSA generations wait for
// one of [rsaKeygenSlots].
func (g *keyGenerator) GenerateKey() (crypto.PrivateKey, error) {
	if isRSA(g.gen.KeyType) {
		rsaKeygenSlots <- struct{}{}
		defer func() { <-rsaKeygenSlots }()
	}
	key, err := g.gen.GenerateKey()
	if err != nil {
		return nil, err
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return key, nil
	}
	id, err := publicKeyID(signer.Public())
	if err != nil {
		return key, nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.order) >= maxRememberedKeys {
		delete(g.recent, g.order[0])
		g.order = g.order[1:]
	}
	g.recent[id] = signer
	g.order = append(g.order, id)
	return key, nil
}

// isRSA reports whether kt is one of certmagic's RSA key types.
func isRSA(kt certmagic.KeyType) bool {
	return kt == certmagic.RSA2048 || kt == certmagic.RSA4096 || kt == certmagic.RSA8192
}

// take returns and forgets the remembered key for pub.
func (g *keyGenerator) take(pub any) (crypto.Signer, bool) {
	id, err := publicKeyID(pub)
	if err != nil {
		return nil, false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	s, ok := g.recent[id]
	if ok {
		delete(g.recent, id)
		for i, o := range g.order {
			if o == id {
				g.order = append(g.order[:i], g.order[i+1:]...)
				break
			}
		}
	}
	return s, ok
}

func publicKeyID(pub any) ([32]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(der), nil
}

// rebuildCSR returns csr rebuilt the way lego builds it: the first DNS name
// (at most 64 bytes) as Common Name when useCN is set, and emails added as
// email SANs. When the key that signed csr is unknown (a reused key) or
// nothing needs to change, csr is returned as is.
func (g *keyGenerator) rebuildCSR(csr *x509.CertificateRequest, useCN bool, emails []string, logger *zap.Logger) *x509.CertificateRequest {
	wantCN := ""
	if useCN && csr.Subject.CommonName == "" {
		if len(csr.DNSNames) > 0 && len(csr.DNSNames[0]) <= 64 {
			wantCN = csr.DNSNames[0]
		} else if len(csr.IPAddresses) > 0 {
			wantCN = csr.IPAddresses[0].String()
		}
	}
	if wantCN == "" && len(emails) == 0 {
		return csr
	}
	signer, ok := g.take(csr.PublicKey)
	if !ok {
		logger.Debug("csr kept as certmagic built it: its key was not generated by this issuer")
		return csr
	}
	tmpl := &x509.CertificateRequest{
		Subject:         csr.Subject,
		DNSNames:        csr.DNSNames,
		IPAddresses:     csr.IPAddresses,
		URIs:            csr.URIs,
		EmailAddresses:  append(append([]string(nil), csr.EmailAddresses...), emails...),
		ExtraExtensions: csr.ExtraExtensions,
	}
	if wantCN != "" {
		tmpl.Subject.CommonName = wantCN
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, signer)
	if err != nil {
		logger.Warn("rebuilding csr", zap.Error(err))
		return csr
	}
	out, err := x509.ParseCertificateRequest(der)
	if err != nil {
		logger.Warn("rebuilding csr", zap.Error(err))
		return csr
	}
	return out
}
