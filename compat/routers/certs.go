package routers

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// Certificate is one certificate a resolver is asked for: what Traefik's
// ACME provider would obtain and record in acme.json under the resolver.
type Certificate struct {
	// Resolver is the certificate resolver's name.
	Resolver string `json:"resolver"`
	// Domain is the certificate's main name and SANs, in Traefik's order.
	Domain Domain `json:"domain"`
	// Routers are the routers that ask for it (qualified names; a router
	// on several entry points is listed once).
	Routers []string `json:"routers"`
}

// Plan is the certificates the routers ask each resolver for.
type Plan struct {
	Certificates []Certificate `json:"certificates"`
	Warnings     []Warning     `json:"warnings,omitempty"`
}

// Resolvers returns the names of the resolvers the routers reference,
// sorted.
func (p *Plan) Resolvers() []string {
	set := map[string]bool{}
	for _, c := range p.Certificates {
		set[c.Resolver] = true
	}
	return sortedKeys(set)
}

// Names returns, per resolver, every name its certificates cover (main
// and SANs), sorted and without duplicates.
func (p *Plan) Names() map[string][]string {
	sets := map[string]map[string]bool{}
	for _, c := range p.Certificates {
		if sets[c.Resolver] == nil {
			sets[c.Resolver] = map[string]bool{}
		}
		for _, n := range c.Domain.Names() {
			sets[c.Resolver][n] = true
		}
	}
	out := make(map[string][]string, len(sets))
	for r, s := range sets {
		out[r] = sortedKeys(s)
	}
	return out
}

// RouterResolvers returns, per router, the resolvers it references (after
// entry point defaults), so a caller can report a router whose resolver is
// not defined.
func (p *Plan) RouterResolvers() map[string][]string {
	out := map[string][]string{}
	for _, c := range p.Certificates {
		for _, r := range c.Routers {
			if !contains(out[r], c.Resolver) {
				out[r] = append(out[r], c.Resolver)
			}
		}
	}
	return out
}

// request is one router's ask of a resolver, before merging.
type request struct {
	router   string
	resolver string
	domains  []Domain
}

