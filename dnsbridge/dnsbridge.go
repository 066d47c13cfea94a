// Package dnsbridge turns a lego DNS provider code plus lego's environment
// variables (the way Traefik configures DNS-01) into a libdns provider that
// certmagic can drive.
//
// Traefik never passes DNS credentials itself: it calls lego's
// NewDNSChallengeProviderByName(code) and every lego provider reads its own
// environment variables. A Traefik user who moves to Caddy therefore has
// their credentials in lego's names (CF_DNS_API_TOKEN, DO_AUTH_TOKEN,
// AWS_*, …), often as <VAR>_FILE Docker secrets. This package reads the same
// names with the same rules (see env.go) and builds the matching libdns
// provider, or a native implementation for lego's exec and httpreq, which
// have no libdns equivalent.
//
// Every provider lives in its own small file (provider_<code>.go) and
// registers itself into one table with register. The table is the single
// source of truth for New, Codes, Lookup and MarkdownTable, and a test walks
// it to enforce uniformity, standing in for lego's code generator.
//
// The package imports only the standard library, libdns, the libdns
// providers (and, for route53, the AWS SDK config loader that the libdns
// provider itself uses) and zap. It never imports Caddy or certmagic.
package dnsbridge

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/libdns/libdns"
	"go.uber.org/zap"
)

// Provider is what the bridge hands back: a libdns provider that can create
// and delete records. It has exactly the shape of certmagic.DNSProvider, so
// the result of New can be assigned to certmagic.DNS01Solver's DNSManager
// directly.
//
// Implementations MUST be safe for concurrent use (certmagic solves several
// challenges at once) and MUST accept record names relative to zone, as
// libdns specifies.
type Provider interface {
	libdns.RecordAppender
	libdns.RecordDeleter
}

// LookupFunc reads one environment variable. It reports whether the
// variable is set at all, like os.LookupEnv, which is what production code
// passes. Tests pass a map-backed function so they never touch the process
// environment.
type LookupFunc func(key string) (string, bool)

// Timing holds lego's per-provider DNS-01 tuning, read from
// <NAMESPACE>TTL, <NAMESPACE>PROPAGATION_TIMEOUT and
// <NAMESPACE>POLLING_INTERVAL. Like lego (env.ParseSecond), the variables are
// integer seconds only: "2m" is rejected with an error naming the variable.
//
// A zero field means "not set"; use WithDefaults to fill it from the
// provider's Spec.Defaults (lego's defaults for that provider).
type Timing struct {
	// TTL is the TTL to give the TXT record.
	TTL time.Duration
	// PropagationTimeout is how long to wait for the record to be visible.
	PropagationTimeout time.Duration
	// PollingInterval is the time between two propagation checks.
	PollingInterval time.Duration
}

// WithDefaults returns t with every zero field taken from d.
func (t Timing) WithDefaults(d Timing) Timing {
	if t.TTL == 0 {
		t.TTL = d.TTL
	}
	if t.PropagationTimeout == 0 {
		t.PropagationTimeout = d.PropagationTimeout
	}
	if t.PollingInterval == 0 {
		t.PollingInterval = d.PollingInterval
	}
	return t
}

// Options configures New.
type Options struct {
	// Lookup reads the environment. Nil means "nothing is set" (only
	// Overrides are used); production code passes os.LookupEnv.
	Lookup LookupFunc

	// Overrides are inline environment values (for example from a Caddyfile
	// or a compose file's environment block). They win over Lookup: a name
	// set here, or its <NAME>_FILE set here, is used before anything Lookup
	// returns for any name of the same group. Secret values in here are
	// never echoed in errors or logs.
	Overrides map[string]string

	// HTTPClient is used by providers that accept a client (cloudflare,
	// httpreq). It is copied, never modified. Nil means a new client with
	// lego's HTTP timeout for that provider.
	HTTPClient *http.Client

	// Logger receives warnings such as "both CLOUDFLARE_X and CF_X are set
	// with different values" or "DO_API_URL cannot be honoured". Nil means
	// no logging.
	Logger *zap.Logger
}

// logger returns a usable logger (nil-safe).
func (o Options) logger() *zap.Logger {
	if o.Logger == nil {
		return zap.NewNop()
	}
	return o.Logger.Named("dnsbridge")
}

// Spec describes one supported lego provider code.
type Spec struct {
	// Code is lego's provider code, lower-case (the value of Traefik's
	// dnsChallenge.provider).
	Code string
	// Aliases are other lego codes for the same provider.
	Aliases []string
	// Namespace is the provider's primary environment prefix, lego's
	// envNamespace (Namespaces[0]).
	Namespace string
	// Namespaces are the environment prefixes of the provider in lookup
	// order (for example "CLOUDFLARE_", then the legacy "CF_"). Every
	// variable in Required and Optional starts with one of them.
	Namespaces []string
	// Required lists the required variables. Each inner slice is one
	// requirement: its names are alternatives read in order, the first
	// non-empty one wins.
	Required [][]string
	// Optional lists the other variables the bridge reads, in
	// documentation order.
	Optional []string
	// FileVars reports whether <VAR>_FILE is honoured for the variables
	// (see Notes for exceptions).
	FileVars bool
	// Defaults are lego's defaults for this provider's Timing.
	Defaults Timing
	// Sequential reports that the provider presents one challenge at a
	// time per TXT record name (lego's Sequential()), see Sequential.
	Sequential bool
	// Module is the libdns module implementing the provider, or "" for a
	// native implementation.
	Module string
	// Notes documents approximations and unsupported lego features.
	Notes string
}

