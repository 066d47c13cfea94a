package traefikacme

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "traefik",
		Usage: "inspect|import|export <acme.json> [flags] | adapt | dns-providers [<code>]",
		Short: "Migrates certificates between Traefik's acme.json and Caddy's storage",
		Long: `
Offline migration between Traefik's acme.json and Caddy's storage. Nothing is
requested from the CA: certificates and ACME accounts are copied, so nothing
is re-issued (no Let's Encrypt rate limits are spent) and rollback to Traefik
stays possible.

  caddy traefik inspect acme.json
      Shows what the file holds: per resolver the ACME account (email, CA,
      key type) and every certificate (names, issuer, expiry, key type), with
      the problems that would stop a migration. Add --json for a
      machine-readable document.

  caddy traefik import acme.json [--resolver <name>]... [--ca <url>] [--config <file>]
      Copies the accounts and certificates of the file into the storage Caddy
      uses (the config's "storage", else Caddy's default storage), where
      Caddy's ACME issuer for the same CA finds and renews them.

  caddy traefik export acme.json --resolver <name> [--ca <url>] [--config <file>]
      Writes what Caddy's storage holds for a CA back into one resolver of an
      acme.json (created if missing), for rolling back to Traefik. Other
      resolvers of the file are left untouched.

  caddy traefik adapt [--config <traefik.yml>] [--compose <file>] [--dynamic <file>]
      Prints Caddyfile site blocks for Traefik's HTTP routers, with a comment
      on every router option it does not translate. Writes nothing.

The traefik_acme app also imports each resolver's acme.json (its "storage")
when Caddy starts; these commands do the same work ahead of time, on a copy,
or without the app.

Stop Traefik before import and export: Traefik rewrites acme.json without
locking it.

  caddy traefik dns-providers [<code>] [--json]
      Lists every dnsChallenge.provider code, who serves it in this Caddy
      (libdns, native, lego, not in this build) and its environment
      variables, marking those that are set (values are never shown).

Run 'caddy traefik <command> --help' for the flags of each command.`,
		CobraFunc: func(cmd *cobra.Command) {
			addTraefikCommands(cmd, stdCmdIO())
		},
	})
}

// cmdIO is where the traefik commands write and which clock they use; tests
// replace it.
type cmdIO struct {
	out      io.Writer        // results
	progress io.Writer        // progress lines; nil when stderr is not a terminal
	now      func() time.Time // the clock expiry is judged by
	warn     io.Writer        // warnings from reading and writing acme.json; nil discards them
}