// Certificates works out what each resolver certifies, as Traefik does:
//
//   - a router without entryPoints listens on the entry points marked
//     asDefault, or on all of them when none is;
//   - on an entry point with http.tls, an HTTP router that has no tls
//     section of its own takes the entry point's (certResolver, domains);
//     a router with its own tls section keeps it whole;
//   - a router whose tls names a certResolver asks it for each of its
//     tls.domains (main + sans; duplicates and names a wildcard of the list
//     covers are dropped, as in Traefik), or, without domains, for one
//     certificate whose main name is the first Host (HostSNI for TCP) of
//     its rule and whose SANs are the others;
//   - names are lower-cased and lose a trailing dot; a name that an
//     earlier certificate of the same resolver already covers (exactly or
//     by a wildcard) is not asked for again, routers taken in name order.
//
// Routers whose rule cannot be parsed are skipped with a warning, as
// Traefik skips them. Certificates are sorted by resolver, then main name.
func Certificates(static *Static, dyn *Dynamic) *Plan {
	if static == nil {
		static = &Static{}
	}
	plan := &Plan{}
	warn := func(where, format string, args ...any) {
		plan.Warnings = append(plan.Warnings, Warning{Where: where, Message: fmt.Sprintf(format, args...)})
	}

	var reqs []request
	for _, r := range dyn.Routers {
		where := fmt.Sprintf("%s router %q (%s)", r.Protocol, r.Name, r.Source)
		tlss := static.effectiveTLS(r, func(f string, a ...any) { warn(where, f, a...) })
		var seen []*TLS
		for _, t := range tlss {
			if t == nil || t.CertResolver == "" {
				continue
			}
			dup := false
			for _, s := range seen {
				if reflect.DeepEqual(s, t) {
					dup = true
				}
			}
			if dup {
				continue
			}
			seen = append(seen, t)
			req := request{router: r.Name, resolver: t.CertResolver}
			if len(t.Domains) > 0 {
				req.domains = deleteUnnecessaryDomains(cleanDomains(t.Domains), func(f string, a ...any) { warn(where, f, a...) })
			} else {
				kind := HTTPRule
				if r.Protocol == TCP {
					kind = TCPRule
				}
				rn, err := ParseRule(r.Rule, kind)
				if err != nil {
					warn(where, "skipped, as Traefik skips it: %v", err)
					continue
				}
				for _, n := range rn.Notes {
					warn(where, "%s", n)
				}
				names := cleanNames(rn.Names)
				if len(names) == 0 {
					warn(where, "references resolver %q but its rule names no host and it has no tls.domains, so it asks for no certificate", t.CertResolver)
					continue
				}
				req.domains = []Domain{{Main: names[0], SANs: names[1:]}}
			}
			reqs = append(reqs, req)
		}
	}

	// Merge per resolver, routers in name order.
	sort.SliceStable(reqs, func(i, j int) bool { return reqs[i].router < reqs[j].router })
	type index struct {
		certs []*Certificate
		byKey map[string]*Certificate // main + sans -> certificate
		names map[string]bool         // every name of certs
	}
	byResolver := map[string]*index{}
	for _, rq := range reqs {
		ix := byResolver[rq.resolver]
		if ix == nil {
			ix = &index{byKey: map[string]*Certificate{}, names: map[string]bool{}}
			byResolver[rq.resolver] = ix
		}
		for _, d := range rq.domains {
			if c, ok := ix.byKey[domainKey(d)]; ok {
				if !contains(c.Routers, rq.router) {
					c.Routers = append(c.Routers, rq.router)
				}
				continue
			}
			var unchecked []string
			for _, n := range d.Names() {
				if coveredBySet(n, ix.names) {
					warn(fmt.Sprintf("router %q", rq.router), "%q is already covered by another certificate of resolver %q, so it is not asked for again", n, rq.resolver)
					continue
				}
				unchecked = append(unchecked, n)
			}
			if len(unchecked) == 0 {
				continue
			}
			c := &Certificate{Resolver: rq.resolver, Domain: Domain{Main: unchecked[0], SANs: unchecked[1:]}, Routers: []string{rq.router}}
			ix.certs = append(ix.certs, c)
			ix.byKey[domainKey(d)] = c
			ix.byKey[domainKey(c.Domain)] = c
			for _, n := range unchecked {
				ix.names[n] = true
			}
		}
	}
	owner := map[string]string{}
	for _, res := range sortedKeys(byResolver) {
		for _, c := range byResolver[res].certs {
			for _, n := range c.Domain.Names() {
				if o, ok := owner[n]; ok && o != res {
					warn(fmt.Sprintf("name %q", n), "asked of resolvers %q and %q; Traefik obtains it from whichever runs first, so which one serves it is not defined", o, res)
				}
				owner[n] = res
			}
			plan.Certificates = append(plan.Certificates, *c)
		}
	}
	plan.Warnings = uniqueWarnings(plan.Warnings)
	sort.SliceStable(plan.Certificates, func(i, j int) bool {
		a, b := plan.Certificates[i], plan.Certificates[j]
		if a.Resolver != b.Resolver {
			return a.Resolver < b.Resolver
		}
		return a.Domain.Main < b.Domain.Main
	})
	return plan
}

// cleanName is Traefik's types.CanonicalDomain followed by dns01.UnFqdn.
func cleanName(n string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(n)), ".")
}

func cleanNames(ns []string) []string {
	out := make([]string, 0, len(ns))
	for _, n := range ns {
		if n = cleanName(n); n != "" {
			out = append(out, n)
		}
	}
	return out
}

func cleanDomains(ds []Domain) []Domain {
	out := make([]Domain, 0, len(ds))
	for _, d := range ds {
		names := cleanNames(d.Names())
		if len(names) == 0 {
			continue
		}
		out = append(out, Domain{Main: names[0], SANs: names[1:]})
	}
	return out
}

// normalizeDomain makes SANs nil when empty, so that equal domains compare
// equal.
func normalizeDomain(d Domain) Domain {
	if len(d.SANs) == 0 {
		d.SANs = nil
	}
	return d
}

