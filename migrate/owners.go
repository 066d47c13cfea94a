package migrate

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
)

// Owners decides which resolver of an acme.json each exported certificate
// belongs to, so that an export never files a certificate under a resolver
// that would not renew it (Traefik renews every certificate of a resolver
// with that resolver's challenge).
type Owners struct {
	// Sites maps a resolver name to the names the sites of the Caddy config
	// obtain through it (the subjects of the automation policies whose
	// issuer is that resolver).
	// Default: nil (no config).
	Sites map[string][]string

	// CatchAll is the resolver of a config policy without subjects (the
	// global cert_issuer): it owns the names no other resolver's sites use
	// and no resolver of the file held.
	// Default: "" (none).
	CatchAll string

	// DNS01 tells, for each resolver of the config, whether it solves
	// DNS-01 challenges: only such a resolver can renew a wildcard. A
	// resolver missing from the map is of unknown challenge.
	// Default: nil (no config).
	DNS01 map[string]bool

	// Explicit maps names to the resolver the user assigned them to (the
	// names given with the export's --domain, for its --resolver). It is
	// consulted after the config's sites and before the file.
	// Default: nil.
	Explicit map[string]string

	// File is the acme.json as it was before the export: a certificate
	// that no site of the config uses stays with the resolver that held
	// one of its names.
	// Default: nil (a new or emptied file).
	File acmejson.File
}

// Owner returns the resolver that owns a certificate for names, and how
// that was decided ("sites of the config", "held in the file", …). When no
// resolver owns it, or several do, or the owner cannot renew it (a
// wildcard for a resolver that does not solve DNS-01), resolver is "" and
// why says so: such a certificate is reported, never guessed.
func (o Owners) Owner(names []string) (resolver, why string) {
	names = acmejson.NormalizeNames(names)
	owner, why := o.owner(names)
	if owner == "" {
		return "", why
	}
	if slices.ContainsFunc(names, isWildcard) {
		dns, known := o.DNS01[owner]
		switch {
		case known && !dns:
			return "", fmt.Sprintf("a wildcard, and resolver %q (%s) does not use the DNS-01 challenge, the only one that can renew a wildcard", owner, why)
		case !known && why != whyFile:
			return "", fmt.Sprintf("a wildcard, and it cannot be told whether resolver %q uses the DNS-01 challenge, the only one that can renew a wildcard (give the config with --config)", owner)
		}
	}
	return owner, why
}

const (
	whyFile     = "held by it in the file"
	whySites    = "its sites use the name in the config"
	whyCatchAll = "the config's default issuer"
	whyExplicit = "given with --domain"
)

func (o Owners) owner(names []string) (string, string) {
	// 1. The sites of the config.
	var bySite []string
	for _, r := range sortedMapKeys(o.Sites) {
		if slices.ContainsFunc(acmejson.NormalizeNames(o.Sites[r]), func(s string) bool { return slices.Contains(names, s) }) {
			bySite = append(bySite, r)
		}
	}
	switch len(bySite) {
	case 1:
		return bySite[0], whySites
	case 0:
	default:
		return "", fmt.Sprintf("the config's sites use its names with several resolvers (%s)", strings.Join(bySite, ", "))
	}
	// 2. The names the user assigned.
	var explicit []string
	for _, n := range names {
		if r := o.Explicit[n]; r != "" && !slices.Contains(explicit, r) {
			explicit = append(explicit, r)
		}
	}
	switch len(explicit) {
	case 1:
		return explicit[0], whyExplicit
	case 0:
	default:
		slices.Sort(explicit)
		return "", fmt.Sprintf("its names were given for several resolvers (%s)", strings.Join(explicit, ", "))
	}
	// 3. The resolver that held it in the file.
	var held []string
	for _, r := range o.File.ResolverNames() {
		if res := o.File[r]; res != nil && slices.ContainsFunc(names, func(n string) bool { return res.Find(n) >= 0 }) {
			held = append(held, r)
		}
	}
	switch len(held) {
	case 1:
		return held[0], whyFile
	case 0:
		// 4. The config's default issuer.
		if o.CatchAll != "" {
			return o.CatchAll, whyCatchAll
		}
		if o.Sites == nil {
			return "", "no resolver is known to own it: give the Caddy config with --config (its sites tell), or assign names with --domain"
		}
		return "", "no resolver owns it: no site of the config uses its names and no resolver of the file held them"
	default:
		return "", fmt.Sprintf("several resolvers of the file held its names (%s)", strings.Join(held, ", "))
	}
}

func isWildcard(name string) bool { return strings.HasPrefix(name, "*.") }

func sortedMapKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// ExportAccount decides which account an export writes for a resolver:
// the file's own account (fileAcct, possibly nil) or the account Caddy
// holds for the resolver's CA and email (caddyAcct, possibly nil). ca is
// the resolver's ACME directory URL; usedByCaddy reports whether Caddy
// obtained one of the certificates exported into the resolver with
// caddyAcct (the certificate metadata's issuer_data.account).
//
// Several Traefik resolvers often have their own accounts under one email
// at one CA, while Caddy keeps one account per CA and email: that account
// is not the resolver's, so the resolver keeps its own. Caddy's account
// replaces the file's only when the file's account cannot serve the
// resolver (there is none, it was never registered, it belongs to another
// CA host, or its key does not decode), or when Caddy really used another
// account for this resolver: an account with another email that obtained
// some of its certificates.
func ExportAccount(fileAcct, caddyAcct *acmejson.Account, ca string, usedByCaddy bool) (write bool, why string) {
	switch {
	case caddyAcct == nil:
		return false, "Caddy holds no account to export"
	case fileAcct == nil:
		return true, "the resolver had no account"
	case sameAccountKey(fileAcct, caddyAcct):
		return false, "the resolver already holds Caddy's account"
	}
	if reason := unusableAccount(fileAcct, ca); reason != "" {
		return true, "the resolver's account " + reason
	}
	if usedByCaddy && !strings.EqualFold(fileAcct.Email, caddyAcct.Email) {
		return true, fmt.Sprintf("Caddy obtained its certificates with another account (email %s instead of %s)", orNone(caddyAcct.Email), orNone(fileAcct.Email))
	}
	return false, "the resolver keeps its own account (Caddy's account for this CA and email is not this resolver's)"
}

// unusableAccount says why a cannot be used with the CA at ca, or "".
func unusableAccount(a *acmejson.Account, ca string) string {
	if a.Registration == nil || a.Registration.URI == "" {
		return "was never registered"
	}
	if _, err := a.Key(); err != nil {
		return "has a key Traefik cannot read"
	}
	reg, err := url.Parse(acmejson.UpgradeACMEv1URL(a.Registration.URI))
	if err != nil {
		return "has a registration uri that does not parse"
	}
	if ca != "" {
		// Traefik compares host names only; the port is compared too, as
		// Import does, so that two CAs on one host are told apart.
		caURL, err := url.Parse(ca)
		if err == nil && !strings.EqualFold(hostPort(reg), hostPort(caURL)) {
			return fmt.Sprintf("belongs to another CA (%s, not %s)", reg.Host, caURL.Host)
		}
	}
	return ""
}

func sameAccountKey(a, b *acmejson.Account) bool {
	if a.Registration == nil || b.Registration == nil {
		return false
	}
	return a.Registration.URI == b.Registration.URI && string(a.PrivateKey) == string(b.PrivateKey)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
