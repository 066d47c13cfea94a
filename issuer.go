package traefikacme

import (
	"context"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddytls"
	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3/acme"
	"go.uber.org/zap"

	"github.com/ac075510/caddy-traefik-acme/compat/config"
)

func init() {
	caddy.RegisterModule(Issuer{})
}

// Issuer obtains certificates through a resolver of the traefik_acme app,
// as a Traefik router with tls.certResolver does. It builds a
// caddytls.ACMEIssuer from the resolver and forwards every certmagic
// interface to it, so Caddy's HTTP server answers HTTP-01 challenges and
// ARI works as for Caddy's own ACME issuer.
//
// The resolver's keyType and certificatesDuration apply to the automation
// policy that uses this issuer: they set its key generator and renewal
// window, overriding the policy's key_type.
type Issuer struct {
	// Resolver names a resolver of the traefik_acme app. Required.
	Resolver string `json:"resolver,omitempty"`

	acme   *caddytls.ACMEIssuer // built from the resolver; set at Provision
	stores *stores              // the app's acme.json files; set at Provision
	res    *config.ACME         // the effective resolver; set at Provision
	keys   *keyGenerator        // remembers fresh keys to rebuild CSRs; set at Provision
	ratio  float64              // renewal window ratio from certificatesDuration; set at Provision
	logger *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (Issuer) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "tls.issuance.traefik",
		New: func() caddy.Module { return new(Issuer) },
	}
}

// Provision looks up the resolver in the traefik_acme app and builds the
// underlying ACME issuer from it.
func (iss *Issuer) Provision(ctx caddy.Context) error {
	iss.logger = ctx.Logger().With(zap.String("resolver", iss.Resolver))
	if iss.Resolver == "" {
		return fmt.Errorf("traefik issuer: missing resolver name")
	}
	appIface, err := ctx.App("traefik_acme")
	if err != nil {
		return fmt.Errorf("traefik issuer: loading the traefik_acme app: %w", err)
	}
	app := appIface.(*App)
	res, err := app.resolver(iss.Resolver)
	if err != nil {
		return fmt.Errorf("traefik issuer: %w", err)
	}
	iss.res = res
	iss.stores = app.stores
	iss.acme, err = buildACMEIssuer(ctx, iss.Resolver, res, app.entryPoints, iss.logger)
	if err != nil {
		return fmt.Errorf("traefik issuer: resolver %q: %w", iss.Resolver, err)
	}
	if err := iss.acme.Provision(ctx); err != nil {
		return fmt.Errorf("traefik issuer: resolver %q: %w", iss.Resolver, err)
	}
	iss.keys = newKeyGenerator(res.KeyType)
	iss.ratio = config.RenewalRatio(res.CertificatesDuration)
	return nil
}

// SetConfig implements caddytls.ConfigSetter. It puts the resolver's
// acme.json, read through, in front of cfg's storage (readthrough.go); and
// besides handing cfg to the ACME issuer, it applies the resolver's keyType (key generator) and
// certificatesDuration (renewal window ratio) to cfg, and tunes the ACME
// HTTP client (timeouts, trusted roots, server name). With a dnsChallenge,
// the DNS-01 solver hands the ACME challenge to the DNS provider
// (challengeInfoSolver).
func (iss *Issuer) SetConfig(cfg *certmagic.Config) {
	cfg.Storage = iss.stores.readThroughStorage(iss.Resolver, cfg.Storage)
	cfg.KeySource = iss.keys
	cfg.RenewalWindowRatio = iss.ratio
	iss.acme.SetConfig(cfg)
	if err := tuneACMEClient(iss.acme, iss.res); err != nil {
		iss.logger.Warn("acme http client options not applied", zap.Error(err))
	}
	if iss.res.DNSChallenge != nil {
		if err := attachChallengeInfo(iss.acme); err != nil {
			iss.logger.Warn("dns providers will not see the acme challenge; EXEC_MODE=RAW and HTTPREQ_MODE=RAW fail", zap.Error(err))
		}
	}
	if iss.stores.has(iss.Resolver) {
		if err := useRSAAccountKeys(iss.acme); err != nil {
			iss.logger.Warn("new acme accounts will not use rsa-4096 keys; traefik cannot read other account keys from acme.json", zap.Error(err))
		}
	}
	iss.applyOrderRateLimit()
}

