package traefikacme

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddytls"
	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3/acme"
	"go.uber.org/zap"

	"github.com/ac075510/caddy-traefik-acme/compat/config"
)

// minPollTimeout is the shortest wait for an order the issuer accepts.
// lego's certificateTimeout (Traefik's default 30 s) bounds only the wait
// after finalizing; certmagic's timeout also covers the wait for challenge
// validation, and under load 30 s abandons orders that then get ordered
// again. This is acmez's default, which plain Caddy uses.
const minPollTimeout = 5 * time.Minute

// lookupEnv reads the process environment. Tests replace it.
var lookupEnv = os.LookupEnv

// buildACMEIssuer translates a resolver (defaults applied, validated) into a
// caddytls.ACMEIssuer, following the translation table of DESIGN.md. The
// result still needs Provision.
func buildACMEIssuer(ctx caddy.Context, name string, res *config.ACME, eps map[string]*config.EntryPoint, logger *zap.Logger) (*caddytls.ACMEIssuer, error) {
	iss := &caddytls.ACMEIssuer{
		CA:          res.CAServer,
		Email:       res.Email,
		Profile:     res.Profile,
		ACMETimeout: caddy.Duration(max(time.Duration(res.CertificateTimeout), minPollTimeout)),
		Challenges:  &caddytls.ChallengesConfig{},
	}
	if res.EAB != nil && res.EAB.KID != "" {
		iss.ExternalAccount = &acme.EAB{KeyID: res.EAB.KID, MACKey: res.EAB.HMACEncoded}
	}
	if res.PreferredChain != "" {
		iss.PreferredChains = &caddytls.ChainPreference{RootCommonName: []string{res.PreferredChain}}
	}
	roots, err := caCertificateFiles(res)
	if err != nil {
		return nil, err
	}
	iss.TrustedRootsPEMFiles = roots

	// Challenges: each one is on only if the resolver enables it, as in
	// Traefik. certmagic offers DNS-01 alone whenever it is configured.
	ch := iss.Challenges
	ch.HTTP = &caddytls.HTTPChallengeConfig{Disabled: res.HTTPChallenge == nil}
	ch.TLSALPN = &caddytls.TLSALPNChallengeConfig{Disabled: res.TLSChallenge == nil}
	if h := res.HTTPChallenge; h != nil {
		ep := eps[h.EntryPoint]
		if ep == nil {
			return nil, fmt.Errorf("httpChallenge.entryPoint: entry point %q is not defined", h.EntryPoint)
		}
		host, _, _ := net.SplitHostPort(ep.Address)
		ch.HTTP.AlternatePort = ep.Port()
		if host != "" {
			ch.BindHost = host
		}
		if h.Delay > 0 {
			logger.Info("httpChallenge.delay is not needed: Caddy answers the challenge before the CA is asked to validate it", zap.Duration("delay", time.Duration(h.Delay)))
		}
	}
	if t := res.TLSChallenge; t != nil && t.Delay > 0 {
		logger.Info("tlsChallenge.delay is not needed: Caddy answers the challenge before the CA is asked to validate it", zap.Duration("delay", time.Duration(t.Delay)))
	}
	if d := res.DNSChallenge; d != nil {
		dns, err := dnsChallengeConfig(ctx, name, d)
		if err != nil {
			return nil, err
		}
		ch.DNS = dns
		if res.HTTPChallenge != nil || res.TLSChallenge != nil {
			logger.Warn("dnsChallenge is set together with httpChallenge or tlsChallenge; only DNS-01 is used")
		}
	}
	return iss, nil
}

// dnsChallengeConfig builds the DNS challenge of the ACME issuer: the
// dns.providers.traefik_lego module for the lego provider code, and the
// propagation settings.
func dnsChallengeConfig(ctx caddy.Context, resolver string, d *config.DNSChallenge) (*caddytls.DNSChallengeConfig, error) {
	// Build the provider once now: missing credentials are reported at
	// provisioning, and lego's TTL and propagation timeout are known.
	_, timing, err := newDNSProvider(ctx, d.Provider, d.Env)
	if err != nil {
		return nil, fmt.Errorf("dnsChallenge.provider: %w", err)
	}
	prov := legoProvider{Code: d.Provider, Env: d.Env, Resolver: resolver}
	raw, err := json.Marshal(prov)
	if err != nil {
		return nil, fmt.Errorf("dnsChallenge: encoding provider: %w", err)
	}
	raw, err = setModuleName(raw, "traefik_lego")
	if err != nil {
		return nil, err
	}
	cfg := &caddytls.DNSChallengeConfig{
		ProviderRaw:        raw,
		Resolvers:          d.Resolvers,
		TTL:                caddy.Duration(timing.TTL),
		PropagationTimeout: caddy.Duration(timing.PropagationTimeout),
	}
	if p := d.Propagation; p != nil {
		cfg.PropagationDelay = caddy.Duration(p.DelayBeforeChecks)
		if p.DisableChecks {
			cfg.PropagationTimeout = caddy.Duration(-1)
		}
	}
	return cfg, nil
}

func setModuleName(raw []byte, name string) ([]byte, error) {
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("dnsChallenge: encoding provider: %w", err)
	}
	m["name"] = name
	return json.Marshal(m)
}

