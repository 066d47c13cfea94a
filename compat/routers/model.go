// Package routers reads the routers of Traefik's dynamic configuration
// (the file provider's files, and Docker labels in a compose file) and
// works out which names each certificate resolver certifies, as Traefik's
// ACME provider does: a router with tls.certResolver gets a certificate for
// its tls.domains (main + sans) when set, otherwise for every name of its
// rule's Host (HTTP) or HostSNI (TCP) matchers; entry points'
// http.tls defaults apply to their routers.
//
// The package knows nothing of Caddy. What it needs of Traefik's static
// configuration (providers, entry points) it takes as a Static value that
// the caller fills, or reads with StaticFromTree, StaticFromArgs and
// StaticFromEnv. It imports only the standard library and one YAML and one
// TOML decoder.
package routers

import (
	"fmt"
	"strconv"
	"strings"
)

// Warning is a non-fatal finding about the dynamic configuration.
type Warning struct {
	// Where names the file, compose service or router concerned, such as
	// `router "api@docker"`.
	Where string `json:"where"`
	// Message says what was found and what it means.
	Message string `json:"message"`
}

// String formats the warning as "where: message".
func (w Warning) String() string { return w.Where + ": " + w.Message }

// Domain is one certificate request: a main name and its SANs, as in
// tls.domains and in acme.json.
type Domain struct {
	Main string   `json:"main"`
	SANs []string `json:"sans,omitempty"`
}

// Names returns main followed by the SANs.
func (d Domain) Names() []string {
	return append([]string{d.Main}, d.SANs...)
}

// TLS is a router's tls section (or an entry point's http.tls default).
type TLS struct {
	// CertResolver names the certificate resolver. Empty means none.
	CertResolver string `json:"certResolver,omitempty"`
	// Domains, when set, are the certificates to request instead of the
	// rule's names.
	Domains []Domain `json:"domains,omitempty"`
	// Options names TLS options (not translated).
	Options string `json:"options,omitempty"`
	// PassThrough is the TCP routers' tls.passthrough (not translated).
	PassThrough bool `json:"passthrough,omitempty"`
}

// Protocol is http or tcp.
type Protocol string

// Router protocols.
const (
	HTTP Protocol = "http"
	TCP  Protocol = "tcp"
)

// Router is one router of the dynamic configuration.
type Router struct {
	// Name is the router's qualified name, such as "api@file" or
	// "whoami@docker".
	Name string `json:"name"`
	// Protocol is http or tcp.
	Protocol Protocol `json:"protocol"`
	// Source says where the router was read: a file, or a compose service.
	Source string `json:"source"`
	// Rule is the routing rule. For a Docker router without one, the
	// provider's defaultRule, executed.
	Rule string `json:"rule"`
	// RuleSyntax is the router's ruleSyntax (v2 or v3), if set.
	RuleSyntax string `json:"ruleSyntax,omitempty"`
	// EntryPoints lists the entry points the router listens on; empty
	// means the default ones.
	EntryPoints []string `json:"entryPoints,omitempty"`
	// Service is the service the router forwards to, qualified.
	Service string `json:"service,omitempty"`
	// Middlewares lists the router's middlewares.
	Middlewares []string `json:"middlewares,omitempty"`
	// Priority is the router's priority, as written ("" when unset).
	Priority string `json:"priority,omitempty"`
	// TLS is the router's tls section; nil when it has none.
	TLS *TLS `json:"tls,omitempty"`
	// Other lists options of the router this package does not model,
	// such as observability.
	Other []string `json:"other,omitempty"`
}

// Service is the part of a service that a Caddyfile can express: where a
// load balancer sends requests.
type Service struct {
	// Name is the service's qualified name.
	Name string `json:"name"`
	// URLs are the loadBalancer servers' URLs (HTTP) or addresses (TCP).
	URLs []string `json:"urls,omitempty"`
	// Kind is loadBalancer, weighted, mirroring or failover.
	Kind string `json:"kind,omitempty"`
}

// Dynamic is the routers and services read from the providers.
type Dynamic struct {
	Routers  []*Router          `json:"routers"`
	Services map[string]Service `json:"services,omitempty"`
	Warnings []Warning          `json:"warnings,omitempty"`
}