// applyOrderRateLimit gives the resolver's account the order_rate_limit
// of its resolver, or certmagic's default again if an earlier config had
// changed it.
func (iss *Issuer) applyOrderRateLimit() {
	cm, err := certmagicIssuerOf(iss.acme)
	if err != nil {
		if iss.res.OrderRateLimit != nil {
			iss.logger.Warn("order_rate_limit not applied", zap.Error(err))
		}
		return
	}
	ca := cm.CA
	if ca == "" {
		ca = certmagic.DefaultACME.CA
	}
	lim := iss.res.OrderRateLimit
	if !applyOrderRateLimit(ca, cm.Email, lim) || lim == nil {
		return
	}
	if cm.Email == "" {
		iss.logger.Warn("order_rate_limit applies to the account without an email; set email so that it applies to the account certmagic uses")
	}
	iss.logger.Info("order rate limit", zap.String("ca", ca), zap.Int("orders", lim.Events), zap.Duration("window", time.Duration(lim.Window)))
}

// PreCheck implements certmagic.PreChecker.
func (iss *Issuer) PreCheck(ctx context.Context, names []string, interactive bool) error {
	return iss.acme.PreCheck(ctx, names, interactive)
}

// Issue obtains a certificate for csr from the resolver's CA. The CSR is
// rebuilt as Traefik (lego) builds it: the first name as Common Name unless
// disableCommonName is set, plus emailAddresses. Errors name the resolver.
func (iss *Issuer) Issue(ctx context.Context, csr *x509.CertificateRequest) (*certmagic.IssuedCertificate, error) {
	csr = iss.keys.rebuildCSR(csr, !iss.res.DisableCommonName, iss.res.EmailAddresses, iss.logger)
	cert, err := iss.acme.Issue(ctx, csr)
	if err != nil {
		err = fmt.Errorf("resolver %q (%s): %w", iss.Resolver, iss.res.CAServer, err)
		// certmagic logs only the ACME problem of an issuer's error; this
		// line says which resolver failed.
		iss.logger.Error("obtaining certificate", zap.Strings("identifiers", csrNames(csr)), zap.String("ca", iss.res.CAServer), zap.Error(err))
		return nil, err
	}
	iss.stores.noteIssued(ctx, iss.Resolver, csrNames(csr))
	return cert, nil
}

func csrNames(csr *x509.CertificateRequest) []string {
	names := append([]string(nil), csr.DNSNames...)
	for _, ip := range csr.IPAddresses {
		names = append(names, ip.String())
	}
	return names
}

// IssuerKey implements certmagic.Issuer: the key of the resolver's CA, the
// same as Caddy's ACME issuer would use for that CA.
func (iss *Issuer) IssuerKey() string {
	return iss.acme.IssuerKey()
}

// Revoke implements certmagic.Revoker.
func (iss *Issuer) Revoke(ctx context.Context, cert certmagic.CertificateResource, reason int) error {
	return iss.acme.Revoke(ctx, cert, reason)
}

// GetRenewalInfo implements certmagic.RenewalInfoGetter (ACME ARI).
func (iss *Issuer) GetRenewalInfo(ctx context.Context, cert certmagic.Certificate) (acme.RenewalInfo, error) {
	return iss.acme.GetRenewalInfo(ctx, cert)
}

// GetACMEIssuer returns the underlying ACME issuer, so Caddy's HTTP server
// answers this issuer's HTTP-01 challenges and fills in its ports. It is nil
// until the issuer is provisioned.
func (iss *Issuer) GetACMEIssuer() *caddytls.ACMEIssuer { return iss.acme }

// UnmarshalCaddyfile sets up the issuer from Caddyfile tokens:
//
//	issuer traefik <resolver>
//
// and, as a global option, cert_issuer traefik <resolver>.
func (iss *Issuer) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume issuer name
	if !d.NextArg() {
		return d.Errf("traefik issuer: missing resolver name (issuer traefik <resolver>)")
	}
	iss.Resolver = d.Val()
	if d.NextArg() {
		return d.ArgErr()
	}
	if d.NextBlock(0) {
		return d.Errf("traefik issuer: unexpected block; configure resolver %q in the traefik_acme global option", iss.Resolver)
	}
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Issuer)(nil)
	_ caddyfile.Unmarshaler       = (*Issuer)(nil)
	_ certmagic.Issuer            = (*Issuer)(nil)
	_ certmagic.PreChecker        = (*Issuer)(nil)
	_ certmagic.Revoker           = (*Issuer)(nil)
	_ certmagic.RenewalInfoGetter = (*Issuer)(nil)
	_ caddytls.ConfigSetter       = (*Issuer)(nil)
)
