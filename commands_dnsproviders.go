package traefikacme

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/ac075510/caddy-traefik-acme/dnsbridge"
)

// addDNSProvidersCommand adds `caddy traefik dns-providers [code]`.
func addDNSProvidersCommand(parent *cobra.Command, c cmdIO) {
	cmd := &cobra.Command{
		Use:   "dns-providers [<code>] [--json]",
		Short: "Lists the DNS provider codes of dnsChallenge.provider, who serves them and their variables",
		Long: `
Lists every code a Traefik dnsChallenge.provider may name (lego's codes and
aliases), who serves it in this Caddy, and the environment variables it
reads, marking which of them are set in this process's environment (values
are never printed):

  libdns             a libdns provider compiled into the plugin
  native             the plugin's own implementation (exec, httpreq, vultr)
  lego               lego's own provider, through the lego bridge module
  not in this build  with the reason: the lego bridge is not linked (and
                     the xcaddy build that adds it), the provider's SDK is
                     left out of the bridge, or lego removed the code

"+lego" after libdns or native: with the bridge linked, lego's provider
serves the code when the credentials given are a form the libdns or native
provider does not accept. A set variable is marked "*", or "*file" when it
is set through <VAR>_FILE.

With a code, prints that provider's detail: name, backend, module, one
challenge at a time per TXT name or not, every variable (required or not,
alternatives, which backend reads it, set or not) and the notes.

--json prints the same as a document: a list of providers, or one provider,
with the fields code, alias_of, name, served_by, lego_fallback, module,
reason, sequential, env [{name, required, alternatives, set ("", "env",
"file"), read_by}] and notes. The exit code is 1 for an unknown code.

Example:
  $ caddy traefik dns-providers cloudflare`,
		Args: cobra.MaximumNArgs(1),
		RunE: c.cobraRun(c.dnsProviders),
	}
	cmd.Flags().Bool("json", false, "Print a machine-readable JSON document")
	parent.AddCommand(cmd)
}

// dnsProviders runs `caddy traefik dns-providers`.
func (c cmdIO) dnsProviders(_ context.Context, fl caddycmd.Flags) (int, error) {
	asJSON := fl.Bool("json")
	if args := fl.Args(); len(args) == 1 {
		info, ok := dnsbridge.ProviderByCode(args[0], lookupEnv)
		if !ok {
			return 1, fmt.Errorf("unknown DNS provider code %q: run 'caddy traefik dns-providers' for every code", args[0])
		}
		if asJSON {
			return writeJSON(c.out, info)
		}
		return 0, trimmedWrite(c.out, func(w io.Writer) error { return writeProviderDetail(w, info) })
	}
	list := dnsbridge.Providers(lookupEnv)
	if asJSON {
		return writeJSON(c.out, list)
	}
	return 0, trimmedWrite(c.out, func(w io.Writer) error { return writeProviderList(w, list) })
}

// trimmedWrite runs write into a buffer and copies it to w without the
// trailing blanks tabwriter leaves after empty last cells.
func trimmedWrite(w io.Writer, write func(io.Writer) error) error {
	var buf bytes.Buffer
	if err := write(&buf); err != nil {
		return err
	}
	lines := strings.SplitAfter(buf.String(), "\n")
	for i, l := range lines {
		if strings.HasSuffix(l, "\n") {
			lines[i] = strings.TrimRight(l[:len(l)-1], " ") + "\n"
		}
	}
	_, err := io.WriteString(w, strings.Join(lines, ""))
	return err
}

func writeJSON(w io.Writer, v any) (int, error) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return 1, fmt.Errorf("writing JSON: %w", err)
	}
	return 0, nil
}

// bridgeLine says whether the lego bridge is linked.
func bridgeLine() string {
	if b, ok := dnsbridge.LinkedBridge(); ok {
		return fmt.Sprintf("linked (%s, %s)", b.Module, b.Version)
	}
	return "not linked; add it with: " + dnsbridge.BridgeBuildHint
}

func servedBy(p dnsbridge.ProviderInfo) string {
	s := p.ServedBy
	if p.LegoFallback {
		s += "+lego"
	}
	return s
}

// envSummary renders the variables of p, set ones marked.
func envSummary(p dnsbridge.ProviderInfo) string {
	if len(p.Env) == 0 {
		return "-"
	}
	parts := make([]string, len(p.Env))
	for i, v := range p.Env {
		parts[i] = v.Name + setMark(v.Set)
	}
	return strings.Join(parts, " ")
}

func setMark(set string) string {
	switch set {
	case "env":
		return "*"
	case "file":
		return "*file"
	}
	return ""
}

func writeProviderList(w io.Writer, list []dnsbridge.ProviderInfo) error {
	counts := map[string]int{}
	for _, p := range list {
		counts[p.ServedBy]++
	}
	fmt.Fprintf(w, "%d provider codes: libdns %d, native %d, lego %d, not in this build %d.\n",
		len(list), counts[dnsbridge.ServedByLibdns], counts[dnsbridge.ServedByNative],
		counts[dnsbridge.ServedByLego], counts[dnsbridge.ServedByMissing])
	fmt.Fprintf(w, "lego bridge: %s\n", bridgeLine())
	fmt.Fprintln(w, `Variables marked * are set (*file: through <VAR>_FILE); values are never shown.`)
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CODE\tSERVED BY\tENV")
	for _, p := range list {
		env := envSummary(p)
		if p.ServedBy == dnsbridge.ServedByMissing {
			env = "-"
		}
		code := p.Code
		if p.AliasOf != "" {
			code += " (= " + p.AliasOf + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", code, servedBy(p), env)
	}
	return tw.Flush()
}

func writeProviderDetail(w io.Writer, p dnsbridge.ProviderInfo) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "code:\t%s\n", p.Code)
	if p.AliasOf != "" {
		fmt.Fprintf(tw, "alias of:\t%s\n", p.AliasOf)
	}
	if p.Name != "" {
		fmt.Fprintf(tw, "name:\t%s\n", p.Name)
	}
	fmt.Fprintf(tw, "served by:\t%s\n", servedBy(p))
	if p.Module != "" {
		fmt.Fprintf(tw, "module:\t%s\n", p.Module)
	}
	if p.Reason != "" {
		fmt.Fprintf(tw, "why:\t%s\n", p.Reason)
	}
	if p.LegoFallback {
		fmt.Fprintf(tw, "lego fallback:\t%s\n", "lego's provider serves credential forms the "+p.ServedBy+" provider does not accept")
	}
	if p.ServedBy != dnsbridge.ServedByMissing {
		seq := "no"
		if p.Sequential {
			seq = "yes"
		}
		fmt.Fprintf(tw, "one challenge per TXT name:\t%s\n", seq)
	}
	fmt.Fprintf(tw, "lego bridge:\t%s\n", bridgeLine())
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(p.Env) > 0 {
		fmt.Fprintln(w, "\nenvironment (values are never shown):")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, v := range p.Env {
			req := ""
			if v.Required {
				req = "required"
				if len(v.Alternatives) > 0 {
					req += " (or " + strings.Join(v.Alternatives, ", or ") + ")"
				}
			}
			set := "unset"
			switch v.Set {
			case "env":
				set = "set"
			case "file":
				set = "set (" + v.Name + "_FILE)"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", v.Name, set, strings.Join(v.ReadBy, ","), req)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if p.Notes != "" {
		fmt.Fprintf(w, "\nnotes: %s\n", p.Notes)
	}
	return nil
}
