package dnsbridge

import (
	"errors"
	"fmt"
	"strings"
)

// Backend names who serves a DNS provider code.
type Backend string

const (
	// BackendLibdns is a libdns provider module compiled into the core.
	BackendLibdns Backend = "libdns"
	// BackendNative is this package's own implementation (exec, httpreq,
	// vultr).
	BackendNative Backend = "native"
	// BackendLego is lego's own provider through the linked lego bridge.
	BackendLego Backend = "lego"
)

// BackendEnv is the variable that forces a backend for one resolver (in
// its env block) or for the process: "lego" always uses lego's provider
// (the bridge must be linked), "libdns" never does, "auto" or unset applies
// the selection rule.
const BackendEnv = "TRAEFIK_ACME_DNS_BACKEND"

// Selection is the result of Select: exactly one of Provider (libdns and
// native backends, driven by certmagic's DNS-01 solver with Timing) or
// Solver (lego backend) is set.
type Selection struct {
	// Code is the normalised code.
	Code string
	// Backend serves the code.
	Backend Backend
	// Provider and Timing are set for the libdns and native backends.
	Provider Provider
	Timing   Timing
	// Solver is set for the lego backend.
	Solver Solver
	// Reason says in one sentence why this backend was chosen.
	Reason string
}

// Select applies the selection rule to a code and builds what serves it:
//
//	code has a libdns/native provider, and the credentials given are a form it supports   → libdns/native
//	code has a libdns/native provider, the credentials are a form it does not support,
//	    or are missing, and the lego bridge is linked and serves the code                 → lego
//	code has no libdns/native provider, the lego bridge is linked and serves the code     → lego
//	code is lego's but the bridge is not linked                                           → error naming the code and the xcaddy --with to add
//	code is lego's but left out of this build / removed from lego                         → error saying why
//	anything else                                                                         → error wrapping ErrUnsupportedProvider
//
// TRAEFIK_ACME_DNS_BACKEND (BackendEnv, read through opts like any
// provider variable) forces "lego" or "libdns". When both backends fail,
// the error is lego's (its message lists every credential form lego
// accepts).
func Select(code string, opts SolverOptions) (Selection, error) {
	name := strings.ToLower(strings.TrimSpace(code))
	force, err := backendChoice(opts.Options)
	if err != nil {
		return Selection{}, err
	}
	_, hasNative := registry[name]
	_, hasLego := bridgeSpec(name)

	lego := func(reason string) (Selection, error) {
		b, _ := LinkedBridge()
		s, err := b.New(name, opts)
		if err != nil {
			return Selection{}, err
		}
		return Selection{Code: name, Backend: BackendLego, Solver: s, Reason: reason}, nil
	}

	if force == BackendLego {
		if !hasLego {
			if why := whyNotServed(name); why != "" {
				return Selection{}, fmt.Errorf("%s=lego: %s", BackendEnv, why)
			}
			return Selection{}, fmt.Errorf("%s=lego: %s: lego's provider is not available for this code", BackendEnv, name)
		}
		return lego(BackendEnv + "=lego")
	}

	if hasNative {
		prov, timing, err := New(name, opts.Options)
		if err == nil {
			backend := BackendLibdns
			if registry[name].spec.Module == "" {
				backend = BackendNative
			}
			return Selection{Code: name, Backend: backend, Provider: prov, Timing: timing,
				Reason: "the credentials given are a form the " + string(backend) + " provider supports"}, nil
		}
		if hasLego && force != BackendLibdns {
			sel, lerr := lego("the " + name + " libdns provider does not accept the credentials given (" + firstLine(err) + ")")
			if lerr != nil {
				return Selection{}, lerr
			}
			return sel, nil
		}
		if _, linked := LinkedBridge(); !linked && force != BackendLibdns {
			if _, ok := legoCodes[name]; ok && legoCodes[name].leftOut == "" {
				return Selection{}, fmt.Errorf("%w (lego's own %s provider accepts more credential forms; build Caddy with it: %s)",
					err, name, BridgeBuildHint)
			}
		}
		return Selection{}, err
	}

	if hasLego && force != BackendLibdns {
		return lego("no libdns provider serves " + name)
	}
	if why := whyNotServed(name); why != "" {
		return Selection{}, errors.New(why)
	}
	_, _, err = New(name, opts.Options) // the unsupported-code error with the list of codes
	return Selection{}, err
}

func backendChoice(opts Options) (Backend, error) {
	v := ""
	if o, ok := opts.Overrides[BackendEnv]; ok {
		v = o
	} else if opts.Lookup != nil {
		v, _ = opts.Lookup(BackendEnv)
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "auto":
		return "", nil
	case "lego":
		return BackendLego, nil
	case "libdns":
		return BackendLibdns, nil
	}
	return "", fmt.Errorf("%s: want auto, lego or libdns, got %q", BackendEnv, v)
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
