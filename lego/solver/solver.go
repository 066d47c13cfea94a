package solver

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
// Providers that are Sequential (exec, httpreq and others whose backends
// keep one TXT value per name) present one challenge per TXT name at a
// time: dnsbridge's TXT-name lock (the one dnsbridge's native exec and
// httpreq use too) is held from Present to CleanUp, and the next Present
// waits the provider's sequence interval after it is released. A wildcard and its
// apex share one TXT name, so Caddy, which orders them as two certificates,
// solves them one after the other, as lego does.
//
// A Solver is safe for concurrent use. It implements dnsbridge.Solver; see
// ACMESolver for the acmez.Solver form. Package lego builds it from a code
// and lego's environment variables (lego.NewSolver).
type Solver struct {
	code string
	prov challenge.Provider
	log  *zap.Logger
	red  func(string) string
	prop dnsbridge.Propagation
	dns  *dnsClient

	timeout, interval time.Duration
	sequence          time.Duration
	sequential        bool
	locks             *dnsbridge.TXTNameLocks
}

// Config configures New.
type Config struct {
	// Logger receives the solver's messages. Nil means none.
	Logger *zap.Logger
	// Redact removes secret values from a message (errors of lego's
	// provider are passed through it). Nil means no redaction.
	Redact func(string) string
	// Resolvers are Traefik's dnsChallenge.resolvers ("host:port"): the
	// propagation check asks them, and they become lego's process-wide DNS
	// client, through which lego's providers find their zone (as Traefik
	// does). Empty means the system resolvers.
	Resolvers []string
	// Propagation is Traefik's dnsChallenge.propagation.
	Propagation dnsbridge.Propagation
}

// New returns the solver for lego's provider prov, built for code.
// Timeout, interval and sequencing come from the provider
// (challenge.ProviderTimeout, Sequential()).
func New(code string, prov challenge.Provider, cfg Config) (*Solver, error) {
	logger := cfg.Logger
	if logger == nil {
		logger = zap.NewNop()
	}
	red := cfg.Redact
	if red == nil {
		red = func(s string) string { return s }
	}
	dc, err := newDNSClient(cfg.Resolvers)
	if err != nil {
		return nil, fmt.Errorf("%s: resolvers: %w", code, err)
	}
	useResolversForLego(cfg.Resolvers, logger)

	s := &Solver{
		code:     code,
		prov:     prov,
		log:      logger.Named("lego").With(zap.String("provider", code)),
		red:      red,
		prop:     cfg.Propagation,
		dns:      dc,
		timeout:  dns01.DefaultPropagationTimeout,
		interval: dns01.DefaultPollingInterval,
		locks:    dnsbridge.DefaultTXTNameLocks,
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
		locked, err = s.locks.Lock(ctx, recordName(ci), ci.Token, s.sequence, s.log)
		if err != nil {
			return fmt.Errorf("%s: waiting for the other challenge on %s: %w", s.code, recordName(ci), err)
		}
	}
	if err := s.prov.Present(ctx, domainOf(ci), ci.Token, ci.KeyAuth); err != nil {
		if locked {
			s.locks.Unlock(recordName(ci), ci.Token, false)
		}
		return s.wrap("presenting the challenge record for "+ci.Domain, err)
	}
	return nil
}

// CleanUp implements dnsbridge.Solver.
func (s *Solver) CleanUp(ctx context.Context, ci dnsbridge.ChallengeInfo) error {
	err := s.prov.CleanUp(ctx, domainOf(ci), ci.Token, ci.KeyAuth)
	if s.sequential {
		s.locks.Unlock(recordName(ci), ci.Token, true)
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

// wrap prefixes err with the code and what failed, without any secret.
func (s *Solver) wrap(what string, err error) error {
	msg := s.red(err.Error())
	if strings.HasPrefix(msg, s.code+":") {
		return &redactedError{msg: msg + " (" + what + ")", err: err} // keep lego's code-first message
	}
	return &redactedError{msg: s.code + ": " + what + ": " + msg, err: err}
}

// redactedError keeps the chain of the original error, but its text is
// redacted.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

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
