package traefikacme

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/caddyserver/certmagic"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.uber.org/zap"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
	"github.com/ac075510/caddy-traefik-acme/compat/config"
	"github.com/ac075510/caddy-traefik-acme/migrate"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "traefik",
		Usage: "inspect|import|export <acme.json> [flags]",
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

The traefik_acme app also imports each resolver's acme.json (its "storage")
when Caddy starts; these commands do the same work ahead of time, on a copy,
or without the app.

Stop Traefik before import and export: Traefik rewrites acme.json without
locking it.

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
}

// stdCmdIO writes results to stdout and progress to stderr when stderr is a
// terminal.
func stdCmdIO() cmdIO {
	c := cmdIO{out: os.Stdout, now: time.Now}
	if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		c.progress = os.Stderr
	}
	return c
}

// traefikCmdFunc is a traefik subcommand: it runs with the parsed flags and
// returns the exit code.
type traefikCmdFunc func(ctx context.Context, fl caddycmd.Flags) (int, error)

// addTraefikCommands adds the inspect, import and export subcommands to
// parent (the "traefik" command).
func addTraefikCommands(parent *cobra.Command, c cmdIO) {
	parent.Args = cobra.ArbitraryArgs
	parent.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return cmd.Help()
		}
		return fmt.Errorf("unknown command %q for %q: use inspect, import or export", args[0], cmd.CommandPath())
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
name in the config's traefik_acme app, else Let's Encrypt production.
Email (the account is stored under it): --email, else the resolver's email
in the config, else the email of the file's account.

A certificate is never replaced by one that expires earlier, an account
already stored for the same CA and email is kept, and the import is
idempotent: running it again reports the names as unchanged.

Prints one summary line per resolver; the exit code is 1 if any resolver
failed.

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

Storage, CA and email are chosen as for import (--config, --ca, --email).
Without --email the account is the one Caddy itself would use (the most
recently used account for the CA).

Within the resolver, a certificate replaces the entry with the same set of
names unless that entry expires later; entries Caddy does not hold are kept.
Certificates whose names belong to another resolver of the file (and not to
this one) are left to that resolver; --domain restricts the export to
certificates covering the given names. An account key that Traefik cannot
read (an EC key, as Caddy's acme issuer creates; Traefik reads RSA account
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
}

// addTargetFlags adds the flags choosing the storage, CA and email.
func addTargetFlags(flags *pflag.FlagSet) {
	flags.String("ca", "", "ACME directory URL of the CA (default: the resolver's ca_server in --config, else Let's Encrypt production)")
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
func loadExisting(path, v1Resolver string) (acmejson.File, acmejson.LoadInfo, error) {
	f, info, err := acmejson.LoadDetailed(path, acmejson.LoadOptions{Resolver: v1Resolver, ReadOnly: true})
	if err != nil {
		return nil, info, err
	}
	if !info.Exists {
		return nil, info, fmt.Errorf("reading acme.json %s: %w", path, fs.ErrNotExist)
	}
	return f, info, nil
}

// ---------------------------------------------------------------------------
// inspect

// inspectReport is the document `caddy traefik inspect --json` prints. Field
// names and meanings are stable.
type inspectReport struct {
	Path         string            `json:"path"`          // as given
	Format       string            `json:"format"`        // "v2", "v1" or "empty"
	CheckedAt    time.Time         `json:"checked_at"`    // the time expiry is judged at
	Warnings     []string          `json:"warnings"`      // about the file as a whole
	Resolvers    []inspectResolver `json:"resolvers"`     // sorted by name
	ProblemCount int               `json:"problem_count"` // account and certificate problems
}

// inspectResolver is one resolver of an inspected file.
type inspectResolver struct {
	Name         string               `json:"name"`
	Account      *inspectAccount      `json:"account"`      // nil: no account yet
	Certificates []inspectCertificate `json:"certificates"` // in file order
}

// inspectAccount describes an ACME account without its key.
type inspectAccount struct {
	Email           string   `json:"email"`
	CAHost          string   `json:"ca_host"` // host[:port] of the registration URI
	RegistrationURI string   `json:"registration_uri"`
	Status          string   `json:"status"`   // from the registration body
	KeyType         string   `json:"key_type"` // RSA4096, EC256, …; "" if undecodable
	Problems        []string `json:"problems"`
}

// inspectCertificate describes a certificate entry without its key.
type inspectCertificate struct {
	Index     int        `json:"index"`
	Names     []string   `json:"names"` // requested: domain.main, then domain.sans
	Store     string     `json:"store"`
	Issuer    string     `json:"issuer"` // issuer common name of the leaf
	Serial    string     `json:"serial"` // hexadecimal
	NotBefore *time.Time `json:"not_before"`
	NotAfter  *time.Time `json:"not_after"`
	DaysLeft  *int       `json:"days_left"` // whole days until not_after; negative once expired
	KeyType   string     `json:"key_type"`  // of the leaf's public key
	Problems  []string   `json:"problems"`
}

// inspect implements `caddy traefik inspect`.
func (c cmdIO) inspect(_ context.Context, fl caddycmd.Flags) (int, error) {
	path, err := acmeJSONArg(fl, "inspect")
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	now := c.now()
	if s := fl.String("now"); s != "" {
		now, err = time.Parse(time.RFC3339, s)
		if err != nil {
			return caddy.ExitCodeFailedStartup, fmt.Errorf("parsing --now: %w", err)
		}
	}
	f, info, err := loadExisting(path, "")
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	rep := buildInspectReport(path, f, info, now)
	if fl.Bool("json") {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return caddy.ExitCodeFailedStartup, fmt.Errorf("encoding report: %w", err)
		}
		b = append(b, '\n')
		if _, err := c.out.Write(b); err != nil {
			return caddy.ExitCodeFailedStartup, fmt.Errorf("writing report: %w", err)
		}
		return caddy.ExitCodeSuccess, nil
	}
	if err := writeInspectText(c.out, rep); err != nil {
		return caddy.ExitCodeFailedStartup, fmt.Errorf("writing report: %w", err)
	}
	return caddy.ExitCodeSuccess, nil
}

