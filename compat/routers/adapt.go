package routers

import (
	"fmt"
	"sort"
	"strings"
)

// CaddyfileOptions tune the Caddyfile that Caddyfile writes.
type CaddyfileOptions struct {
	// Header is written first, as comment lines (a "# " is added).
	Header []string
	// GlobalConfig, when not empty, adds a global options block
	// `traefik_acme { config <GlobalConfig> }` so the sites' issuers
	// find their resolvers.
	GlobalConfig string
}

// Caddyfile writes Caddyfile site blocks equivalent to the HTTP routers
// of dyn, as a migration aid: the rule's Host names (or, without any, the
// tls.domains names) are the site addresses; a router without TLS on any
// of its entry points is served over http://; the certResolver becomes
// `tls { issuer traefik <resolver> }`; the service's first server URL
// becomes reverse_proxy; a Path or PathPrefix that the rule requires
// becomes the reverse_proxy's path matcher. Routers with the same
// addresses and resolver share one site, one reverse_proxy each (Caddy
// tries the longest path first, as Traefik's default priority does). Every
// router option it does not translate (middlewares, priority,
// tls.options, other matchers, other servers, TCP routers, an address
// another site already has) is named in a comment. The output is
// formatted as caddy fmt formats it.
func Caddyfile(static *Static, dyn *Dynamic, opts CaddyfileOptions) []byte {
	if static == nil {
		static = &Static{}
	}
	var sites []*site
	byKey := map[string]*site{}
	used := map[string]string{} // site address -> first router
	var tcp []string
	for _, r := range dyn.Routers {
		if r.Protocol == TCP {
			tcp = append(tcp, r.Name)
			continue
		}
		s := buildSite(static, dyn, r)
		if len(s.addrs) > 0 {
			key := strings.Join(s.addrs, ", ") + " " + s.resolver
			if prev, ok := byKey[key]; ok && !prev.hasProxy(s.proxies) {
				prev.merge(s)
				continue
			}
			var kept []string
			for _, a := range s.addrs {
				if other, dup := used[a]; dup {
					s.note("%s is already the address of router %q's site: Caddy allows one site per address, so it is not repeated here (merge the two by hand, with handle blocks)", a, other)
					continue
				}
				used[a] = r.Name
				kept = append(kept, a)
			}
			if len(kept) == 0 {
				s.skip = "every address of the router already has a site"
			}
			s.addrs = kept
			byKey[key] = s
		}
		sites = append(sites, s)
	}

	var b strings.Builder
	for _, h := range opts.Header {
		b.WriteString(strings.TrimRight("# "+h, " ") + "\n")
	}
	blocks := 0
	sep := func() {
		if blocks > 0 {
			b.WriteString("\n")
		}
		blocks++
	}
	if opts.GlobalConfig != "" {
		sep()
		fmt.Fprintf(&b, "{\n\ttraefik_acme {\n\t\tconfig %s\n\t}\n}\n", caddyfileToken(opts.GlobalConfig))
	}
	for _, s := range sites {
		sep()
		s.write(&b)
	}
	if len(tcp) > 0 {
		sep()
		for _, name := range tcp {
			fmt.Fprintf(&b, "# TCP router %q is not translated: Caddy's HTTP server does not route raw TCP (see the caddy-l4 plugin); the traefik_acme app still obtains its certificates.\n", name)
		}
	}
	return []byte(b.String())
}

// site is one site block: one router, or several with the same addresses.
type site struct {
	comments []string // comment lines, without "# "
	addrs    []string // site addresses, already tokens
	resolver string
	proxies  []proxy
	skip     string // why no block is written (the comments remain)
}

// proxy is one reverse_proxy line.
type proxy struct {
	matcher  string   // name of the matcher when paths has several
	paths    []string // the request paths it serves (any of them); none for every request
	upstream string
}

func (s *site) note(format string, args ...any) {
	if n := oneLine(fmt.Sprintf(format, args...)); !contains(s.comments, n) {
		s.comments = append(s.comments, n)
	}
}

