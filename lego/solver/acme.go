package solver

import (
	"context"

	"github.com/mholt/acmez/v3"
	"github.com/mholt/acmez/v3/acme"

	"github.com/ac075510/caddy-traefik-acme/dnsbridge"
)

// ACMESolver adapts a dnsbridge.Solver (such as *Solver) to acmez.Solver
// and acmez.Waiter, the form certmagic.ACMEIssuer.DNS01Solver takes.
type ACMESolver struct {
	dnsbridge.Solver
}

func info(chal acme.Challenge) dnsbridge.ChallengeInfo {
	return dnsbridge.ChallengeInfo{Domain: chal.Identifier.Value, Token: chal.Token, KeyAuth: chal.KeyAuthorization}
}

// Present implements acmez.Solver.
func (a *ACMESolver) Present(ctx context.Context, chal acme.Challenge) error {
	return a.Solver.Present(ctx, info(chal))
}

// Wait implements acmez.Waiter.
func (a *ACMESolver) Wait(ctx context.Context, chal acme.Challenge) error {
	return a.Solver.Wait(ctx, info(chal))
}

// CleanUp implements acmez.Solver.
func (a *ACMESolver) CleanUp(ctx context.Context, chal acme.Challenge) error {
	return a.Solver.CleanUp(ctx, info(chal))
}

// Interface guards
var (
	_ acmez.Solver = (*ACMESolver)(nil)
	_ acmez.Waiter = (*ACMESolver)(nil)
)