// buildInspectReport describes f. Problems come from [acmejson.File.Problems].
func buildInspectReport(path string, f acmejson.File, info acmejson.LoadInfo, now time.Time) inspectReport {
	now = now.UTC().Truncate(time.Second)
	rep := inspectReport{
		Path:      path,
		Format:    info.Format.String(),
		CheckedAt: now,
		Warnings:  []string{},
		Resolvers: []inspectResolver{},
	}
	if info.Mode&0o077 != 0 {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("mode %04o: traefik refuses an acme.json that group or others can access (chmod 600 %s)", info.Mode, path))
	}
	switch info.Format {
	case acmejson.FormatV1:
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("traefik v1 layout: read as resolver %q; import converts it the same way", acmejson.DefaultV1Resolver))
	case acmejson.FormatEmpty:
		rep.Warnings = append(rep.Warnings, "the file holds no resolvers")
	}

	type key struct {
		resolver string
		index    int
	}
	problems := map[key][]string{}
	for _, p := range f.Problems(now) {
		k := key{p.Resolver, p.Index}
		problems[k] = append(problems[k], p.Reason)
	}
	nonNil := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}

	for _, name := range f.ResolverNames() {
		r := f[name]
		ir := inspectResolver{Name: name, Certificates: []inspectCertificate{}}
		if r != nil && r.Account != nil {
			ir.Account = inspectAccountOf(r.Account, problems[key{name, -1}])
			rep.ProblemCount += len(ir.Account.Problems)
		}
		if r != nil {
			for i, cert := range r.Certificates {
				ic := inspectCertificateOf(i, cert, now)
				ic.Problems = nonNil(problems[key{name, i}])
				rep.ProblemCount += len(ic.Problems)
				ir.Certificates = append(ir.Certificates, ic)
			}
		}
		rep.Resolvers = append(rep.Resolvers, ir)
	}
	return rep
}