// caCertificateFiles returns the PEM files of extra trusted roots:
// caCertificates, else LEGO_CA_CERTIFICATES (a ':'-separated list), as
// Traefik v3.2+ does. Each file must exist.
func caCertificateFiles(res *config.ACME) ([]string, error) {
	files := res.CACertificates
	key := "caCertificates"
	if len(files) == 0 {
		if v, ok := lookupEnv("LEGO_CA_CERTIFICATES"); ok && v != "" {
			key = "LEGO_CA_CERTIFICATES"
			for _, f := range strings.Split(v, string(os.PathListSeparator)) {
				if f = strings.TrimSpace(f); f != "" {
					files = append(files, f)
				}
			}
		}
	}
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
	}
	return files, nil
}

// caSystemCertPool reports whether the system roots are trusted in addition
// to the extra roots: caSystemCertPool, else LEGO_CA_SYSTEM_CERT_POOL.
func caSystemCertPool(res *config.ACME) bool {
	if res.CASystemCertPool {
		return true
	}
	v, _ := lookupEnv("LEGO_CA_SYSTEM_CERT_POOL")
	b, _ := strconv.ParseBool(v)
	return b
}

// caServerName returns the TLS server name used to verify the CA:
// caServerName, else LEGO_CA_SERVER_NAME.
func caServerName(res *config.ACME) string {
	if res.CAServerName != "" {
		return res.CAServerName
	}
	v, _ := lookupEnv("LEGO_CA_SERVER_NAME")
	return v
}

// tuneACMEClient replaces the HTTP client of the certmagic ACME issuer that
// iss built in SetConfig with one that honours the resolver's
// clientTimeout, clientResponseHeaderTimeout, caCertificates with
// caSystemCertPool, and caServerName. certmagic does not expose that client,
// so it is reached by reflection; TestTuneACMEClientReachesCertmagic fails
// if a certmagic upgrade moves it. On failure the issuer keeps certmagic's
// client (30 s timeouts, extra roots without system roots).
func tuneACMEClient(iss *caddytls.ACMEIssuer, res *config.ACME) error {
	clientField, err := certmagicHTTPClientField(iss)
	if err != nil {
		return err
	}
	old := *clientField
	if old == nil {
		return errors.New("certmagic ACME issuer has no HTTP client")
	}
	base, ok := old.Transport.(*http.Transport)
	if !ok {
		return fmt.Errorf("unexpected ACME transport type %T", old.Transport)
	}
	tr := base.Clone()
	tr.ResponseHeaderTimeout = time.Duration(res.ClientResponseHeaderTimeout)
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if tr.TLSClientConfig != nil {
		tlsCfg = tr.TLSClientConfig.Clone()
	}
	files, err := caCertificateFiles(res)
	if err != nil {
		return err
	}
	if len(files) > 0 {
		var pool *x509.CertPool
		if caSystemCertPool(res) {
			if sys, err := x509.SystemCertPool(); err == nil {
				pool = sys
			}
		}
		if pool == nil {
			pool = x509.NewCertPool()
		}
		for _, f := range files {
			pemData, err := os.ReadFile(f)
			if err != nil {
				return fmt.Errorf("caCertificates: %w", err)
			}
			if !pool.AppendCertsFromPEM(pemData) {
				return fmt.Errorf("caCertificates: %s holds no PEM certificate", f)
			}
		}
		tlsCfg.RootCAs = pool
	}
	tlsCfg.ServerName = caServerName(res)
	tr.TLSClientConfig = tlsCfg
	*clientField = &http.Client{Transport: tr, Timeout: time.Duration(res.ClientTimeout)}
	return nil
}

// certmagicIssuerOf returns the certmagic.ACMEIssuer that iss built in
// SetConfig. caddytls does not expose it, so it is reached by reflection;
// TestCertmagicInternalsReachable fails if an upgrade moves it.
func certmagicIssuerOf(iss *caddytls.ACMEIssuer) (*certmagic.ACMEIssuer, error) {
	f := reflect.ValueOf(iss).Elem().FieldByName("issuer")
	if !f.IsValid() || f.Type() != reflect.TypeOf((*certmagic.ACMEIssuer)(nil)) {
		return nil, errors.New("caddytls.ACMEIssuer has no issuer field of type *certmagic.ACMEIssuer")
	}
	if f.IsNil() {
		return nil, errors.New("caddytls.ACMEIssuer is not configured yet")
	}
	return (*certmagic.ACMEIssuer)(unsafe.Pointer(f.Pointer())), nil
}

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

// certmagicHTTPClientField returns the address of the httpClient field of
// the certmagic.ACMEIssuer held by iss (set by iss.SetConfig).
func certmagicHTTPClientField(iss *caddytls.ACMEIssuer) (**http.Client, error) {
	cm, err := certmagicIssuerOf(iss)
	if err != nil {
		return nil, err
	}
	hc := reflect.ValueOf(cm).Elem().FieldByName("httpClient")
	if !hc.IsValid() || hc.Type() != reflect.TypeOf((*http.Client)(nil)) {
		return nil, errors.New("certmagic.ACMEIssuer has no httpClient field of type *http.Client")
	}
	return (**http.Client)(unsafe.Pointer(hc.UnsafeAddr())), nil
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
