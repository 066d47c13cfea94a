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
// becomes the reverse_proxy's path matcher. Every router option it does
// not translate (middlewares, priority, tls.options, other matchers,
// other servers, TCP routers) is named in a comment. The output is
// formatted as caddy fmt formats it.
func Caddyfile(static *Static, dyn *Dynamic, opts CaddyfileOptions) []byte {
	if static == nil {
		static = &Static{}
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
	var tcp []string
	used := map[string]string{} // site address -> router
	for _, r := range dyn.Routers {
		if r.Protocol == TCP {
			tcp = append(tcp, r.Name)
			continue
		}
		sep()
		writeSite(&b, static, dyn, r, used)
	}
	if len(tcp) > 0 {
		sep()
		for _, name := range tcp {
			fmt.Fprintf(&b, "# TCP router %q is not translated: Caddy's HTTP server does not route raw TCP (see the caddy-l4 plugin); the traefik_acme app still obtains its certificates.\n", name)
		}
	}
	return []byte(b.String())
}

// writeSite writes one router as a site block (or, when it cannot be one,
// as comments).
func writeSite(b *strings.Builder, static *Static, dyn *Dynamic, r *Router, used map[string]string) {
	var notes []string
	note := func(format string, args ...any) {
		if n := fmt.Sprintf(format, args...); !contains(notes, n) {
			notes = append(notes, n)
		}
	}
	fmt.Fprintf(b, "# router %q (%s)\n", r.Name, r.Source)

	rn, err := ParseRule(r.Rule, HTTPRule)
	if err != nil {
		fmt.Fprintf(b, "# not translated: %s\n", oneLine(err.Error()))
		return
	}
	var hosts, paths []string
	pathLeaves := 0
	for _, m := range rn.Matchers {
		switch {
		case m.Name == "Host" && !m.Not:
			for _, v := range m.Values {
				if h := cleanName(v); h != "" && !contains(hosts, h) {
					hosts = append(hosts, h)
				}
			}
		case (m.Name == "Path" || m.Name == "PathPrefix") && !m.Not && !m.InOr:
			pathLeaves++
			for _, v := range m.Values {
				if m.Name == "PathPrefix" {
					v += "*"
				}
				paths = append(paths, v)
			}
		default:
			note("rule matcher %s%s(%s) is not translated", map[bool]string{true: "!"}[m.Not], m.Name, quoteList(m.Values))
		}
	}
	if pathLeaves > 1 {
		note("the rule requires several Path/PathPrefix matchers at once; only the first is translated")
		paths = paths[:1]
	}

	// TLS per entry point.
	tlss := static.effectiveTLS(r, func(string, ...any) {})
	var resolvers []string
	anyTLS, anyPlain := false, false
	var tlsDomains []string
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
			note("tls.options %q is not translated (use the tls directive's protocols/ciphers)", t.Options)
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
		note("the rule names no host; the site addresses are its tls.domains")
	} else if len(tlsDomains) > 0 && !sameSet(hosts, tlsDomains) {
		note("tls.domains (%s) differ from the rule's hosts: Caddy obtains one certificate per site address", strings.Join(tlsDomains, ", "))
	}
	if len(hosts) == 0 {
		for _, n := range notes {
			fmt.Fprintf(b, "# %s\n", oneLine(n))
		}
		b.WriteString("# not translated: the rule names no host, and a Caddy site needs an address\n")
		return
	}
	if anyTLS && len(resolvers) == 0 {
		note("tls has no certResolver: Caddy obtains the certificate with its default issuers")
	}
	if len(resolvers) > 1 {
		note("entry points give different resolvers (%s); the first is used", strings.Join(resolvers, ", "))
	}
	if anyTLS && anyPlain {
		note("the router also listens without TLS on some entry points; Caddy redirects HTTP to HTTPS instead")
	}
	if !anyTLS && len(tlss) > 0 {
		for i, h := range hosts {
			hosts[i] = "http://" + h
		}
	}
	if len(r.Middlewares) > 0 {
		note("middlewares %s are not translated", strings.Join(r.Middlewares, ", "))
	}
	if r.Priority != "" {
		note("priority %s is not translated (Caddy orders sites by address specificity)", r.Priority)
	}
	if r.RuleSyntax != "" {
		note("ruleSyntax %s needs no translation", r.RuleSyntax)
	}
	for _, o := range r.Other {
		note("option %s is not translated", o)
	}
	upstream := ""
	if r.Service == "" {
		note("the router names no service; no reverse_proxy is written")
	} else if svc, ok := dyn.Service(r); !ok {
		note("service %q is not defined in the files read; no reverse_proxy is written", r.Service)
	} else if len(svc.URLs) == 0 {
		note("service %q (%s) has no loadBalancer servers; no reverse_proxy is written", r.Service, svc.Kind)
	} else {
		upstream = svc.URLs[0]
		if len(svc.URLs) > 1 {
			note("service %q: only the first server is translated; the others are %s", r.Service, strings.Join(svc.URLs[1:], ", "))
		}
	}

	var addrs []string
	for _, h := range hosts {
		if other, dup := used[h]; dup {
			note("%s is already the address of router %q's site: Caddy allows one site per address, so it is not repeated here (merge the two by hand, with handle blocks)", h, other)
			continue
		}
		used[h] = r.Name
		addrs = append(addrs, caddyfileToken(h))
	}
	for _, n := range notes {
		fmt.Fprintf(b, "# %s\n", oneLine(n))
	}
	if len(addrs) == 0 {
		b.WriteString("# not translated: every address of the router already has a site\n")
		return
	}
	fmt.Fprintf(b, "%s {\n", strings.Join(addrs, ", "))
	if len(resolvers) > 0 {
		fmt.Fprintf(b, "\ttls {\n\t\tissuer traefik %s\n\t}\n", caddyfileToken(resolvers[0]))
	}
	if upstream != "" {
		if len(paths) > 0 {
			fmt.Fprintf(b, "\treverse_proxy %s %s\n", caddyfileToken(paths[0]), caddyfileToken(upstream))
		} else {
			fmt.Fprintf(b, "\treverse_proxy %s\n", caddyfileToken(upstream))
		}
	}
	b.WriteString("}\n")
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
