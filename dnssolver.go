package traefikacme

import (
	"context"
	"errors"

	"github.com/caddyserver/caddy/v2/modules/caddytls"
	"github.com/mholt/acmez/v3"
	"github.com/mholt/acmez/v3/acme"

	"github.com/ac075510/caddy-traefik-acme/dnsbridge"
)

// challengeInfoSolver wraps the DNS-01 solver of a resolver's ACME issuer
// so that the DNS provider sees the ACME challenge itself, as lego's
// providers do (Present(domain, token, keyAuth)): Present, Wait and CleanUp
// run with dnsbridge.WithChallengeInfo. A libdns provider only receives the
// TXT record; dnsbridge's native exec and httpreq need the domain, token
// and key authorization for lego's RAW modes (EXEC_MODE=RAW,
// HTTPREQ_MODE=RAW), and its one-challenge-per-TXT-name lock recognises
// the two challenges of one order by the context they carry.
//
// This is where RAW is implemented: in the traefik issuer's DNS-01 wiring,
// so it works without the lego bridge. A dns.providers.traefik_lego module
// used by another issuer gets no challenge info, and RAW then fails with an
// error naming EXEC_MODE or HTTPREQ_MODE.
type challengeInfoSolver struct {
	inner acmez.Solver
}

func withChallenge(ctx context.Context, chal acme.Challenge) context.Context {
	return dnsbridge.WithChallengeInfo(ctx, dnsbridge.ChallengeInfo{
		// The authorization's identifier, as lego passes it: the base
		// domain, also for a wildcard.
		Domain:  chal.Identifier.Value,
		Token:   chal.Token,
		KeyAuth: chal.KeyAuthorization,
	})
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
// iss built in SetConfig with challengeInfoSolver. It does nothing when
// the issuer has no DNS-01 solver, and never wraps twice.
func attachChallengeInfo(iss *caddytls.ACMEIssuer) error {
	cm, err := certmagicIssuerOf(iss)
	if err != nil {
		return err
	}
	switch s := cm.DNS01Solver.(type) {
	case nil:
		return errors.New("the ACME issuer has no DNS-01 solver")
	case challengeInfoSolver:
		return nil
	default:
		cm.DNS01Solver = challengeInfoSolver{inner: s}
	}
	return nil
}

// Interface guards
var (
	_ acmez.Solver = challengeInfoSolver{}
	_ acmez.Waiter = challengeInfoSolver{}
)
