package lego

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-acme/lego/v5/challenge"
	"github.com/go-acme/lego/v5/challenge/dns01"
	"go.uber.org/zap"

	"github.com/ac075510/caddy-traefik-acme/dnsbridge"
)

// Solver solves DNS-01 challenges with one of lego's providers. Present and
// CleanUp hand lego's provider the domain, token and key authorization
// (lego computes the record name, following _acme-challenge CNAMEs, and the
// value itself); Wait is lego's dns01 pre-check: it polls until the record
// is visible, with the provider's own timeout and interval
// (challenge.ProviderTimeout, from <NS>_PROPAGATION_TIMEOUT and
// <NS>_POLLING_INTERVAL), tuned by the resolver's resolvers and propagation
// options.
//
// Providers that are Sequential (exec and others whose backends
// keep one TXT value per name) present one challenge per TXT name at a
// time: dnsbridge's lock (LockTXTName, the one the native exec and httpreq
// use too) is held from Present to CleanUp, and the next Present waits the
// provider's sequence interval after it is released. A wildcard and its
// apex share one TXT name, so Caddy, which orders them as two certificates,
// solves them one after the other, as lego does.
//
// A Solver is safe for concurrent use. It implements dnsbridge.Solver; see
// ACMESolver for the acmez.Solver form.
type Solver struct {
	code string
	prov challenge.Provider
	log  *zap.Logger
	red  redactor
	prop dnsbridge.Propagation
	dns  *dnsClient

	timeout, interval time.Duration
	sequence          time.Duration
	sequential        bool
}

// NewSolver builds the solver for a lego code or alias (Traefik's
// dnsChallenge.provider) from lego's environment variables, read through
// opts (Overrides first, then Lookup; both support <VAR>_FILE like lego).
// Errors start with the code and never contain a secret value. Nothing is
// sent over the network.
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
	logger := opts.Logger
	if logger == nil {
		logger = zap.NewNop()
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

	dc, err := newDNSClient(opts.Resolvers)
	if err != nil {
		return nil, fmt.Errorf("%s: resolvers: %w", name, err)
	}
	useResolversForLego(opts.Resolvers, logger)

	s := &Solver{
		code:     name,
		prov:     prov,
		log:      logger.Named("lego").With(zap.String("provider", name)),
		red:      red,
		prop:     opts.Propagation,
		dns:      dc,
		timeout:  dns01.DefaultPropagationTimeout,
		interval: dns01.DefaultPollingInterval,
	}
	if pt, ok := prov.(challenge.ProviderTimeout); ok {
		s.timeout, s.interval = pt.Timeout()
	}
	if s.interval <= 0 {
		s.interval = dns01.DefaultPollingInterval
	}
	if sq, ok := prov.(interface{ Sequential() time.Duration }); ok {
		s.sequential, s.sequence = true, sq.Sequential()
	}
	return s, nil
}

// Code returns the lego code the solver was built for.
func (s *Solver) Code() string { return s.code }

// Timeout returns the provider's propagation timeout and polling interval.
func (s *Solver) Timeout() (timeout, interval time.Duration) { return s.timeout, s.interval }

// Sequential reports whether the provider presents one challenge per TXT
// name at a time, and the interval lego waits between two of them.
func (s *Solver) Sequential() (bool, time.Duration) { return s.sequential, s.sequence }

// Provider returns lego's provider (for tests and diagnostics).
func (s *Solver) Provider() challenge.Provider { return s.prov }

// domain is the identifier as lego's Present takes it: without "*.".
func domainOf(ci dnsbridge.ChallengeInfo) string {
	return strings.TrimSuffix(strings.TrimPrefix(ci.Domain, "*."), ".")
}

// recordName is the TXT name before CNAMEs: _acme-challenge.<domain>.
func recordName(ci dnsbridge.ChallengeInfo) string {
	return "_acme-challenge." + strings.ToLower(domainOf(ci)) + "."
}

// Present implements dnsbridge.Solver.
func (s *Solver) Present(ctx context.Context, ci dnsbridge.ChallengeInfo) error {
	locked := false
	if s.sequential {
		var err error
		locked, err = dnsbridge.LockTXTName(ctx, recordName(ci), ci.Token, s.sequence, s.log)
		if err != nil {
			return fmt.Errorf("%s: waiting for the other challenge on %s: %w", s.code, recordName(ci), err)
		}
	}
	if err := s.prov.Present(ctx, domainOf(ci), ci.Token, ci.KeyAuth); err != nil {
		if locked {
			dnsbridge.UnlockTXTName(recordName(ci), ci.Token, false)
		}
		return s.wrap("presenting the challenge record for "+ci.Domain, err)
	}
	return nil
}

