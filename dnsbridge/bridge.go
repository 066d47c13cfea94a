package dnsbridge

// The registration hook for an external provider bridge: a separate Go
// module (github.com/ac075510/caddy-traefik-acme/lego) that serves lego's own
// DNS providers registers itself here from an init function when it is
// linked into the binary. This package never imports it (nor lego), so a
// Caddy built without the bridge carries none of lego's ~200 provider SDKs.

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// BridgeModule is the Go module path of the lego bridge, as given to
// xcaddy's --with.
const BridgeModule = "github.com/ac075510/caddy-traefik-acme/lego"

// BridgeBuildHint is the exact command that builds a Caddy with the lego
// bridge; errors for codes only the bridge serves end with it.
const BridgeBuildHint = "xcaddy build --with github.com/ac075510/caddy-traefik-acme --with " + BridgeModule

// Solver is a DNS-01 solver built by a bridge. Its three calls mirror
// lego's challenge.Provider and lego's dns01 pre-check: Present creates the
// record (the bridge computes its name and value from ci, following
// _acme-challenge CNAMEs like lego), Wait returns once the record is
// visible (or fails after the provider's propagation timeout), CleanUp
// removes it. The root package adapts it to acmez.Solver and acmez.Waiter.
//
// Implementations MUST be safe for concurrent use, and CleanUp MUST be
// called after every Present that returned nil (providers that present one
// challenge at a time hold a lock per TXT name from Present to CleanUp).
type Solver interface {
	Present(ctx context.Context, ci ChallengeInfo) error
	Wait(ctx context.Context, ci ChallengeInfo) error
	CleanUp(ctx context.Context, ci ChallengeInfo) error
}

// Propagation is Traefik's dnsChallenge.propagation block (with the
// deprecated delayBeforeCheck and disablePropagationCheck folded in).
type Propagation struct {
	// DelayBeforeChecks is waited after Present before the first check.
	DelayBeforeChecks time.Duration
	// DisableChecks skips every check (after the delay).
	DisableChecks bool
	// DisableANSChecks skips the check against the zone's authoritative
	// name servers.
	DisableANSChecks bool
	// RequireAllRNS requires the record on every recursive name server
	// (the resolvers). Off by default, as in Traefik since lego v5.
	RequireAllRNS bool
}

// SolverOptions configures a bridge solver.
type SolverOptions struct {
	// Options supplies the environment (Lookup, Overrides) and the logger.
	Options
	// Resolvers are Traefik's dnsChallenge.resolvers ("host:port"), used
	// for the CNAME, zone and propagation lookups. Empty means the system
	// resolvers.
	Resolvers []string
	// Propagation tunes the propagation wait.
	Propagation Propagation
}

// BridgeSpec documents one code a bridge serves, from the bridge's own
// metadata (lego's provider .toml files).
type BridgeSpec struct {
	// Code is the lego code (Traefik's dnsChallenge.provider).
	Code string
	// Aliases are other codes lego accepts for the same provider.
	Aliases []string
	// Name is the provider's display name.
	Name string
	// URL is the provider's home page.
	URL string
	// Credentials are the credential variables lego documents (not all
	// are required: many providers accept one of several forms).
	Credentials []string
	// Additional are the optional variables lego documents.
	Additional []string
}

// Bridge is an external provider backend. A linked bridge registers
// exactly one with RegisterBridge.
type Bridge struct {
	// Module is the Go module path of the bridge (BridgeModule).
	Module string
	// Version describes what the bridge serves, e.g. "lego v5.6.0".
	Version string
	// Specs lists every code (primary codes; aliases inside) it serves.
	Specs []BridgeSpec
	// New builds the solver for a code or alias. Errors are prefixed with
	// the code and never contain a secret value.
	New func(code string, opts SolverOptions) (Solver, error)
}

var (
	bridgeMu sync.RWMutex
	bridge   *Bridge
	// bridgeCodes maps every code and alias of the bridge to its spec.
	bridgeCodes map[string]BridgeSpec
)