// inspectAccountOf describes a; problems are those File.Problems found.
func inspectAccountOf(a *acmejson.Account, problems []string) *inspectAccount {
	ia := &inspectAccount{Email: a.Email, Problems: append([]string{}, problems...)}
	if key, err := a.Key(); err == nil {
		ia.KeyType = acmejson.KeyTypeName(key)
	} else {
		ia.KeyType = otherAccountKeyType(a.PrivateKey)
	}
	if reg := a.Registration; reg != nil {
		ia.RegistrationURI = reg.URI
		if u, err := url.Parse(reg.URI); err == nil {
			ia.CAHost = u.Host
		}
		var body struct {
			Status string `json:"status"`
		}
		if len(reg.Body) > 0 && json.Unmarshal(reg.Body, &body) == nil {
			ia.Status = body.Status
		}
	}
	switch {
	case ia.RegistrationURI == "":
		ia.Problems = append(ia.Problems, "account has no registration uri: it cannot be reused and a new account will be registered")
	case ia.Status != "" && ia.Status != "valid":
		ia.Problems = append(ia.Problems, fmt.Sprintf("account status is %q: it cannot be reused", ia.Status))
	}
	return ia
}

// otherAccountKeyType names an account key Traefik cannot read (EC, say),
// or returns "" when the key does not decode at all.
func otherAccountKeyType(der []byte) string {
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return acmejson.KeyTypeName(k)
	}
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return acmejson.KeyTypeName(k)
	}
	return ""
}

// inspectCertificateOf describes entry i. When the entry does not decode as
// a whole (a mismatched key, say), the leaf alone is still described.
func inspectCertificateOf(i int, c *acmejson.Certificate, now time.Time) inspectCertificate {
	ic := inspectCertificate{Index: i, Names: []string{}}
	if c == nil {
		return ic
	}
	ic.Names = append(ic.Names, c.Names()...)
	ic.Store = c.Store
	var leaf *acmejson.LeafInfo
	if p, err := c.Parse(); err == nil {
		leaf = &p.Leaf
	} else if chain, err := acmejson.ParseCertificatePEM(c.Certificate); err == nil {
		li := acmejson.InspectLeaf(chain[0])
		leaf = &li
	}
	if leaf == nil {
		return ic
	}
	nb, na := leaf.NotBefore.UTC(), leaf.NotAfter.UTC()
	days := int(math.Floor(na.Sub(now).Hours() / 24))
	ic.Issuer, ic.Serial, ic.KeyType = leaf.Issuer, leaf.Serial, leaf.KeyType
	ic.NotBefore, ic.NotAfter, ic.DaysLeft = &nb, &na, &days
	return ic
}

