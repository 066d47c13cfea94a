package traefikacme

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddytls"
	"github.com/mholt/acmez/v3"
	"github.com/mholt/acmez/v3/acme"

	"github.com/ac075510/caddy-traefik-acme/compat/config"
	"github.com/ac075510/caddy-traefik-acme/dnsbridge"
)

// selectDNSProvider applies dnsbridge's selection rule to a resolver's
// dnsChallenge: a libdns (or native) provider when the credentials given
// are a form it supports, otherwise lego's own provider when the lego bridge
// is linked (see docs/dns-providers.md). Placeholders in d.Env are expanded
// first.
func selectDNSProvider(ctx caddy.Context, d *config.DNSChallenge) (dnsbridge.Selection, error) {
	overrides, err := expandEnv(d.Env)
	if err != nil {
		return dnsbridge.Selection{}, err
	}
	opts := dnsbridge.SolverOptions{
		Options:   dnsbridge.Options{Lookup: lookupEnv, Overrides: overrides, Logger: ctx.Logger()},
		Resolvers: d.Resolvers,
	}
	if p := d.Propagation; p != nil {
		opts.Propagation = dnsbridge.Propagation{
			DelayBeforeChecks: time.Duration(p.DelayBeforeChecks),
			DisableChecks:     p.DisableChecks,
			DisableANSChecks:  p.DisableANSChecks,
			RequireAllRNS:     p.RequireAllRNS,
		}
	}
	return dnsbridge.Select(d.Provider, opts)
}

// expandEnv expands Caddy placeholders in a resolver's env values.
func expandEnv(env map[string]string) (map[string]string, error) {
	repl := caddy.NewReplacer()
	out := make(map[string]string, len(env))
	for k, v := range env {
		val, err := repl.ReplaceOrErr(v, true, true)
		if err != nil {
			// The value may be a secret: name the variable only.
			return nil, fmt.Errorf("env %s: expanding placeholders: value (redacted) has an unknown or empty placeholder", k)
		}
		out[k] = val
	}
	return out, nil
}

// bridgeSolver adapts a dnsbridge.Solver (lego's provider through the lego
// bridge) to acmez.Solver and acmez.Waiter, the form certmagic's ACME
// issuer takes for DNS-01.
type bridgeSolver struct {
	s dnsbridge.Solver
}

// challengeInfo is the challenge as lego's providers take it: the
// authorization's identifier (the base domain, also for a wildcard), the
// token and the key authorization.
func challengeInfo(chal acme.Challenge) dnsbridge.ChallengeInfo {
	return dnsbridge.ChallengeInfo{Domain: chal.Identifier.Value, Token: chal.Token, KeyAuth: chal.KeyAuthorization}
}

// Present implements acmez.Solver.
func (b bridgeSolver) Present(ctx context.Context, chal acme.Challenge) error {
	return b.s.Present(ctx, challengeInfo(chal))
}

// Wait implements acmez.Waiter.
func (b bridgeSolver) Wait(ctx context.Context, chal acme.Challenge) error {
	return b.s.Wait(ctx, challengeInfo(chal))
}

// CleanUp implements acmez.Solver.
func (b bridgeSolver) CleanUp(ctx context.Context, chal acme.Challenge) error {
	return b.s.CleanUp(ctx, challengeInfo(chal))
}

// challengeInfoSolver wraps certmagic's DNS-01 solver (a libdns or native
// provider) so that the DNS provider sees the ACME challenge itself, as
// lego's providers do (Present(domain, token, keyAuth)): Present, Wait and
// CleanUp run with dnsbridge.WithChallengeInfo. A libdns provider only
// receives the TXT record; dnsbridge's native exec and httpreq need the
// domain, token and key authorization for lego's RAW modes
// (EXEC_MODE=RAW, HTTPREQ_MODE=RAW), and its one-challenge-per-TXT-name
// lock recognises the challenges of one order by the context they carry.
//
// This is where RAW is implemented for the native providers: in the
// traefik issuer's DNS-01 wiring, so it works without the lego bridge. A
// dns.providers.traefik_lego module used by another issuer gets no
// challenge info, and RAW then fails with an error naming EXEC_MODE or
// HTTPREQ_MODE.
type challengeInfoSolver struct {
	inner acmez.Solver
}

// withChallenge attaches the challenge to ctx for the DNS provider.
func withChallenge(ctx context.Context, chal acme.Challenge) context.Context {
	return dnsbridge.WithChallengeInfo(ctx, challengeInfo(chal))
}

// Present implements acmez.Solver.
func (s challengeInfoSolver) Present(ctx context.Context, chal acme.Challenge) error {
	return s.inner.Present(withChallenge(ctx, chal), chal)
}

// Wait implements acmez.Waiter when the wrapped solver does.
func (s challengeInfoSolver) Wait(ctx context.Context, chal acme.Challenge) error {
	if w, ok := s.inner.(acmez.Waiter); ok {
		return w.Wait(withChallenge(ctx, chal), chal)
	}
	return nil
}

// CleanUp implements acmez.Solver.
func (s challengeInfoSolver) CleanUp(ctx context.Context, chal acme.Challenge) error {
	return s.inner.CleanUp(withChallenge(ctx, chal), chal)
}

// attachChallengeInfo wraps the DNS-01 solver of the certmagic issuer that
// iss built in SetConfig with challengeInfoSolver. Bridge solvers get the
// challenge directly and are left alone; nothing is wrapped twice.
func attachChallengeInfo(iss *caddytls.ACMEIssuer) error {
	cm, err := certmagicIssuerOf(iss)
	if err != nil {
		return err
	}
	switch s := cm.DNS01Solver.(type) {
	case nil:
		return errors.New("the ACME issuer has no DNS-01 solver")
	case challengeInfoSolver, bridgeSolver:
		return nil
	default:
		cm.DNS01Solver = challengeInfoSolver{inner: s}
	}
	return nil
}

// Interface guards
var (
	_ acmez.Solver = bridgeSolver{}
	_ acmez.Waiter = bridgeSolver{}
	_ acmez.Solver = challengeInfoSolver{}
	_ acmez.Waiter = challengeInfoSolver{}
)