// deleteUnnecessaryDomains is Traefik's rule for a router's tls.domains:
// a domain equal to an earlier one is dropped; names of a domain that an
// earlier domain covers, or that another domain's wildcard main covers,
// are dropped, and the domain with them when none remains.
func deleteUnnecessaryDomains(domains []Domain, warn func(string, ...any)) []Domain {
	for i := range domains {
		domains[i] = normalizeDomain(domains[i])
	}
	var out []Domain
	for i, check := range domains {
		keep := true
		for j, d := range domains {
			if i == j {
				continue
			}
			if reflect.DeepEqual(d, check) {
				if i > j {
					warn("tls.domains: %v is listed twice; it is asked for once", check.Names())
					keep = false
				}
				break
			}
			var remaining []string
			for _, n := range check.Names() {
				if j < i && coveredBy(n, d.Names()) {
					warn("tls.domains: %q is already covered by %v; it is asked for once", n, d.Names())
					continue
				}
				if d.Main != n && strings.HasPrefix(d.Main, "*") && coveredBy(n, []string{d.Main}) {
					warn("tls.domains: %q is covered by the wildcard %q; it is not asked for", n, d.Main)
					continue
				}
				remaining = append(remaining, n)
			}
			if remaining == nil {
				keep = false
				break
			}
			check = normalizeDomain(Domain{Main: remaining[0], SANs: remaining[1:]})
		}
		if keep {
			out = append(out, check)
		}
	}
	return out
}

// coveredBy reports whether name is one of names or matched by one of
// their wildcards, with Traefik's types.MatchDomain.
func coveredBy(name string, names []string) bool {
	for _, n := range names {
		if matchDomain(name, n) {
			return true
		}
	}
	return false
}

// matchDomain is Traefik's types.MatchDomain: equal, or certDomain equals
// domain with its leading labels replaced by '*' one after another.
func matchDomain(domain, certDomain string) bool {
	if domain == certDomain {
		return true
	}
	certDomain = strings.TrimRight(certDomain, ".")
	labels := strings.Split(domain, ".")
	for i := range labels {
		labels[i] = "*"
		if strings.Join(labels, ".") == certDomain {
			return true
		}
	}
	return false
}

// uniqueWarnings drops repeated warnings, keeping the first of each.
func uniqueWarnings(ws []Warning) []Warning {
	seen := map[Warning]bool{}
	out := ws[:0]
	for _, w := range ws {
		if !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}

// defaultEntryPoints are the entry points of a router without
// entryPoints: those marked asDefault, or else all of them.
func (s *Static) defaultEntryPoints() []string {
	var defaults []string
	for _, name := range sortedKeys(s.EntryPoints) {
		if s.EntryPoints[name].AsDefault {
			defaults = append(defaults, name)
		}
	}
	if len(defaults) == 0 {
		defaults = sortedKeys(s.EntryPoints)
	}
	return defaults
}

// effectiveTLS returns the tls sections a router ends up with, one per
// entry point it listens on (nil where it has none), as Traefik's
// applyModel gives them: an HTTP router without a tls section of its own
// takes its entry point's http.tls. TCP routers keep their own.
func (s *Static) effectiveTLS(r *Router, warn func(string, ...any)) []*TLS {
	if r.Protocol == TCP || len(s.EntryPoints) == 0 {
		return []*TLS{r.TLS}
	}
	eps := r.EntryPoints
	if len(eps) == 0 {
		eps = s.defaultEntryPoints()
	}
	var tlss []*TLS
	for _, ep := range eps {
		def, ok := s.EntryPoints[ep]
		if !ok {
			warn("entry point %q is not defined in the static configuration; Traefik does not serve the router there", ep)
			continue
		}
		t := r.TLS
		if t == nil {
			t = def.TLS
		}
		tlss = append(tlss, t)
	}
	return tlss
}

// domainKey identifies a certificate request by its names, in order.
func domainKey(d Domain) string {
	return strings.Join(d.Names(), "\x00")
}

// coveredBySet is coveredBy against a set of names: name itself, or name
// with its leading labels replaced by '*' one after another, is in the set.
func coveredBySet(name string, names map[string]bool) bool {
	if names[name] {
		return true
	}
	labels := strings.Split(name, ".")
	for i := range labels {
		labels[i] = "*"
		if names[strings.Join(labels, ".")] {
			return true
		}
	}
	return false
}