// RegisterBridge links a bridge. It is called from the bridge module's init
// function; it panics when called twice or with an incomplete Bridge, which
// can only be a programming error.
func RegisterBridge(b Bridge) {
	if b.Module == "" || b.New == nil || len(b.Specs) == 0 {
		panic("dnsbridge: RegisterBridge: Module, New and Specs are required")
	}
	bridgeMu.Lock()
	defer bridgeMu.Unlock()
	if bridge != nil {
		panic("dnsbridge: RegisterBridge called twice (" + bridge.Module + ", " + b.Module + ")")
	}
	codes := map[string]BridgeSpec{}
	for _, s := range b.Specs {
		for _, name := range append([]string{s.Code}, s.Aliases...) {
			codes[strings.ToLower(name)] = s
		}
	}
	b.Specs = slices.Clone(b.Specs)
	bridge, bridgeCodes = &b, codes
}

// LinkedBridge returns the registered bridge, if any.
func LinkedBridge() (Bridge, bool) {
	bridgeMu.RLock()
	defer bridgeMu.RUnlock()
	if bridge == nil {
		return Bridge{}, false
	}
	return *bridge, true
}

// bridgeSpec returns the bridge's spec for a code, if a bridge is linked
// and serves it.
func bridgeSpec(code string) (BridgeSpec, bool) {
	bridgeMu.RLock()
	defer bridgeMu.RUnlock()
	s, ok := bridgeCodes[code]
	return s, ok
}

// unregisterBridge is for tests only.
func unregisterBridge() {
	bridgeMu.Lock()
	bridge, bridgeCodes = nil, nil
	bridgeMu.Unlock()
}

// legoCodeInfo is what this package knows about a lego code without the
// bridge linked (lego_codes_gen.go, generated by the bridge's generator).
type legoCodeInfo struct {
	// name is lego's display name.
	name string
	// leftOut is non-empty when the bridge cannot serve the code in this
	// build, and says why (for example the provider's SDK module is not
	// available).
	leftOut string
}

// LegoCode describes a lego provider code as this build knows it.
type LegoCode struct {
	// Code is the lego code or alias.
	Code string
	// Name is lego's display name.
	Name string
	// LeftOut is non-empty when lego has the provider but the bridge
	// cannot serve it in this build; it says why.
	LeftOut string
}

// LegoCodes returns every code (and alias) of lego v5's registry known to
// this build, sorted, whether or not the bridge is linked.
func LegoCodes() []LegoCode {
	out := make([]LegoCode, 0, len(legoCodes))
	for c, info := range legoCodes {
		out = append(out, LegoCode{Code: c, Name: info.name, LeftOut: info.leftOut})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out
}

// whyNotServed explains a code that no registered backend serves: a lego
// code without the bridge linked, a lego code the bridge leaves out, a code
// removed from lego, or nothing (""). The text starts with the code.
func whyNotServed(code string) string {
	if info, ok := legoCodes[code]; ok {
		if info.leftOut != "" {
			return fmt.Sprintf("%s: lego's %s provider is not in this build: %s", code, info.name, info.leftOut)
		}
		if _, linked := LinkedBridge(); !linked {
			return fmt.Sprintf("%s: the %s provider is served by lego's own provider code through the lego bridge, "+
				"which this Caddy does not include; build Caddy with the bridge: %s", code, info.name, BridgeBuildHint)
		}
		return ""
	}
	if r, ok := removedLegoCodes[code]; ok {
		return fmt.Sprintf("%s: removed from lego: %s", code, r)
	}
	return ""
}

// removedLegoCodes are codes that lego v4 (and so Traefik before its lego
// v5 builds) accepted and lego v5 removed ("Remove deprecated DNS
// providers" in lego's CHANGELOG for v5.0.0).
var removedLegoCodes = map[string]string{
	"azure":         "lego v5 removed the deprecated azure provider; use azuredns (AZURE_* variables)",
	"brandit":       "lego v5 removed the deprecated brandit provider (the service was discontinued)",
	"cloudxns":      "lego v5 removed the cloudxns provider (the service shut down)",
	"dnspod":        "lego v5 removed the deprecated dnspod provider; use tencentcloud (TENCENTCLOUD_* variables)",
	"googledomains": "lego v5 removed the googledomains provider (Google Domains shut down)",
	"iij":           "lego v5 removed the deprecated iij provider; use iijdpf (IIJ_DPF_* variables)",
	"iwantmyname":   "lego v5 removed the deprecated iwantmyname provider",
}

// RemovedLegoCodes returns the codes lego v4 had and lego v5 removed, with
// what to use instead.
func RemovedLegoCodes() map[string]string {
	m := make(map[string]string, len(removedLegoCodes))
	for k, v := range removedLegoCodes {
		m[k] = v
	}
	return m
}
