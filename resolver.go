package traefikacme

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddytls"
	"github.com/mholt/acmez/v3/acme"
	"go.uber.org/zap"

	"github.com/ac075510/caddy-traefik-acme/compat/config"
	"github.com/ac075510/caddy-traefik-acme/dnsbridge"
)

// minPollTimeout is the shortest wait for an order the issuer accepts.
// lego's certificateTimeout (Traefik's default 30 s) bounds only the wait
// after finalizing; certmagic's timeout also covers the wait for challenge
// validation, and under load 30 s abandons orders that then get ordered
// again. This is acmez's default, which plain Caddy uses.
const minPollTimeout = 5 * time.Minute

// lookupEnv is where the root package reads the process environment; the
// leaf packages (compat/config, dnsbridge) take it injected. Tests replace
// it (commands_dnsproviders_test.go).
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

// dnsChallengeConfig builds the DNS challenge of the ACME issuer from the
// provider dnsbridge.Select chooses: for a libdns or native provider, the
// dns.providers.traefik_lego module and the propagation settings (certmagic
// drives it); for lego's own provider (the lego bridge), a solver that hands
// lego the challenge and waits for propagation as lego does.
func dnsChallengeConfig(ctx caddy.Context, resolver string, d *config.DNSChallenge) (*caddytls.DNSChallengeConfig, error) {
	// Build the provider once now: missing credentials are reported at
	// provisioning, and lego's TTL and propagation timeout are known.
	sel, err := selectDNSProvider(ctx, d)
	if err != nil {
		return nil, fmt.Errorf("dnsChallenge.provider: %w", err)
	}
	if sel.Backend == dnsbridge.BackendLego {
		ctx.Logger().Info("dns provider served by lego's own provider code",
			zap.String("resolver", resolver), zap.String("provider", sel.Code), zap.String("reason", sel.Reason))
		cfg := &caddytls.DNSChallengeConfig{Resolvers: d.Resolvers}
		if err := setDNSChallengeSolver(cfg, bridgeSolver{sel.Solver}); err != nil {
			return nil, fmt.Errorf("dnsChallenge.provider: %s: %w", sel.Code, err)
		}
		return cfg, nil
	}
	timing := sel.Timing
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
		Resolvers:          nonEmpty(d.Resolvers), // certmagic adds port 53 where none is given, as lego does
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

// nonEmpty returns the non-empty strings of list (a trailing comma in a
// Traefik flag or env value leaves an empty resolver), or nil.
func nonEmpty(list []string) []string {
	var out []string
	for _, s := range list {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
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
// so it is reached by reflection; TestCertmagicInternalsReachable fails
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
