package traefikacme

import (
	"context"
	"errors"
	"fmt"
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

// mergeExport merges res into resolver name of f (migrate.Merge) and words
// the outcome for the command's output.
func mergeExport(f acmejson.File, name string, res *acmejson.Resolver, rep migrate.ExportReport) exportOutcome {
	m := migrate.Merge(f, name, res)
	out := exportOutcome{
		written:       m.Written,
		updated:       m.Updated,
		unchanged:     m.Unchanged,
		keptNewer:     m.KeptNewer,
		otherResolver: m.OtherResolver,
		keptEntries:   m.KeptEntries,
		changed:       m.Changed,
	}
	switch m.Account {
	case migrate.MergeAccountUnchanged:
		out.account = "unchanged (" + rep.AccountDetail + ")"
	case migrate.MergeAccountWritten:
		out.account = fmt.Sprintf("written (%s, %s)", orDash(res.Account.Email), rep.AccountDetail)
	case migrate.MergeAccountKept:
		out.account = "the file's account kept; storage's not exported: " + rep.AccountDetail
	default:
		out.account = "none written (" + rep.AccountDetail + "); Traefik registers a new account"
	}
	return out
}
