package config

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"
)

// This file decides what happens to keys the model does not have: other
// Traefik options (ignored), Traefik v1 options (explained), typos (an
// error or a warning with a did-you-mean).

// traefikRoots are the top-level sections of Traefik's static
// configuration (pkg/config/static.Configuration, v2.0 to v3.x) other than
// the two this package reads. They are ignored silently.
var traefikRoots = []string{
	"global", "serversTransport", "tcpServersTransport", "providers", "api",
	"metrics", "ping", "log", "accessLog", "tracing", "hostResolver",
	"experimental", "core", "spiffe", "ocsp", "pilot",
}

// flagOnlyRoots are Traefik command-line flags that are not part of the
// configuration tree.
var flagOnlyRoots = []string{"configFile"}

// v1KVRoots are Traefik v1 key-value store sections. In v1 they could hold
// the ACME data (storage = "traefik/acme/account").
var v1KVRoots = []string{"consul", "etcd", "zookeeper", "boltdb"}

// entryPointKeys are Traefik's entry point options (v2.0 to v3.x) other
// than address; they do not matter to certificates and are ignored.
var entryPointKeys = []string{
	"transport", "proxyProtocol", "forwardedHeaders", "http", "http2", "http3",
	"enableHTTP3", "udp", "observability", "reusePort", "asDefault",
	"allowACMEByPass",
}

// v1EntryPointKeys are Traefik v1 entry point options.
var v1EntryPointKeys = []string{"tls", "redirect", "auth", "compress", "whiteList", "whitelistSourceRange"}

// v1ACMEHints explains Traefik v1 acme options, by lower-case key.
var v1ACMEHints = map[string]string{
	"entrypoint":        "the HTTPS entry point of v1; in v2+ a router on that entry point selects the resolver with tls.certResolver=<name> (the HTTP-01 entry point is httpChallenge.entryPoint)",
	"onhostrule":        "in v2+ a router with tls.certResolver=<name> gets certificates for the names of its Host() rule",
	"ondemand":          "on-demand issuance was removed in v2; list the names on routers (Host() rules or tls.domains)",
	"domains":           "in v2+ the names come from routers: tls.domains[n].main and tls.domains[n].sans on a router with tls.certResolver=<name>",
	"acmelogging":       "removed in v2; ACME messages follow log.level (DEBUG shows them)",
	"dnsprovider":       "use dnsChallenge.provider",
	"delaydontcheckdns": "use dnsChallenge.delayBeforeCheck (v2) or dnsChallenge.propagation.delayBeforeChecks (v3.3+)",
	"storagefile":       "use storage",
}

// otherKey handles a key that matches no field of struct type t.
func (d *decoder) otherKey(t reflect.Type, key string, val any, p keyPath) {
	cp := p.child(key, key)
	switch t {
	case staticType:
		d.otherRootKey(key, val, cp)
	case entryPointType:
		switch {
		case containsFold(entryPointKeys, key):
		case containsFold(v1EntryPointKeys, key):
			d.warn(cp, "Traefik v1 entry point option; ignored (in v2+ TLS, redirections and middlewares are set on routers or under entryPoints.<name>.http)")
		case d.src == srcEnv:
			d.warn(cp, "not a Traefik entry point option; ignored. Names from TRAEFIK_* env vars cannot contain '_' (each '_' starts a new level), so an entry point such as web_secure must be renamed or defined in a file or with flags")
		default:
			d.warn(cp, "not a Traefik entry point option; ignored%s", didYouMean(key, append([]string{"address"}, entryPointKeys...)))
		}
	case resolverType:
		if strings.EqualFold(key, "tailscale") {
			d.tailscaleKey(val, p)
			return
		}
		if d.src == srcEnv {
			d.fail(cp, "unknown resolver option: only acme (and tailscale) are allowed here. Resolver names from TRAEFIK_* env vars are lower-cased and cannot contain '_' (each '_' starts a new level), so a name such as %s_%s must be renamed (for example %s%s) or the resolver defined in a file or with flags", p.disp[len(p.disp)-1], key, p.disp[len(p.disp)-1], key)
			return
		}
		d.fail(cp, "unknown resolver option: only acme (and tailscale) are allowed here%s", didYouMean(key, []string{"acme", "tailscale"}))
	default:
		if d.capped() {
			return
		}
		if t == acmeType {
			if hint, ok := v1ACMEHints[strings.ToLower(key)]; ok {
				d.fail(cp, "Traefik v1 option, not read by Traefik v2+: %s", hint)
				return
			}
		}
		d.fail(cp, "unknown option%s", d.suggestOption(t, key))
	}
}

// otherRootKey handles an unknown top-level key.
func (d *decoder) otherRootKey(key string, val any, p keyPath) {
	switch {
	case containsFold(traefikRoots, key), containsFold(flagOnlyRoots, key):
	case strings.EqualFold(key, "acme"):
		d.fail(p, "%s", v1ACMESection(val))
	case containsFold(v1KVRoots, key):
		d.v1KV = true
		d.warn(p, "Traefik v1 key-value store section; ignored (in v2+ it is providers.%s)", strings.ToLower(key))
	default:
		d.warn(p, "not a Traefik static configuration section; ignored%s",
			didYouMean(key, append([]string{"entryPoints", "certificatesResolvers"}, traefikRoots...)))
	}
}