// hasProxy reports whether s already proxies one of the paths of ps, so
// that a router for them cannot share the site.
func (s *site) hasProxy(ps []proxy) bool {
	for _, p := range ps {
		for _, q := range s.proxies {
			if strings.Join(p.paths, " ") == strings.Join(q.paths, " ") {
				return true
			}
		}
	}
	return false
}

func (s *site) merge(o *site) {
	s.comments = append(s.comments, o.comments...)
	s.proxies = append(s.proxies, o.proxies...)
}

func (s *site) write(b *strings.Builder) {
	for _, c := range s.comments {
		fmt.Fprintf(b, "# %s\n", c)
	}
	if s.skip != "" {
		fmt.Fprintf(b, "# not translated: %s\n", s.skip)
		return
	}
	fmt.Fprintf(b, "%s {\n", strings.Join(s.addrs, ", "))
	if s.resolver != "" {
		fmt.Fprintf(b, "\ttls {\n\t\tissuer traefik %s\n\t}\n", caddyfileToken(s.resolver))
	}
	for _, p := range s.proxies {
		switch len(p.paths) {
		case 0:
			fmt.Fprintf(b, "\treverse_proxy %s\n", caddyfileToken(p.upstream))
		case 1:
			fmt.Fprintf(b, "\treverse_proxy %s %s\n", caddyfileToken(p.paths[0]), caddyfileToken(p.upstream))
		default:
			toks := make([]string, len(p.paths))
			for i, v := range p.paths {
				toks[i] = caddyfileToken(v)
			}
			fmt.Fprintf(b, "\t@%s path %s\n\treverse_proxy @%s %s\n", p.matcher, strings.Join(toks, " "), p.matcher, caddyfileToken(p.upstream))
		}
	}
	b.WriteString("}\n")
}

// buildSite translates one HTTP router.
func buildSite(static *Static, dyn *Dynamic, r *Router) *site {
	s := &site{}
	s.comments = append(s.comments, fmt.Sprintf("router %q (%s)", r.Name, r.Source))

	rn, err := ParseRule(r.Rule, HTTPRule)
	if err != nil {
		s.skip = oneLine(err.Error())
		return s
	}
	hosts, paths, pathOK := s.translateRule(rn)
	// TLS per entry point.
	tlss := static.effectiveTLS(r, func(string, ...any) {})
	var resolvers, tlsDomains []string
	anyTLS, anyPlain := false, false
	for _, t := range tlss {
		if t == nil {
			anyPlain = true
			continue
		}
		anyTLS = true
		if t.CertResolver != "" && !contains(resolvers, t.CertResolver) {
			resolvers = append(resolvers, t.CertResolver)
		}
		if t.Options != "" {
			s.note("tls.options %q is not translated (use the tls directive's protocols/ciphers)", t.Options)
		}
		for _, d := range cleanDomains(t.Domains) {
			for _, n := range d.Names() {
				if !contains(tlsDomains, n) {
					tlsDomains = append(tlsDomains, n)
				}
			}
		}
	}
	if len(hosts) == 0 && len(tlsDomains) > 0 {
		hosts = tlsDomains
		s.note("the rule names no host; the site addresses are its tls.domains")
	} else if len(tlsDomains) > 0 && !sameSet(hosts, tlsDomains) {
		s.note("tls.domains (%s) differ from the rule's hosts: Caddy obtains one certificate per site address", strings.Join(tlsDomains, ", "))
	}
	if len(hosts) == 0 {
		s.skip = "the rule names no host, and a Caddy site needs an address"
		return s
	}
	if anyTLS && len(resolvers) == 0 {
		s.note("tls has no certResolver: Caddy obtains the certificate with its default issuers")
	}
	if len(resolvers) > 1 {
		s.note("entry points give different resolvers (%s); the first is used", strings.Join(resolvers, ", "))
	}
	if len(resolvers) > 0 {
		s.resolver = resolvers[0]
	}
	if anyTLS && anyPlain {
		s.note("the router also listens without TLS on some entry points; Caddy redirects HTTP to HTTPS instead")
	}
	if len(r.Middlewares) > 0 {
		s.note("middlewares %s are not translated", strings.Join(r.Middlewares, ", "))
	}
	if r.Priority != "" {
		s.note("priority %s is not translated (Caddy tries longer paths first)", r.Priority)
	}
	if r.RuleSyntax != "" {
		s.note("ruleSyntax %s needs no translation", r.RuleSyntax)
	}
	for _, o := range r.Other {
		s.note("option %s is not translated", o)
	}
	if r.Service == "" {
		s.note("the router names no service; no reverse_proxy is written")
	} else if svc, ok := dyn.Service(r); !ok {
		s.note("service %q is not defined in the files read; no reverse_proxy is written", r.Service)
	} else if len(svc.URLs) == 0 {
		s.note("service %q (%s) has no loadBalancer servers; no reverse_proxy is written", r.Service, svc.Kind)
	} else {
		if len(svc.URLs) > 1 {
			s.note("service %q: only the first server is translated; the others are %s", r.Service, strings.Join(svc.URLs[1:], ", "))
		}
		if pathOK {
			s.proxies = append(s.proxies, proxy{matcher: Normalize(r.Name), paths: paths, upstream: svc.URLs[0]})
		}
	}
	for _, h := range hosts {
		if !anyTLS && len(tlss) > 0 {
			h = "http://" + h
		}
		s.addrs = append(s.addrs, caddyfileToken(h))
	}
	return s
}

