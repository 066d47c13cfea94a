package dnsbridge

// The listing behind `caddy traefik dns-providers`: every code a Traefik
// user may write in dnsChallenge.provider, who serves it in this build and
// the environment variables it reads, with which of them are set (never
// their values).

import (
	"slices"
	"sort"
	"strings"
)

// Served-by values of ProviderInfo.ServedBy.
const (
	ServedByLibdns  = "libdns"
	ServedByNative  = "native"
	ServedByLego    = "lego"
	ServedByMissing = "not in this build"
)

// ProviderInfo describes one provider code (or alias) as this build serves
// it. Field names are the stable JSON of `caddy traefik dns-providers
// --json`.
type ProviderInfo struct {
	// Code is the code as written in dnsChallenge.provider.
	Code string `json:"code"`
	// AliasOf is the primary code when Code is an alias, else "".
	AliasOf string `json:"alias_of,omitempty"`
	// Name is lego's display name of the provider, when known.
	Name string `json:"name,omitempty"`
	// ServedBy is libdns, native, lego or "not in this build".
	ServedBy string `json:"served_by"`
	// LegoFallback reports that lego's provider (the bridge is linked)
	// serves the code when the credentials given are a form the libdns or
	// native provider does not accept.
	LegoFallback bool `json:"lego_fallback"`
	// Module is the Go module of the libdns provider, or of the lego
	// bridge when ServedBy is lego.
	Module string `json:"module,omitempty"`
	// Reason says why the code is not in this build (ServedBy "not in this
	// build").
	Reason string `json:"reason,omitempty"`
	// Sequential reports that the provider presents one challenge at a
	// time per TXT name.
	Sequential bool `json:"sequential"`
	// Env lists the variables the serving backends read.
	Env []EnvVarInfo `json:"env"`
	// Notes are the libdns/native provider's notes (approximations,
	// unsupported lego features).
	Notes string `json:"notes,omitempty"`
}

// EnvVarInfo is one environment variable of a provider.
type EnvVarInfo struct {
	// Name is the variable's name.
	Name string `json:"name"`
	// Required reports a required variable of the libdns/native provider;
	// Alternatives are the other names that satisfy the same requirement.
	Required     bool     `json:"required"`
	Alternatives []string `json:"alternatives,omitempty"`
	// Set is "" (unset), "env" (set, non-empty) or "file" (<NAME>_FILE is
	// set). Values are never reported.
	Set string `json:"set"`
	// ReadBy lists the backends that read the variable: libdns, native,
	// lego.
	ReadBy []string `json:"read_by"`
}

// Providers lists every code and alias known to this build: the libdns and
// native providers, every code of lego's registry (served by the bridge
// when it is linked, else "not in this build") and the codes lego removed.
// lookup reports which variables are set (nil: none); it is never asked
// for a value that is then shown.
func Providers(lookup LookupFunc) []ProviderInfo {
	names := map[string]bool{}
	for c := range registry {
		names[c] = true
	}
	for _, lc := range LegoCodes() {
		names[lc.Code] = true
	}
	if b, ok := LinkedBridge(); ok {
		for _, s := range b.Specs {
			names[strings.ToLower(s.Code)] = true
			for _, a := range s.Aliases {
				names[strings.ToLower(a)] = true
			}
		}
	}
	for c := range removedLegoCodes {
		names[c] = true
	}
	out := make([]ProviderInfo, 0, len(names))
	for c := range names {
		out = append(out, describe(c, lookup))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out
}

// ProviderByCode describes one code or alias; ok is false when the build knows
// nothing about it.
func ProviderByCode(code string, lookup LookupFunc) (ProviderInfo, bool) {
	name := strings.ToLower(strings.TrimSpace(code))
	_, native := registry[name]
	_, lego := legoCodes[name]
	_, bridged := bridgeSpec(name)
	_, removed := removedLegoCodes[name]
	if !native && !lego && !bridged && !removed {
		return ProviderInfo{}, false
	}
	return describe(name, lookup), true
}

func describe(code string, lookup LookupFunc) ProviderInfo {
	info := ProviderInfo{Code: code, Env: []EnvVarInfo{}}
	if lc, ok := legoCodes[code]; ok {
		info.Name = lc.name
	}
	env := map[string]*EnvVarInfo{}
	var order []string
	addVar := func(name, backend string, required bool, alts []string) {
		v := env[name]
		if v == nil {
			v = &EnvVarInfo{Name: name, Set: setState(lookup, name)}
			env[name] = v
			order = append(order, name)
		}
		if required {
			v.Required = true
			v.Alternatives = alts
		}
		if !slices.Contains(v.ReadBy, backend) {
			v.ReadBy = append(v.ReadBy, backend)
		}
	}

	bspec, bridged := bridgeSpec(code)
	if ent, ok := registry[code]; ok {
		s := ent.spec
		if code != s.Code {
			info.AliasOf = s.Code
		}
		info.ServedBy = ServedByLibdns
		if s.Module == "" {
			info.ServedBy = ServedByNative
		}
		info.Module = s.Module
		info.Sequential = s.Sequential
		info.Notes = s.Notes
		for _, group := range s.Required {
			for i, n := range group {
				alts := slices.Concat(group[:i], group[i+1:])
				if len(alts) == 0 {
					alts = nil
				}
				addVar(n, info.ServedBy, true, alts)
			}
		}
		for _, n := range s.Optional {
			addVar(n, info.ServedBy, false, nil)
		}
		info.LegoFallback = bridged
	} else if bridged {
		info.ServedBy = ServedByLego
		info.Module = BridgeModule
		if !strings.EqualFold(bspec.Code, code) {
			info.AliasOf = strings.ToLower(bspec.Code)
		}
	} else {
		info.ServedBy = ServedByMissing
		info.Reason = strings.TrimPrefix(whyNotServed(code), code+": ")
	}
	if bridged {
		if info.Name == "" {
			info.Name = bspec.Name
		}
		for _, n := range bspec.Credentials {
			addVar(n, ServedByLego, false, nil)
		}
		for _, n := range bspec.Additional {
			addVar(n, ServedByLego, false, nil)
		}
	}
	for _, n := range order {
		info.Env = append(info.Env, *env[n])
	}
	return info
}

// setState reports whether name is set: "env", "file" (<NAME>_FILE) or "".
func setState(lookup LookupFunc, name string) string {
	if lookup == nil {
		return ""
	}
	if v, _ := lookup(name); v != "" {
		return "env"
	}
	if v, _ := lookup(name + "_FILE"); v != "" {
		return "file"
	}
	return ""
}