// routerKeys are the router options the package models.
var routerKeys = []string{"rule", "ruleSyntax", "entryPoints", "service", "middlewares", "priority", "tls"}

// decodeRouter reads one router table. provider qualifies the names
// ("file", "docker").
func decodeRouter(name, provider, source string, proto Protocol, m map[string]any) (*Router, error) {
	r := &Router{Name: qualify(name, provider), Protocol: proto, Source: source}
	var err error
	if r.Rule, err = str(m, "rule"); err != nil {
		return nil, err
	}
	if r.RuleSyntax, err = str(m, "ruleSyntax"); err != nil {
		return nil, err
	}
	if r.EntryPoints, err = list(m, "entryPoints"); err != nil {
		return nil, err
	}
	if r.Service, err = str(m, "service"); err != nil {
		return nil, err
	}
	if r.Service != "" {
		r.Service = qualify(r.Service, provider)
	}
	if r.Middlewares, err = list(m, "middlewares"); err != nil {
		return nil, err
	}
	if r.Priority, err = str(m, "priority"); err != nil {
		return nil, err
	}
	if v, ok := get(m, "tls"); ok {
		t, err := decodeTLS(v)
		if err != nil {
			return nil, fmt.Errorf("tls.%w", err)
		}
		r.TLS = t
	}
	r.Other = otherKeys(m, routerKeys...)
	return r, nil
}

// decodeTLS reads a tls section: a table, an empty value, or (from
// labels) "true".
func decodeTLS(v any) (*TLS, error) {
	switch x := v.(type) {
	case nil:
		// `tls:` with no value: paerser enables the section.
		return &TLS{}, nil
	case map[string]any:
		t := &TLS{}
		var err error
		if t.CertResolver, err = str(x, "certResolver"); err != nil {
			return nil, err
		}
		if t.Options, err = str(x, "options"); err != nil {
			return nil, err
		}
		if p, err := str(x, "passthrough"); err != nil {
			return nil, err
		} else if p != "" {
			t.PassThrough, _ = strconv.ParseBool(p)
		}
		if dv, ok := get(x, "domains"); ok && dv != nil {
			ds, ok := dv.([]any)
			if !ok {
				return nil, fmt.Errorf("domains: expected a list of {main, sans}, found %s", kindOf(dv))
			}
			for i, e := range ds {
				dm, ok := e.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("domains[%d]: expected a table with main and sans, found %s", i, kindOf(e))
				}
				var d Domain
				if d.Main, err = str(dm, "main"); err != nil {
					return nil, fmt.Errorf("domains[%d].%w", i, err)
				}
				if d.SANs, err = list(dm, "sans"); err != nil {
					return nil, fmt.Errorf("domains[%d].%w", i, err)
				}
				t.Domains = append(t.Domains, d)
			}
		}
		return t, nil
	}
	s, _ := scalar(v)
	if b, err := strconv.ParseBool(s); err == nil || s == "" {
		if s == "" || b {
			return &TLS{}, nil
		}
		return nil, nil
	}
	return nil, fmt.Errorf(": expected a table or true, found %q", s)
}

// qualify adds @provider to a name that has no provider yet.
func qualify(name, provider string) string {
	if strings.Contains(name, "@") || provider == "" {
		return name
	}
	return name + "@" + provider
}

// decodeServices reads the services of one protocol section.
func decodeServices(sec map[string]any, provider string, proto Protocol, into map[string]Service) {
	svcs := table(sec, "services")
	for _, name := range sortedKeys(svcs) {
		m, _ := svcs[name].(map[string]any)
		s := Service{Name: qualify(name, provider)}
		for _, kind := range []string{"loadBalancer", "weighted", "mirroring", "failover"} {
			if has(m, kind) {
				s.Kind = kind
			}
		}
		if lb := table(m, "loadBalancer"); lb != nil {
			if v, ok := get(lb, "servers"); ok {
				servers, _ := v.([]any)
				for _, e := range servers {
					sm, _ := e.(map[string]any)
					key := "url"
					if proto == TCP {
						key = "address"
					}
					if u, _ := str(sm, key); u != "" {
						s.URLs = append(s.URLs, u)
					}
				}
			}
		}
		into[string(proto)+":"+s.Name] = s
	}
}
