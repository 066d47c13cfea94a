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
	rt := target.chooseTarget(resolver, fl.String("ca"), fl.String("email"), "the account Caddy would use: the most recent one for the CA")
	issuerKey := migrate.IssuerKeyFromCA(rt.ca)
	fmt.Fprintf(c.out, "Exporting %s (issuer %s) into resolver %q of %s\n", describeStorage(target.storage), issuerKey, resolver, path)
	fmt.Fprintf(c.out, "CA %s (%s), email %s (%s)\n", rt.ca, rt.caFrom, orDash(rt.email), rt.emailFrom)

	res, rep, err := migrate.Export(ctx, target.storage, issuerKey, migrate.ExportOptions{Names: domains, Email: rt.email})
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

	var out exportOutcome
	err = acmejson.Update(path, func(f *acmejson.File) error {
		out = mergeExport(*f, resolver, res, rep)
		return nil
	}, acmejson.LoadOptions{Resolver: resolver, TightenPermissions: true})
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
	summary := fmt.Sprintf("%d written, %d updated, %d unchanged, %d kept (newer in the file), %d left to other resolvers; %d entries of the resolver that storage does not hold kept",
		len(out.written), len(out.updated), len(out.unchanged), len(out.keptNewer), len(out.otherResolver), out.keptEntries)
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
