package lego

import (
	"fmt"
	"os"
	"strings"

	"github.com/ac075510/caddy-traefik-acme/dnsbridge"
	"github.com/ac075510/caddy-traefik-acme/lego/solver"
)

// Solver is a DNS-01 solver driving one of lego's providers; see
// solver.Solver.
type Solver = solver.Solver

// ACMESolver is a Solver in the acmez.Solver (and acmez.Waiter) form that
// certmagic.ACMEIssuer.DNS01Solver takes.
type ACMESolver = solver.ACMESolver

// NewSolver builds the solver for a lego code or alias (Traefik's
// dnsChallenge.provider) from lego's environment variables, read through
// opts (Overrides first, then Lookup, which defaults to the process
// environment; <VAR>_FILE works as in lego). Errors start with the code and
// never contain a secret value. Nothing is sent over the network by the
// bridge (a few of lego's providers log in or look up the public IP in
// their constructor).
func NewSolver(code string, opts dnsbridge.SolverOptions) (*Solver, error) {
	name := strings.ToLower(strings.TrimSpace(code))
	p, ok := byCode[name]
	if !ok {
		if why, out := leftOut[name]; out {
			return nil, fmt.Errorf("%s: lego's provider is not in this build: %s", name, why)
		}
		return nil, fmt.Errorf("%s: lego %s has no DNS provider with this code", name, legoVersion)
	}
	if opts.Lookup == nil {
		opts.Lookup = os.LookupEnv
	}
	routeLegoLog(opts.Logger)
	red := redactor(secrets(p, opts.Options))

	prov, err := newProvider(p, opts.Options)
	if err != nil {
		err = red.Error(err)
		if !strings.HasPrefix(err.Error(), name+":") && !strings.HasPrefix(err.Error(), p.code+":") {
			err = fmt.Errorf("%s: %w", name, err)
		}
		return nil, err
	}
	return solver.New(name, prov, solver.Config{
		Logger:      opts.Logger,
		Redact:      red.String,
		Resolvers:   opts.Resolvers,
		Propagation: opts.Propagation,
	})
}

// NewACMESolver is NewSolver in the acmez.Solver form.
func NewACMESolver(code string, opts dnsbridge.SolverOptions) (*ACMESolver, error) {
	s, err := NewSolver(code, opts)
	if err != nil {
		return nil, err
	}
	return &ACMESolver{Solver: s}, nil
}
