package traefikacme

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
	"github.com/ac075510/caddy-traefik-acme/migrate"
)

// exportOutcome says what export did to the resolver's entry.
type exportOutcome struct {
	written, updated, unchanged []string // first names of the entries
	keptNewer                   []string // entries of the file that expire later
	otherResolver               []string // "names (resolver)" left to another resolver
	otherOwner                  []string // "names (resolver: why)" owned by another resolver
	unowned                     []string // "names: why" owned by no resolver
	keptEntries                 int      // entries of the file that storage does not hold
	account                     string   // what happened to the account
	changed                     bool     // whether anything was written
}

// exportFile implements `caddy traefik export`.
func (c cmdIO) exportFile(ctx context.Context, fl caddycmd.Flags) (int, error) {
	path, err := acmeJSONArg(fl, "export")
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	resolver := fl.String("resolver")
	if resolver == "" {
		return caddy.ExitCodeFailedStartup, errors.New("--resolver is required: the resolver of the acme.json to write")
	}
	domains, err := fl.GetStringSlice("domain")
	if err != nil {
		return caddy.ExitCodeFailedStartup, fmt.Errorf("reading --domain: %w", err)
	}

	cctx, cancel := caddy.NewContext(caddy.Context{Context: ctx})
	defer cancel()
	target, err := loadCommandTarget(cctx, fl.String("config"), fl.String("adapter"))
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	// The resolver's account in the file, if any, tells its CA when
	// neither --ca nor the config does.
	var fileAcct *acmejson.Account
	if existing, err := acmejson.Load(path, acmejson.LoadOptions{Resolver: resolver, ReadOnly: true}); err == nil && existing[resolver] != nil {
		fileAcct = existing[resolver].Account
	}
	rt := target.chooseTarget(resolver, fl.String("ca"), fl.String("email"), "the account Caddy would use: the most recent one for the CA", fileAcct)
	if rt.caErr != nil {
		return caddy.ExitCodeFailedStartup, fmt.Errorf("exporting to %s: %w", path, rt.caErr)
	}
	issuerKey := migrate.IssuerKeyFromCA(rt.ca)
	fmt.Fprintf(c.out, "Exporting %s (issuer %s) into resolver %q of %s\n", describeStorage(target.storage), issuerKey, resolver, path)
	fmt.Fprintf(c.out, "CA %s (%s), email %s (%s)\n", rt.ca, rt.caFrom, orDash(rt.email), rt.emailFrom)

	// What Caddy serves: its storage, and the acme.json files it reads
	// through (readthrough.go).
	served := target.readThroughStorage()
	res, rep, err := migrate.Export(ctx, served, issuerKey, migrate.ExportOptions{Names: domains, Email: rt.email})
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	for _, s := range rep.Skipped {
		fmt.Fprintf(c.out, "  skipped in storage %s: %s\n", strings.Join(s.Names, ","), s.Reason)
	}
	if len(res.Certificates) == 0 && res.Account == nil {
		what := "nothing"
		if len(domains) > 0 {
			what = "nothing for " + strings.Join(domains, ", ")
		}
		return caddy.ExitCodeFailedStartup, fmt.Errorf("exporting to %s: storage %s holds %s under issuer %s (account: %s); check --ca and --config", path, describeStorage(target.storage), what, issuerKey, rep.AccountDetail)
	}

	// Which resolver owns each certificate: the config's sites, the names
	// given with --domain, the file as it was, the config's default issuer.
	owners := migrate.Owners{}
	if target.cfgJSON != nil {
		if owners, err = configOwners(target.cfgJSON, target.resolvers); err != nil {
			return caddy.ExitCodeFailedStartup, fmt.Errorf("reading config %s: %w", target.config, err)
		}
	}
	for _, d := range acmejson.NormalizeNames(domains) {
		if owners.Explicit == nil {
			owners.Explicit = map[string]string{}
		}
		owners.Explicit[d] = resolver
	}
	recorded, err := migrate.LoadResolverAccount(ctx, served, issuerKey, resolver)
	if err != nil {
		return caddy.ExitCodeFailedStartup, fmt.Errorf("exporting to %s: %w", path, err)
	}

	var out exportOutcome
	err = acmejson.UpdateContext(ctx, path, func(f *acmejson.File) error {
		owners.File = *f
		mine := &acmejson.Resolver{Certificates: []*acmejson.Certificate{}}
		var others, unowned []string
		usedByCaddy := false
		for _, c := range res.Certificates {
			label := strings.Join(c.Names(), ",")
			switch owner, why := owners.Owner(c.Names()); {
			case owner == resolver:
				mine.Certificates = append(mine.Certificates, c)
				if res.Account != nil && res.Account.Registration != nil && rep.IssuedBy[c.Domain.Main] == res.Account.Registration.URI {
					usedByCaddy = true
				}
			case owner != "":
				others = append(others, fmt.Sprintf("%s (resolver %s: %s)", label, owner, why))
			default:
				unowned = append(unowned, fmt.Sprintf("%s: %s", label, why))
			}
		}
		// The resolver's own account: the file's, else the one recorded
		// at import; Caddy's replaces it only when it must (see
		// migrate.ExportAccount).
		own, ownFrom := (*acmejson.Account)(nil), ""
		if e := (*f)[resolver]; e != nil && e.Account != nil {
			own, ownFrom = e.Account, "the file's"
		} else if recorded != nil {
			own, ownFrom = recorded, "its own, recorded when it was imported"
		}
		write, why := migrate.ExportAccount(own, res.Account, rt.ca, usedByCaddy)
		mine.Account = own
		if write {
			mine.Account = res.Account
		}
		out = mergeExport(*f, resolver, mine, rep)
		out.otherOwner, out.unowned = others, unowned
		switch {
		case write:
			out.account = fmt.Sprintf("Caddy's written (%s, %s): %s", orDash(res.Account.Email), rep.AccountDetail, why)
		case own != nil && ownFrom == "the file's" && res.Account == nil:
			out.account = "the file's account kept; storage's not exported: " + rep.AccountDetail
		case own != nil && ownFrom == "the file's":
			out.account = "the file's kept: " + why
		case own != nil:
			out.account = fmt.Sprintf("written (%s, %s)", orDash(own.Email), ownFrom)
		}
		return nil
	}, acmejson.LoadOptions{Resolver: resolver, TightenPermissions: true, Logger: c.logger(), Operation: "export"})
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}

	fmt.Fprintf(c.out, "account: %s\n", out.account)
	for _, n := range out.written {
		fmt.Fprintf(c.out, "  written    %s\n", n)
	}
	for _, n := range out.updated {
		fmt.Fprintf(c.out, "  updated    %s\n", n)
	}
	for _, n := range out.unchanged {
		fmt.Fprintf(c.out, "  unchanged  %s\n", n)
	}
	for _, n := range out.keptNewer {
		fmt.Fprintf(c.out, "  kept       %s (the file's certificate expires later)\n", n)
	}
	for _, n := range out.otherResolver {
		fmt.Fprintf(c.out, "  skipped    %s\n", n)
	}
	for _, n := range out.otherOwner {
		fmt.Fprintf(c.out, "  another's  %s\n", n)
	}
	for _, n := range out.unowned {
		fmt.Fprintf(c.out, "  no owner   %s\n", n)
	}
	summary := fmt.Sprintf("%d written, %d updated, %d unchanged, %d kept (newer in the file), %d left to other resolvers, %d owned by no resolver; %d entries of the resolver that storage does not hold kept",
		len(out.written), len(out.updated), len(out.unchanged), len(out.keptNewer), len(out.otherResolver)+len(out.otherOwner), len(out.unowned), out.keptEntries)
	if out.changed {
		fmt.Fprintf(c.out, "Wrote resolver %q of %s: %s. Other resolvers untouched.\n", resolver, path, summary)
	} else {
		fmt.Fprintf(c.out, "Resolver %q of %s is up to date; nothing written: %s.\n", resolver, path, summary)
	}
	return caddy.ExitCodeSuccess, nil
}