// logger returns the logger that the acme.json functions report warnings
// to (a torn file read from its in-place copy, an in-place rewrite of a
// bind-mounted file, a wait for the file's lock): one line each on c.warn.
func (c cmdIO) logger() *slog.Logger {
	if c.warn == nil {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(c.warn, &slog.HandlerOptions{
		Level: slog.LevelWarn,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
}

// stdCmdIO writes results to stdout and progress to stderr when stderr is a
// terminal.
func stdCmdIO() cmdIO {
	c := cmdIO{out: os.Stdout, now: time.Now, warn: os.Stderr}
	if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		c.progress = os.Stderr
	}
	return c
}

// traefikCmdFunc is a traefik subcommand: it runs with the parsed flags and
// returns the exit code.
type traefikCmdFunc func(ctx context.Context, fl caddycmd.Flags) (int, error)

// addTraefikCommands adds the inspect, import, export, adapt and
// dns-providers subcommands to parent (the "traefik" command).
func addTraefikCommands(parent *cobra.Command, c cmdIO) {
	parent.Args = cobra.ArbitraryArgs
	parent.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return cmd.Help()
		}
		return fmt.Errorf("unknown command %q for %q: use inspect, import, export, adapt or dns-providers", args[0], cmd.CommandPath())
	}

	inspect := &cobra.Command{
		Use:   "inspect <acme.json> [--json] [--now <RFC3339 time>]",
		Short: "Shows the accounts and certificates an acme.json holds, and their problems",
		Long: `
Reads a Traefik acme.json (v2/v3 layout, or the v1 layout, which is read as
resolver "default") and prints, per resolver:

  - the ACME account: email, CA host (from the registration URI), key type
    and status, with problems such as a key that is not RSA (Traefik reads
    RSA account keys only) or that does not decode;
  - a table of the certificates: requested names, issuer, not-after date,
    days left, key type and problems (key does not match the certificate,
    expired, undecodable, empty entry, a requested name the certificate
    does not cover).

Nothing is written and no key material is printed. The exit code is 0 when
the file could be read, whatever problems it holds; it is 1, with the path
and the byte offset of the error, when it cannot be read.

--json prints a document instead:
  {"path", "format": "v2"|"v1"|"empty", "checked_at", "warnings": [...],
   "resolvers": [{"name", "account": null | {"email", "ca_host",
     "registration_uri", "status", "key_type", "problems": [...]},
     "certificates": [{"index", "names", "store", "issuer", "serial",
       "not_before", "not_after", "days_left", "key_type",
       "problems": [...]}]}],
   "problem_count"}
Resolvers are sorted by name, certificates are in file order, times are
RFC 3339 in UTC, and fields that cannot be known (an undecodable
certificate's dates) are null.

--now judges expiry at another time than the current one.

Example:
  $ caddy traefik inspect /etc/traefik/acme.json`,
		Args: cobra.ArbitraryArgs,
		RunE: c.cobraRun(c.inspect),
	}
	inspect.Flags().Bool("json", false, "Print a machine-readable JSON document")
	inspect.Flags().String("now", "", "Judge expiry at this time (RFC 3339) instead of now")
	parent.AddCommand(inspect)

	imp := &cobra.Command{
		Use:   "import <acme.json> [--resolver <name>]... [--ca <url>] [--email <email>] [--config <path> [--adapter <name>]]",
		Short: "Imports the accounts and certificates of an acme.json into Caddy's storage",
		Long: `
Copies each resolver of a Traefik acme.json (or only those named with
--resolver) into the storage Caddy uses, in the layout Caddy's ACME issuer
reads: every certificate under each of its names, and the ACME account, so
that Caddy serves and later renews the certificates with the same account
and re-issues nothing. This is what the traefik_acme app does at start for
resolvers whose "storage" is the file.

Storage: the top-level "storage" of the config given with --config (a
Caddyfile or JSON, adapted as 'caddy run' does), else Caddy's default
storage. Run the command as the user Caddy runs as.

CA (it decides the issuer key certificates are stored under, so it must be
the CA Caddy will use): --ca, else the ca_server of the resolver of the same
name in the config's traefik_acme app, else the CA the resolver's account is
registered with (its registration URI: Let's Encrypt production or staging,
ZeroSSL, Buypass, Google). When the CA cannot be told (a private CA, no
account), the resolver fails and --ca is asked for: certificates are never
filed under a guessed CA. A resolver whose account the file places at
another CA than the config's ca_server fails too (its certificates are that
other CA's; --ca imports them under it).

A Traefik v1 file (a single object) is imported as the resolver given with
--resolver, else as the config's resolver whose storage it is, else as
"default" (the output says so).
Email (the account is stored under it): --email, else the resolver's email
in the config, else the email of the file's account.

A certificate is never replaced by one that expires earlier, an account
already stored for the same CA and email is kept, and the import is
idempotent: running it again reports the names as unchanged.

Prints one summary line per resolver, then "Done: N resolvers imported"
(or "nothing changed" when storage already held everything); the exit
code is 1 if any resolver failed.

Example:
  $ caddy traefik import /etc/traefik/acme.json --config /etc/caddy/Caddyfile`,
		Args: cobra.ArbitraryArgs,
		RunE: c.cobraRun(c.importFile),
	}
	imp.Flags().StringSliceP("resolver", "r", nil, "Import only this resolver (repeatable; default: every resolver of the file)")
	addTargetFlags(imp.Flags())
	parent.AddCommand(imp)

	exp := &cobra.Command{
		Use:   "export <acme.json> --resolver <name> [--domain <name>]... [--ca <url>] [--email <email>] [--config <path> [--adapter <name>]]",
		Short: "Writes Caddy's certificates and account into one resolver of an acme.json",
		Long: `
Reads what Caddy's storage holds for a CA (the certificates stored under the
CA's issuer key, and the ACME account) and writes it into resolver
--resolver of a Traefik acme.json, for rolling back to Traefik. The file is
created if it does not exist; otherwise only that resolver's entry changes,
and other resolvers are kept byte for byte. The file is written atomically,
under a lock, with mode 0600.

Storage, CA and email are chosen as for import (--config, --ca, --email;
the CA may also come from the resolver's account in the file).
Without --email the account is the one Caddy itself would use (the most
recently used account for the CA).

Storage holds the certificates of every resolver of a CA together; each is
written only into the resolver that owns it: the resolver whose sites use
its names in the --config (tls { issuer traefik <resolver> }), else the
names given with --domain (for --resolver), else the resolver of the file
that held its names, else the config's default issuer (cert_issuer). A
wildcard only goes to a resolver that uses the DNS-01 challenge. A
certificate no resolver owns is listed ("no owner") and not written: give
--config, or --domain.

Within the resolver, a certificate replaces the entry with the same set of
names unless that entry expires later; entries Caddy does not hold are kept.
Certificates whose names another resolver of the file holds (and not this
one) are left to that resolver; --domain restricts the export to
certificates covering the given names.

The account: the resolver keeps its own (the file's, or the one recorded
when it was imported, for a new or emptied file). Caddy keeps one account
per CA and email, often another resolver's, so Caddy's replaces it only
when the resolver's own cannot serve (none, never registered, another CA)
or when Caddy obtained the resolver's certificates with an account of
another email. An account key that Traefik cannot read (an EC key, as
Caddy's acme issuer creates; Traefik reads RSA account
keys only) is not written; the resolver keeps its account, or Traefik
registers a new one.

Prints every certificate written and everything skipped.

Example:
  $ caddy traefik export /etc/traefik/acme.json --resolver le --config /etc/caddy/Caddyfile`,
		Args: cobra.ArbitraryArgs,
		RunE: c.cobraRun(c.exportFile),
	}
	exp.Flags().StringP("resolver", "r", "", "Resolver of the acme.json to write (required)")
	exp.Flags().StringSliceP("domain", "d", nil, "Export only certificates covering this name (repeatable)")
	addTargetFlags(exp.Flags())
	parent.AddCommand(exp)
	addAdaptCommand(parent, c)
	addDNSProvidersCommand(parent, c)
}

