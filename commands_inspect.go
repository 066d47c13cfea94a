package traefikacme

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
)

// inspectReport is the document `caddy traefik inspect --json` prints. Field
// names and meanings are stable.
type inspectReport struct {
	Path         string            `json:"path"`          // as given
	Format       string            `json:"format"`        // "v2", "v1" or "empty"
	CheckedAt    time.Time         `json:"checked_at"`    // the time expiry is judged at
	Warnings     []string          `json:"warnings"`      // about the file as a whole
	Problems     []string          `json:"problems"`      // with the file as a whole (a mode Traefik refuses)
	Resolvers    []inspectResolver `json:"resolvers"`     // sorted by name
	ProblemCount int               `json:"problem_count"` // file, account and certificate problems
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
	f, info, err := loadExisting(path, "", c.logger())
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
		Problems:  []string{},
		Resolvers: []inspectResolver{},
	}
	if info.Mode&0o077 != 0 {
		rep.Problems = append(rep.Problems, fmt.Sprintf("mode %04o: traefik refuses an acme.json that group or others can access (chmod 600 %s)", info.Mode, path))
	}
	if odd := f.LeftoverV1Keys(); len(odd) > 0 {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s %s: keys of a traefik v1 file that traefik v2/v3 took for resolver names when it read that file; no resolver uses them, and the v1 account and certificates are not in them (the v1 original, if kept, holds them)",
			pluralWord(len(odd), "resolver", "resolvers"), quoteAll(odd)))
	}
	rep.ProblemCount = len(rep.Problems)
	switch info.Format {
	case acmejson.FormatV1:
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("traefik v1 layout: read as resolver %q; import converts it under --resolver, else the resolver of --config whose storage it is, else %q", acmejson.DefaultV1Resolver, acmejson.DefaultV1Resolver))
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
	// Everything from the file is passed through printable: names and
	// other strings in an acme.json may hold terminal escape sequences.
	fmt.Fprintf(&b, "acme.json:  %s\n", printable(rep.Path))
	fmt.Fprintf(&b, "layout:     %s, %s, %s\n", rep.Format, plural(len(rep.Resolvers), "resolver"), plural(certs, "certificate"))
	fmt.Fprintf(&b, "checked at: %s\n", rep.CheckedAt.Format(time.RFC3339))
	for _, p := range rep.Problems {
		fmt.Fprintf(&b, "problem:    %s\n", p)
	}
	for _, warn := range rep.Warnings {
		fmt.Fprintf(&b, "warning:    %s\n", printable(warn))
	}
	for _, r := range rep.Resolvers {
		fmt.Fprintf(&b, "\nresolver %s\n", printable(r.Name))
		if a := r.Account; a == nil {
			b.WriteString("  account: none (Traefik registers one when it first needs it)\n")
		} else {
			fmt.Fprintf(&b, "  account: %s, CA %s, key %s, status %s\n",
				printable(orDash(a.Email)), printable(orDash(a.CAHost)), printable(orDash(a.KeyType)), printable(orDash(a.Status)))
			for _, p := range a.Problems {
				fmt.Fprintf(&b, "  account problem: %s\n", printable(p))
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
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", printable(names), printable(orDash(c.Issuer)), notAfter, days, printable(orDash(c.KeyType)), printable(problems))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintf(&b, "\n%s, %s, %s\n", plural(len(rep.Resolvers), "resolver"), plural(certs, "certificate"), plural(rep.ProblemCount, "problem"))
	_, err := w.Write(b.Bytes())
	return err
}

// pluralWord is singular for n == 1, else plural.
func pluralWord(n int, singular, plural string) string {
	if n == 1 {
		return singular
	}
	return plural
}

// quoteAll quotes each name and joins them with ", ".
func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
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