// mergeExport writes the exported resolver res into resolver name of f: the
// account unless it is the same (or there is none to write), and each
// certificate in place of the entry with the same set of names, unless that
// entry expires later; a certificate the resolver already holds, for any
// names, is left as it is. A certificate none of whose names the
// resolver holds but another resolver of f does is left to that resolver.
func mergeExport(f acmejson.File, name string, res *acmejson.Resolver, rep migrate.ExportReport) exportOutcome {
	var out exportOutcome
	entry := f[name]
	if entry == nil {
		entry = &acmejson.Resolver{}
	}

	// Which resolver of the file holds each name.
	holders := map[string][]string{}
	for _, other := range f.ResolverNames() {
		if other == name || f[other] == nil {
			continue
		}
		for _, c := range f[other].Certificates {
			for _, n := range acmejson.NormalizeNames(c.Names()) {
				if !slices.Contains(holders[n], other) {
					holders[n] = append(holders[n], other)
				}
			}
		}
	}

	touched := map[int]bool{}
	for _, c := range res.Certificates {
		names := acmejson.NormalizeNames(c.Names())
		label := strings.Join(names, ",")
		if i := slices.IndexFunc(entry.Certificates, func(old *acmejson.Certificate) bool {
			return old != nil && bytes.Equal(old.Certificate, c.Certificate) && bytes.Equal(old.Key, c.Key)
		}); i >= 0 {
			// The file already holds this very certificate, perhaps for more
			// names (Caddy stores a certificate per name, and may have
			// renewed some of its names separately).
			touched[i] = true
			out.unchanged = append(out.unchanged, label)
			continue
		}
		idx := findSameNames(entry, names)
		if idx < 0 {
			ours := slices.ContainsFunc(names, func(n string) bool { return entry.Find(n) >= 0 })
			var others []string
			for _, n := range names {
				for _, h := range holders[n] {
					if !slices.Contains(others, h) {
						others = append(others, h)
					}
				}
			}
			if !ours && len(others) > 0 {
				out.otherResolver = append(out.otherResolver, fmt.Sprintf("%s (held by resolver %s of the file)", label, strings.Join(others, ", ")))
				continue
			}
			entry.Certificates = append(entry.Certificates, c)
			touched[len(entry.Certificates)-1] = true
			out.written = append(out.written, label)
			continue
		}
		touched[idx] = true
		old := entry.Certificates[idx]
		if oldP, err := old.Parse(); err == nil {
			if newP, err := c.Parse(); err == nil && oldP.Leaf.NotAfter.After(newP.Leaf.NotAfter) {
				out.keptNewer = append(out.keptNewer, label)
				continue
			}
		}
		if old.Store != "" {
			c.Store = old.Store
		}
		entry.Certificates[idx] = c
		out.updated = append(out.updated, label)
	}
	out.keptEntries = len(entry.Certificates) - len(touched)

	accountChanged := false
	switch {
	case res.Account != nil && sameAccount(entry.Account, res.Account):
		out.account = "unchanged (" + rep.AccountDetail + ")"
	case res.Account != nil:
		if entry.Account != nil && res.Account.KeyType == "" {
			res.Account.KeyType = entry.Account.KeyType
		}
		entry.Account = res.Account
		accountChanged = true
		out.account = fmt.Sprintf("written (%s, %s)", orDash(res.Account.Email), rep.AccountDetail)
	case entry.Account != nil:
		out.account = "the file's account kept; storage's not exported: " + rep.AccountDetail
	default:
		out.account = "none written (" + rep.AccountDetail + "); Traefik registers a new account"
	}

	out.changed = accountChanged || len(out.written) > 0 || len(out.updated) > 0
	if out.changed && f[name] == nil {
		if entry.Certificates == nil {
			entry.Certificates = []*acmejson.Certificate{}
		}
		f[name] = entry
	}
	return out
}

// findSameNames returns the index of the entry of r whose requested names
// (normalized) are the set names, or -1.
func findSameNames(r *acmejson.Resolver, names []string) int {
	want := slices.Clone(names)
	slices.Sort(want)
	for i, c := range r.Certificates {
		if c == nil {
			continue
		}
		have := acmejson.NormalizeNames(c.Names())
		slices.Sort(have)
		if slices.Equal(have, want) {
			return i
		}
	}
	return -1
}