// addTargetFlags adds the flags choosing the storage, CA and email.
func addTargetFlags(flags *pflag.FlagSet) {
	flags.String("ca", "", "ACME directory URL of the CA (default: the resolver's ca_server in --config, else the CA of the resolver's account in the file)")
	flags.String("email", "", "Email the ACME account is stored under (default: the resolver's email in --config, else the account's)")
	flags.StringP("config", "c", "", "Caddy config (Caddyfile or JSON) whose storage and traefik_acme resolvers to use")
	flags.StringP("adapter", "a", "", "Name of the config adapter to apply (with --config)")
}

// cobraRun adapts fn to cobra, with a context canceled on interrupt so that
// storage locks are released.
func (c cmdIO) cobraRun(fn traefikCmdFunc) func(*cobra.Command, []string) error {
	return caddycmd.WrapCommandFuncForCobra(func(fl caddycmd.Flags) (int, error) {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		return fn(ctx, fl)
	})
}

// acmeJSONArg returns the single positional argument, the acme.json path.
func acmeJSONArg(fl caddycmd.Flags, command string) (string, error) {
	switch args := fl.Args(); {
	case len(args) == 0:
		return "", fmt.Errorf("missing the acme.json path: caddy traefik %s <acme.json>", command)
	case len(args) > 1:
		return "", fmt.Errorf("expected one acme.json path, got %d arguments: %s", len(args), strings.Join(args, " "))
	default:
		return args[0], nil
	}
}

// loadExisting reads the acme.json at path for inspect and import: it must
// exist. It is read only (no v1 backup, no permission change).
func loadExisting(path, v1Resolver string, log *slog.Logger) (acmejson.File, acmejson.LoadInfo, error) {
	f, info, err := acmejson.LoadDetailed(path, acmejson.LoadOptions{Resolver: v1Resolver, ReadOnly: true, Logger: log})
	if err != nil {
		return nil, info, err
	}
	if !info.Exists {
		return nil, info, fmt.Errorf("reading acme.json %s: %w", path, fs.ErrNotExist)
	}
	return f, info, nil
}