// translateRule reads a rule's hosts and the request paths it requires.
// Paths translate when the rule requires one Path/PathPrefix (v2's
// several arguments are alternatives) or one top-level || of them only;
// otherwise pathOK is false and a comment says why. Other matchers are
// named in comments.
func (s *site) translateRule(rn RuleNames) (hosts, paths []string, pathOK bool) {
	members := map[int][]Matcher{}
	for _, m := range rn.Matchers {
		for _, g := range m.OrGroups {
			members[g] = append(members[g], m)
		}
	}
	only := func(g int, names ...string) bool {
		for _, m := range members[g] {
			if m.Not || !contains(names, m.Name) {
				return false
			}
		}
		return true
	}
	pathValues := func(m Matcher) []string {
		var out []string
		for _, v := range m.Values {
			if m.Name == "PathPrefix" {
				v += "*"
			}
			out = append(out, v)
		}
		return out
	}
	constraints := 0
	pathOK = true
	var altGroup int
	for _, m := range rn.Matchers {
		isPath := m.Name == "Path" || m.Name == "PathPrefix"
		switch {
		case m.Name == "Host" && !m.Not:
			for _, v := range m.Values {
				if h := cleanName(v); h != "" && !contains(hosts, h) {
					hosts = append(hosts, h)
				}
			}
			if m.InOr && !(len(m.OrGroups) == 1 && only(m.OrGroups[0], "Host")) {
				s.note("the rule mixes Host with other matchers under ||; the site serves its hosts for every request that the rest allows")
			}
		case isPath && !m.Not && !m.InOr:
			constraints++
			paths = append(paths, pathValues(m)...)
		case isPath && !m.Not && len(m.OrGroups) == 1 && only(m.OrGroups[0], "Path", "PathPrefix"):
			if altGroup != m.OrGroups[0] {
				altGroup = m.OrGroups[0]
				constraints++
			}
			paths = append(paths, pathValues(m)...)
		case isPath:
			pathOK = false
		default:
			s.note("rule matcher %s%s(%s) is not translated", map[bool]string{true: "!"}[m.Not], m.Name, quoteList(m.Values))
		}
	}
	if constraints > 1 {
		pathOK = false
	}
	if !pathOK {
		s.note("the rule's paths cannot be written as one Caddy path matcher; no reverse_proxy is written (use handle blocks by hand)")
		paths = nil
	}
	return hosts, paths, pathOK
}

// caddyfileToken quotes a token that the Caddyfile lexer would split or
// read specially.
func caddyfileToken(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\r\n\"'`{}#\\") {
		return s
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}

// oneLine keeps a comment on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func sameSet(a, b []string) bool {
	x := append([]string(nil), a...)
	y := append([]string(nil), b...)
	sort.Strings(x)
	sort.Strings(y)
	return strings.Join(x, ",") == strings.Join(y, ",")
}