// builder creates the provider from resolved environment values. It must
// report missing or invalid variables through e (which prefixes the code)
// and return e.err() when that is non-nil.
type builder func(e *envReader, opts Options) (Provider, error)

type entry struct {
	spec  Spec
	build builder
}

// registry maps every code and alias to its entry. It is filled by the
// init functions of the provider files and read-only afterwards.
var registry = map[string]*entry{}

// register adds a provider to the table. It panics on a duplicate code,
// which can only be a programming error.
func register(spec Spec, build builder) {
	if len(spec.Namespaces) > 0 {
		spec.Namespace = spec.Namespaces[0]
	}
	e := &entry{spec: spec, build: build}
	for _, name := range append([]string{spec.Code}, spec.Aliases...) {
		if _, dup := registry[name]; dup {
			panic("dnsbridge: duplicate provider code " + name)
		}
		registry[name] = e
	}
}

// ErrUnsupportedProvider is wrapped by New when the code is not in the
// table.
var ErrUnsupportedProvider = errors.New("unsupported DNS provider")

// ErrNotInThisBuild is wrapped by New when the code is lego's but no
// libdns or native provider serves it: the error says what to do (link the
// lego bridge, or why lego's provider is left out or removed).
var ErrNotInThisBuild = errors.New("not served by the libdns providers of this build")

// unsupportedReasons explains lego codes that are deliberately not
// supported.
var unsupportedReasons = map[string]string{
	"manual": "it prints the record and waits for Enter on stdin, which cannot work in a server; " +
		"use exec or httpreq to hand the record to your own tooling",
	"gandi": "it is lego's deprecated Gandi v4 XML-RPC API; use gandiv5 with GANDIV5_PERSONAL_ACCESS_TOKEN",
}

// New builds the provider for a lego code (or alias) from the environment
// described by opts. It returns the provider and the Timing found in the
// environment (zero fields are unset; see Spec.Defaults).
//
// Errors are prefixed with the code, name every missing required variable
// at once (with alternatives) and never contain a secret value. An unknown
// code yields an error wrapping ErrUnsupportedProvider that lists every
// supported code.
func New(code string, opts Options) (Provider, Timing, error) {
	name := strings.ToLower(strings.TrimSpace(code))
	ent, ok := registry[name]
	if !ok {
		if why := whyNotServed(name); why != "" {
			return nil, Timing{}, fmt.Errorf("dnsbridge: %w: %s", ErrNotInThisBuild, why)
		}
		if _, lego := bridgeSpec(name); lego {
			return nil, Timing{}, fmt.Errorf("dnsbridge: %w: %s: served by lego's provider through the lego bridge, which works through a traefik_acme resolver (issuer traefik), not as a libdns provider", ErrNotInThisBuild, name)
		}
		reason := ""
		if r, known := unsupportedReasons[name]; known {
			reason = " (" + r + ")"
		}
		return nil, Timing{}, fmt.Errorf("dnsbridge: %w %q%s; supported codes: %s",
			ErrUnsupportedProvider, code, reason, strings.Join(Codes(), ", "))
	}

	e := newEnvReader(name, ent.spec, opts)
	e.tm = e.timing()
	prov, err := ent.build(e, opts)
	if err == nil {
		err = e.err()
	}
	if err != nil {
		return nil, Timing{}, err
	}
	if prov == nil {
		return nil, Timing{}, fmt.Errorf("%s: building provider: no provider returned", name)
	}
	return prov, e.tm, nil
}

// Codes returns every supported code and alias, sorted.
func Codes() []string {
	codes := make([]string, 0, len(registry))
	for name := range registry {
		codes = append(codes, name)
	}
	sort.Strings(codes)
	return codes
}

// Lookup returns the Spec of a code or alias.
func Lookup(code string) (Spec, bool) {
	ent, ok := registry[strings.ToLower(strings.TrimSpace(code))]
	if !ok {
		return Spec{}, false
	}
	return cloneSpec(ent.spec), true
}

// specs returns every Spec once, sorted by code.
func specs() []Spec {
	seen := map[string]bool{}
	var out []Spec
	for _, ent := range registry {
		if seen[ent.spec.Code] {
			continue
		}
		seen[ent.spec.Code] = true
		out = append(out, cloneSpec(ent.spec))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out
}

func cloneSpec(s Spec) Spec {
	s.Aliases = slices.Clone(s.Aliases)
	s.Namespaces = slices.Clone(s.Namespaces)
	s.Optional = slices.Clone(s.Optional)
	req := make([][]string, len(s.Required))
	for i, g := range s.Required {
		req[i] = slices.Clone(g)
	}
	s.Required = req
	return s
}

// seconds is a readability helper for Spec.Defaults.
func seconds(n int) time.Duration { return time.Duration(n) * time.Second }

// timingVars returns the standard optional variables of a provider in the
// given namespaces, for each of the suffixes (TTL, PROPAGATION_TIMEOUT,
// POLLING_INTERVAL, HTTP_TIMEOUT, …).
func timingVars(namespaces []string, suffixes ...string) []string {
	var out []string
	for _, s := range suffixes {
		for _, ns := range namespaces {
			out = append(out, ns+s)
		}
	}
	return out
}

// Interface guards
var (
	_ Provider = (*execProvider)(nil)
	_ Provider = (*httpreqProvider)(nil)
)