// tailscaleKey records an enabled tailscale block of a resolver.
func (d *decoder) tailscaleKey(val any, p keyPath) {
	if val == nil {
		return
	}
	if vm, ok := val.(*valuedMap); ok && isDisabling(vm.value) {
		return
	}
	if s, ok := scalarString(val); ok && isDisabling(s) {
		return
	}
	d.tailscale[p.String()] = true
}

// v1ACMESection explains a top-level v1 [acme] section, key by key.
func v1ACMESection(val any) string {
	var b strings.Builder
	b.WriteString("a top-level acme section is Traefik v1 configuration, which Traefik v2+ does not read; " +
		"define a named resolver under certificatesResolvers.<name>.acme and select it from routers with tls.certResolver=<name>")
	m, _ := entries(val)
	keys := sortedKeys(m)
	if len(keys) > 0 {
		b.WriteString(". Per option:")
	}
	acmeFields := traefikFields(acmeType)
	for _, k := range keys {
		b.WriteString("\n  acme." + k + ": ")
		lk := strings.ToLower(k)
		switch {
		case v1ACMEHints[lk] != "":
			b.WriteString(v1ACMEHints[lk])
		case lk == "storage":
			if s, ok := scalarString(m[k]); ok && !strings.HasSuffix(strings.ToLower(s), ".json") {
				b.WriteString("KV storage was removed in v2: set certificatesResolvers.<name>.acme.storage to a JSON file such as /letsencrypt/acme.json (certificates kept in a KV store must be exported to that file first)")
			} else {
				b.WriteString("certificatesResolvers.<name>.acme.storage (the v1 file must be converted: Traefik's v2 layout nests it under the resolver name)")
			}
		case lk == "dnschallenge":
			b.WriteString("certificatesResolvers.<name>.acme.dnsChallenge (its delayBeforeCheck is dnsChallenge.propagation.delayBeforeChecks since v3.3)")
		default:
			if f, ok := findField(acmeFields, k); ok {
				b.WriteString("certificatesResolvers.<name>.acme." + f.name)
			} else {
				b.WriteString("no equivalent")
			}
		}
	}
	return b.String()
}

// checkKVStorage reports resolvers whose storage looks like a Traefik v1 KV
// key while the configuration also has a v1 KV store section.
func (d *decoder) checkKVStorage(s *Static) {
	for _, name := range slices.Sorted(maps.Keys(s.CertificatesResolvers)) {
		a := s.CertificatesResolvers[name].ACME
		if a == nil || a.Storage == "" || strings.HasSuffix(strings.ToLower(a.Storage), ".json") ||
			strings.HasPrefix(a.Storage, "/") || strings.HasPrefix(a.Storage, ".") {
			continue
		}
		p := keyPath{disp: []string{"certificatesResolvers", name, "acme", "storage"}, raw: []string{"certificatesResolvers", name, "acme", "storage"}}
		d.fail(p, "%q looks like a Traefik v1 KV store key; KV storage was removed in v2: Traefik v2+ keeps ACME data in a JSON file, so set a path such as /letsencrypt/acme.json (certificates kept in the KV store must be exported to that file first)", a.Storage)
	}
}

// suggestOption proposes the full path of an option with that exact name
// deeper in struct type t (dnsChallenge.provider for a misplaced provider,
// propagation.delayBeforeChecks in dnsChallenge), or else a close option
// name of t.
func (d *decoder) suggestOption(t reflect.Type, key string) string {
	var deeper []string
	collectPaths(t, "", &deeper, 0)
	for _, path := range deeper {
		last := path[strings.LastIndexByte(path, '.')+1:]
		if strings.EqualFold(last, key) {
			return fmt.Sprintf(" (did you mean %s?)", path)
		}
	}
	var names []string
	for _, f := range traefikFields(t) {
		names = append(names, f.name)
	}
	return didYouMean(key, names)
}

// collectPaths lists the dotted paths of the options nested in struct t.
func collectPaths(t reflect.Type, prefix string, out *[]string, depth int) {
	if depth > 4 {
		return
	}
	for _, f := range traefikFields(t) {
		ft := t.Field(f.index).Type
		path := f.name
		if prefix != "" {
			path = prefix + "." + f.name
		}
		if ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct {
			collectPaths(ft.Elem(), path, out, depth+1)
			continue
		}
		if prefix != "" {
			*out = append(*out, path)
		}
	}
	sort.Strings(*out)
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// didYouMean returns ` (did you mean "x"?)` for the candidate closest to
// key, when it is close enough to be a typo, or "".
func didYouMean(key string, candidates []string) string {
	best, bestDist := "", -1
	lk := strings.ToLower(key)
	for _, c := range candidates {
		dist := editDistance(lk, strings.ToLower(c))
		if bestDist < 0 || dist < bestDist {
			best, bestDist = c, dist
		}
	}
	limit := len([]rune(key)) / 3
	if limit < 1 {
		limit = 1
	}
	if limit > 3 {
		limit = 3
	}
	if bestDist < 0 || bestDist > limit {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the optimal-string-alignment distance between a and b:
// Levenshtein plus adjacent transpositions ("emial" is 1 from "email").
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		// Far too long to be a typo of an option name; avoid quadratic
		// work on hostile input.
		if a == b {
			return 0
		}
		return 1 << 20
	}
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
