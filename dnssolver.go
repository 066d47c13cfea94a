package traefikacme

import (
	"context"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
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

// Interface guards
var (
	_ acmez.Solver = bridgeSolver{}
	_ acmez.Waiter = bridgeSolver{}
)
