package traefikacme

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
	"github.com/ac075510/caddy-traefik-acme/migrate"
)

// importFile implements `caddy traefik import`.
func (c cmdIO) importFile(ctx context.Context, fl caddycmd.Flags) (int, error) {
	path, err := acmeJSONArg(fl, "import")
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	only, err := fl.GetStringSlice("resolver")
	if err != nil {
		return caddy.ExitCodeFailedStartup, fmt.Errorf("reading --resolver: %w", err)
	}
	cctx, cancel := caddy.NewContext(caddy.Context{Context: ctx})
	defer cancel()
	target, err := loadCommandTarget(cctx, fl.String("config"), fl.String("adapter"))
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}

	// A Traefik v1 file's content belongs to the resolver that uses the
	// file: --resolver, else the config's resolver whose storage it is.
	v1Resolver, v1From := acmejson.DefaultV1Resolver, ""
	switch owners := storageOwners(path, target.storageResolvers()); {
	case len(only) == 1:
		v1Resolver, v1From = only[0], "--resolver"
	case len(owners) == 1:
		v1Resolver, v1From = owners[0], fmt.Sprintf("the resolver of %s whose storage it is", target.config)
	}
	f, info, err := loadExisting(path, v1Resolver, c.logger())
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	names, err := selectResolvers(path, f, only)
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}

	fmt.Fprintf(c.out, "Importing %s (%s) into %s\n", path, plural(len(names), "resolver"), describeStorage(target.storage))
	if info.Format == acmejson.FormatV1 {
		if v1From == "" {
			fmt.Fprintf(c.out, "Traefik v1 file: imported as resolver %q, since no resolver is known to use it; use --resolver <name> (or --config with the resolver whose storage it is) to import it as that resolver\n", v1Resolver)
		} else {
			fmt.Fprintf(c.out, "Traefik v1 file: imported as resolver %q (%s)\n", v1Resolver, v1From)
		}
	}
	var failed []string
	changed := 0
	for _, name := range names {
		entry := f[name]
		var acct *acmejson.Account
		if entry != nil {
			acct = entry.Account
		}
		rt := target.chooseTarget(name, fl.String("ca"), fl.String("email"), "the account's, from the file", acct)
		if rt.caErr != nil {
			failed = append(failed, name)
			fmt.Fprintf(c.out, "%s: FAILED: %s\n", printable(name), printable(rt.caErr.Error()))
			continue
		}
		if why := rt.otherCA(acct); why != "" {
			failed = append(failed, name)
			fmt.Fprintf(c.out, "%s: FAILED: %s\n", printable(name), printable(why))
			continue
		}
		email := rt.email
		if email == "" && entry != nil && entry.Account != nil {
			email = entry.Account.Email
		}
		fmt.Fprintf(c.out, "%s: CA %s (%s), email %s (%s)\n", printable(name), rt.ca, rt.caFrom, printable(orDash(email)), rt.emailFrom)
		if c.progress != nil {
			n := 0
			if entry != nil {
				n = len(entry.Certificates)
			}
			fmt.Fprintf(c.progress, "%s: importing %d certificate entries…\n", printable(name), n)
		}
		rep, err := migrate.Import(ctx, target.storage, entry, migrate.ImportOptions{
			IssuerKey: migrate.IssuerKeyFromCA(rt.ca),
			CA:        rt.ca,
			Email:     rt.email,
			Resolver:  name,
			Now:       c.now,
		})
		if err != nil {
			failed = append(failed, name)
			fmt.Fprintf(c.out, "%s: FAILED: %s\n", printable(name), printable(err.Error()))
			if ctx.Err() != nil {
				break
			}
			continue
		}
		if rep.Changed() {
			changed++
		}
		fmt.Fprintf(c.out, "%s: %s\n", printable(name), printable(rep.String()))
		for _, s := range rep.SkippedInvalid {
			fmt.Fprintf(c.out, "  not imported %s: %s\n", printable(strings.Join(s.Names, ",")), printable(s.Reason))
		}
		if len(rep.SkippedNewer) > 0 {
			fmt.Fprintf(c.out, "  kept (storage or another entry expires no earlier): %s\n", printable(strings.Join(rep.SkippedNewer, ",")))
		}
		if len(rep.Expired) > 0 {
			fmt.Fprintf(c.out, "  imported although expired (Caddy renews them): %s\n", printable(strings.Join(rep.Expired, ",")))
		}
	}
	if len(failed) > 0 {
		return caddy.ExitCodeFailedStartup, fmt.Errorf("importing %s: %d of %d resolvers failed: %s", path, len(failed), len(names), strings.Join(failed, ", "))
	}
	switch {
	case changed == 0:
		fmt.Fprintf(c.out, "Done: nothing changed (%s already in storage); nothing was requested from the CA.\n", plural(len(names), "resolver"))
	case changed < len(names):
		fmt.Fprintf(c.out, "Done: %s imported, %d unchanged; nothing was requested from the CA.\n", plural(changed, "resolver"), len(names)-changed)
	default:
		fmt.Fprintf(c.out, "Done: %s imported; nothing was requested from the CA.\n", plural(changed, "resolver"))
	}
	return caddy.ExitCodeSuccess, nil
}

// selectResolvers returns the resolvers of f to work on: only (checked to
// exist in f), or all of them, sorted.
func selectResolvers(path string, f acmejson.File, only []string) ([]string, error) {
	all := f.ResolverNames()
	if len(all) == 0 {
		return nil, fmt.Errorf("acme.json %s holds no resolvers", path)
	}
	if len(only) == 0 {
		return all, nil
	}
	var missing, names []string
	for _, n := range only {
		if _, ok := f[n]; !ok {
			missing = append(missing, fmt.Sprintf("%q", n))
		} else if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("resolver %s not in acme.json %s; its resolvers: %s", strings.Join(missing, ", "), path, strings.Join(all, ", "))
	}
	slices.Sort(names)
	return names, nil
}