// CleanUp implements dnsbridge.Solver.
func (s *Solver) CleanUp(ctx context.Context, ci dnsbridge.ChallengeInfo) error {
	err := s.prov.CleanUp(ctx, domainOf(ci), ci.Token, ci.KeyAuth)
	if s.sequential {
		dnsbridge.UnlockTXTName(recordName(ci), ci.Token, true)
	}
	if err != nil {
		return s.wrap("cleaning up the challenge record for "+ci.Domain, err)
	}
	return nil
}

// Wait implements dnsbridge.Solver: lego's dns01 pre-check. It waits
// delayBeforeChecks, then (unless disableChecks) one polling interval, then
// polls until the TXT value is visible on the authoritative name servers
// of the zone (unless disableANSChecks) and, with requireAllRNS, on every
// resolver, or the provider's propagation timeout expires.
func (s *Solver) Wait(ctx context.Context, ci dnsbridge.ChallengeInfo) error {
	if d := s.prop.DelayBeforeChecks; d > 0 {
		if err := sleep(ctx, d); err != nil {
			return err
		}
	}
	if s.prop.DisableChecks {
		return nil
	}
	fqdn, value := recordName(ci), ci.TXTValue()
	if err := sleep(ctx, s.interval); err != nil {
		return err
	}
	deadline := time.Now().Add(s.timeout)
	for {
		ok, err := s.check(ctx, fqdn, value)
		if ok {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = errors.New("record not found")
			}
			return fmt.Errorf("%s: waiting for the TXT record of %s: propagation timeout of %s exceeded "+
				"(lego's <NAMESPACE>_PROPAGATION_TIMEOUT for this provider): %w", s.code, ci.Domain, s.timeout, err)
		}
		s.log.Debug("waiting for record propagation", zap.String("domain", ci.Domain), zap.Error(err))
		if err := sleep(ctx, s.interval); err != nil {
			return err
		}
	}
}

// check is lego's checkDNSPropagation with this solver's resolvers.
func (s *Solver) check(ctx context.Context, fqdn, value string) (bool, error) {
	if ok, _ := strconv.ParseBool(os.Getenv("LEGO_DISABLE_CNAME_SUPPORT")); !ok {
		fqdn = s.dns.followCNAME(ctx, fqdn)
	}
	if s.prop.RequireAllRNS {
		for _, ns := range s.dns.resolvers {
			if err := s.dns.hasTXT(ctx, ns, fqdn, value, true); err != nil {
				return false, fmt.Errorf("recursive nameservers: %w", err)
			}
		}
	}
	if s.prop.DisableANSChecks {
		return true, nil
	}
	nss, err := s.dns.authoritative(ctx, fqdn)
	if err != nil {
		return false, fmt.Errorf("authoritative nameservers: %w", err)
	}
	for _, ns := range nss {
		if err := s.dns.hasTXT(ctx, ns, fqdn, value, false); err != nil {
			return false, fmt.Errorf("authoritative nameservers: %w", err)
		}
	}
	return true, nil
}

func (s *Solver) wrap(what string, err error) error {
	err = s.red.Error(err)
	if strings.HasPrefix(err.Error(), s.code+":") {
		return fmt.Errorf("%s (%s)", err.Error(), what) // keep lego's code-first message
	}
	return fmt.Errorf("%s: %s: %w", s.code, what, err)
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// legoResolvers is the resolver list installed as lego's process-wide DNS
// client (lego's providers find their zone with dns01.DefaultClient()).
var (
	legoResolversMu sync.Mutex
	legoResolvers   []string
)

// useResolversForLego installs resolvers as lego's default DNS client, as
// Traefik does: lego's providers look their zone up through it. It is one
// list per process; a second, different list replaces the first with a
// warning.
func useResolversForLego(resolvers []string, log *zap.Logger) {
	if len(resolvers) == 0 {
		return
	}
	legoResolversMu.Lock()
	defer legoResolversMu.Unlock()
	if slices.Equal(resolvers, legoResolvers) {
		return
	}
	if legoResolvers != nil {
		log.Warn("lego's providers look zones up with one process-wide resolver list; the last resolvers configured win",
			zap.Strings("previous", legoResolvers), zap.Strings("resolvers", resolvers))
	}
	opts := dns01.NewOptions()
	opts.RecursiveNameservers = slices.Clone(resolvers)
	dns01.SetDefaultClient(dns01.NewClient(opts))
	legoResolvers = slices.Clone(resolvers)
}

// Interface guard
var _ dnsbridge.Solver = (*Solver)(nil)