// writeInspectText prints rep for people.
func writeInspectText(w io.Writer, rep inspectReport) error {
	var b bytes.Buffer
	certs := 0
	for _, r := range rep.Resolvers {
		certs += len(r.Certificates)
	}
	fmt.Fprintf(&b, "acme.json:  %s\n", rep.Path)
	fmt.Fprintf(&b, "layout:     %s, %s, %s\n", rep.Format, plural(len(rep.Resolvers), "resolver"), plural(certs, "certificate"))
	fmt.Fprintf(&b, "checked at: %s\n", rep.CheckedAt.Format(time.RFC3339))
	for _, warn := range rep.Warnings {
		fmt.Fprintf(&b, "warning:    %s\n", warn)
	}
	for _, r := range rep.Resolvers {
		fmt.Fprintf(&b, "\nresolver %s\n", r.Name)
		if a := r.Account; a == nil {
			b.WriteString("  account: none (Traefik registers one when it first needs it)\n")
		} else {
			fmt.Fprintf(&b, "  account: %s, CA %s, key %s, status %s\n",
				orDash(a.Email), orDash(a.CAHost), orDash(a.KeyType), orDash(a.Status))
			for _, p := range a.Problems {
				fmt.Fprintf(&b, "  account problem: %s\n", p)
			}
		}
		if len(r.Certificates) == 0 {
			b.WriteString("  no certificates\n")
			continue
		}
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  NAMES\tISSUER\tNOT AFTER\tDAYS LEFT\tKEY\tPROBLEMS")
		for _, c := range r.Certificates {
			notAfter, days := "-", "-"
			if c.NotAfter != nil {
				notAfter = c.NotAfter.Format(time.RFC3339)
				days = fmt.Sprint(*c.DaysLeft)
			}
			names := "(none)"
			if len(c.Names) > 0 {
				names = strings.Join(c.Names, ",")
			}
			problems := "-"
			if len(c.Problems) > 0 {
				problems = strings.Join(c.Problems, "; ")
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", names, orDash(c.Issuer), notAfter, days, orDash(c.KeyType), problems)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintf(&b, "\n%s, %s, %s\n", plural(len(rep.Resolvers), "resolver"), plural(certs, "certificate"), plural(rep.ProblemCount, "problem"))
	_, err := w.Write(b.Bytes())
	return err
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// ---------------------------------------------------------------------------
// storage, CA and email

// cmdStorageConfig is the part of a Caddy config the commands load a
// storage module from, as `caddy storage export` does.
type cmdStorageConfig struct {
	StorageRaw json.RawMessage `json:"storage,omitempty" caddy:"namespace=caddy.storage inline_key=module"`
}

// commandTarget is what import and export work against: the storage, and
// the resolvers of the traefik_acme app of the config, if any.
type commandTarget struct {
	storage   certmagic.Storage
	resolvers map[string]*config.ACME // nil without a config or app
	config    string                  // the --config path, or ""
}

// loadCommandTarget loads the config at configFile (adapted with adapter, as
// `caddy run` does) and the storage it uses: its top-level "storage", else
// Caddy's default storage, which is also used without a config. The storage
// module lives as long as ctx.
func loadCommandTarget(ctx caddy.Context, configFile, adapter string) (*commandTarget, error) {
	t := &commandTarget{storage: caddy.DefaultStorage, config: configFile}
	if configFile == "" {
		if adapter != "" {
			return nil, errors.New("--adapter needs --config")
		}
		return t, nil
	}
	cfgJSON, _, _, err := caddycmd.LoadConfig(configFile, adapter)
	if err != nil {
		return nil, fmt.Errorf("loading config %s: %w", configFile, err)
	}
	if len(bytes.TrimSpace(cfgJSON)) == 0 {
		return t, nil
	}
	var sc cmdStorageConfig
	if err := json.Unmarshal(cfgJSON, &sc); err != nil {
		return nil, fmt.Errorf("decoding config %s: %w", configFile, err)
	}
	if len(sc.StorageRaw) > 0 {
		val, err := ctx.LoadModule(&sc, "StorageRaw")
		if err != nil {
			return nil, fmt.Errorf("loading the storage of config %s: %w", configFile, err)
		}
		stor, err := val.(caddy.StorageConverter).CertMagicStorage()
		if err != nil {
			return nil, fmt.Errorf("loading the storage of config %s: %w", configFile, err)
		}
		t.storage = stor
	}
	t.resolvers, err = configResolvers(cfgJSON)
	if err != nil {
		return nil, fmt.Errorf("reading the traefik_acme app of config %s: %w", configFile, err)
	}
	return t, nil
}

// configResolvers returns the effective resolvers (Traefik's defaults
// applied) of the traefik_acme app in a JSON config, computed as the app's
// Provision does: the resolvers of its Traefik static configuration (or of
// the TRAEFIK_* environment when it has neither a config file nor inline
// resolvers), overridden by name by the inline ones. It returns nil when the
// config has no traefik_acme app.
func configResolvers(cfgJSON []byte) (map[string]*config.ACME, error) {
	var top struct {
		Apps map[string]json.RawMessage `json:"apps"`
	}
	if err := json.Unmarshal(cfgJSON, &top); err != nil {
		return nil, fmt.Errorf("decoding config: %w", err)
	}
	raw, ok := top.Apps["traefik_acme"]
	if !ok {
		return nil, nil
	}
	var app App
	if err := jsonUnmarshalStrict(raw, &app); err != nil {
		return nil, fmt.Errorf("decoding traefik_acme: %w", err)
	}
	app.logger = zap.NewNop()
	out, _, _, err := app.effectiveConfig()
	if err != nil {
		return nil, err
	}
	return out, nil
}

// resolverTarget is the CA and email a resolver is imported or exported
// with, and where each came from.
type resolverTarget struct {
	ca, caFrom       string
	email, emailFrom string // email "" means the default of migrate
}

// chooseTarget picks the CA and email for resolver name: the flag, else the
// resolver of the same name in the config, else Let's Encrypt production and
// emailDefault (a description of what an empty email means).
func (t *commandTarget) chooseTarget(name, caFlag, emailFlag, emailDefault string) resolverTarget {
	var rt resolverTarget
	cfgRes := t.resolvers[name]
	switch {
	case caFlag != "":
		rt.ca, rt.caFrom = caFlag, "--ca"
		if rewritten, ok := config.RewriteLegacyCAServer(caFlag); ok {
			rt.ca, rt.caFrom = rewritten, "--ca, rewritten from ACME v1"
		}
	case cfgRes != nil:
		rt.ca, rt.caFrom = cfgRes.CAServer, fmt.Sprintf("resolver %q of %s", name, t.config)
	default:
		rt.ca, rt.caFrom = config.LetsEncryptProduction, "default: Let's Encrypt production"
		if t.resolvers != nil {
			rt.caFrom = fmt.Sprintf("default: Let's Encrypt production; %s defines no resolver %q", t.config, name)
		}
	}
	switch {
	case emailFlag != "":
		rt.email, rt.emailFrom = emailFlag, "--email"
	case cfgRes != nil && cfgRes.Email != "":
		rt.email, rt.emailFrom = cfgRes.Email, fmt.Sprintf("resolver %q of %s", name, t.config)
	default:
		rt.emailFrom = emailDefault
	}
	return rt
}

// describeStorage names a storage for messages.
func describeStorage(s certmagic.Storage) string {
	if st, ok := s.(fmt.Stringer); ok {
		return st.String()
	}
	return fmt.Sprintf("%T", s)
}

// ---------------------------------------------------------------------------
// import

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
	v1Resolver := ""
	if len(only) == 1 {
		v1Resolver = only[0] // a v1 file's content is imported as this resolver
	}
	f, _, err := loadExisting(path, v1Resolver)
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	names, err := selectResolvers(path, f, only)
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}

	cctx, cancel := caddy.NewContext(caddy.Context{Context: ctx})
	defer cancel()
	target, err := loadCommandTarget(cctx, fl.String("config"), fl.String("adapter"))
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}

	fmt.Fprintf(c.out, "Importing %s (%s) into %s\n", path, plural(len(names), "resolver"), describeStorage(target.storage))
	var failed []string
	for _, name := range names {
		entry := f[name]
		rt := target.chooseTarget(name, fl.String("ca"), fl.String("email"), "the account's, from the file")
		email := rt.email
		if email == "" && entry != nil && entry.Account != nil {
			email = entry.Account.Email
		}
		fmt.Fprintf(c.out, "%s: CA %s (%s), email %s (%s)\n", name, rt.ca, rt.caFrom, orDash(email), rt.emailFrom)
		if c.progress != nil {
			n := 0
			if entry != nil {
				n = len(entry.Certificates)
			}
			fmt.Fprintf(c.progress, "%s: importing %d certificate entries…\n", name, n)
		}
		rep, err := migrate.Import(ctx, target.storage, entry, migrate.ImportOptions{
			IssuerKey: migrate.IssuerKeyFromCA(rt.ca),
			CA:        rt.ca,
			Email:     rt.email,
			Now:       c.now,
		})
		if err != nil {
			failed = append(failed, name)
			fmt.Fprintf(c.out, "%s: FAILED: %v\n", name, err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		fmt.Fprintf(c.out, "%s: %s\n", name, rep.String())
		for _, s := range rep.SkippedInvalid {
			fmt.Fprintf(c.out, "  not imported %s: %s\n", strings.Join(s.Names, ","), s.Reason)
		}
		if len(rep.SkippedNewer) > 0 {
			fmt.Fprintf(c.out, "  kept (storage or another entry expires no earlier): %s\n", strings.Join(rep.SkippedNewer, ","))
		}
		if len(rep.Expired) > 0 {
			fmt.Fprintf(c.out, "  imported although expired (Caddy renews them): %s\n", strings.Join(rep.Expired, ","))
		}
	}
	if len(failed) > 0 {
		return caddy.ExitCodeFailedStartup, fmt.Errorf("importing %s: %d of %d resolvers failed: %s", path, len(failed), len(names), strings.Join(failed, ", "))
	}
	fmt.Fprintf(c.out, "Done: %s imported; nothing was requested from the CA.\n", plural(len(names), "resolver"))
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

// ---------------------------------------------------------------------------
// export

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
