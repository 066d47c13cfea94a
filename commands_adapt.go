package traefikacme

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/ac075510/caddy-traefik-acme/compat/routers"
)

// addAdaptCommand adds "caddy traefik adapt", which prints Caddyfile site
// blocks for Traefik's HTTP routers.
func addAdaptCommand(parent *cobra.Command, c cmdIO) {
	cmd := &cobra.Command{
		Use:   "adapt [--config <traefik.yml|compose file>] [--compose <file>]... [--dynamic <file|dir>]...",
		Short: "Prints Caddyfile site blocks equivalent to Traefik's HTTP routers",
		Long: `
Reads Traefik's routers, as the traefik_acme app does, and prints Caddyfile
site blocks for the HTTP routers, as a migration aid to read and adapt:

  - the rule's Host names become the site addresses (http:// when the
    router has no TLS on its entry points);
  - tls.certResolver (or the entry point's http.tls.certResolver) becomes
    tls { issuer traefik <resolver> };
  - the service's first server URL becomes reverse_proxy, with the rule's
    Path/PathPrefix as its path matcher.

Every router option that is not translated (middlewares, priority,
tls.options, other matchers, further servers, TCP routers) is named in a
comment above its block. With --config, a global options block points the
traefik_acme app at the same file, so the issuers find their resolvers.
Warnings go to stderr. Nothing is written.

Sources: --config is a Traefik static configuration (its providers.file is
read) or a compose file (its Traefik service's flags or environment, and the
other services' labels when the Docker provider is enabled); --compose adds
a compose file whose labels are read; --dynamic adds a dynamic
configuration file or directory.

The output adapts with Caddy's Caddyfile adapter and is caddy fmt-clean.

Example:
  $ caddy traefik adapt --config /etc/traefik/traefik.yml --compose docker-compose.yml`,
		Args: cobra.NoArgs,
		RunE: c.cobraRun(c.adaptRouters),
	}
	cmd.Flags().StringP("config", "c", "", "Traefik static configuration: traefik.yml, traefik.toml or a compose file")
	cmd.Flags().String("service", "", "Traefik's service in a compose file given as --config (default: the one with Traefik's image)")
	cmd.Flags().StringSlice("compose", nil, "Compose file whose labels to read (repeatable)")
	cmd.Flags().StringSlice("dynamic", nil, "Dynamic configuration file or directory to read (repeatable)")
	parent.AddCommand(cmd)
}

// adaptRouters implements caddy traefik adapt.
func (c cmdIO) adaptRouters(_ context.Context, fl caddycmd.Flags) (int, error) {
	config := fl.String("config")
	var paths []string
	for _, name := range []string{"compose", "dynamic"} {
		v, err := fl.GetStringSlice(name)
		if err != nil {
			return 1, err
		}
		paths = append(paths, v...)
	}
	if config == "" && len(paths) == 0 {
		return 1, errors.New("nothing to read: give --config, --compose or --dynamic")
	}
	var static *routers.Static
	sources := append([]string(nil), paths...)
	if config != "" {
		var err error
		static, err = routers.LoadStatic(config, fl.String("service"))
		if err != nil {
			return 1, err
		}
		if static.Docker != nil && routers.IsComposeFile(config) {
			paths = append(paths, config)
		}
		sources = append([]string{config}, sources...)
	}
	dyn, err := routers.Load(routers.Sources{Static: static, Paths: paths, LookupEnv: os.LookupEnv})
	if err != nil {
		return 1, err
	}
	plan := routers.Certificates(static, dyn)
	warn := c.progress
	if warn == nil {
		warn = os.Stderr
	}
	for _, w := range append(dyn.Warnings, plan.Warnings...) {
		fmt.Fprintf(warn, "warning: %s\n", w)
	}
	out := routers.Caddyfile(static, dyn, routers.CaddyfileOptions{
		Header: []string{
			"Caddyfile site blocks for Traefik's HTTP routers, printed by caddy traefik adapt",
			"from " + strings.Join(sources, ", ") + ".",
			"Review before use: the comments name what is not translated.",
		},
		GlobalConfig: config,
	})
	if _, err := io.Copy(c.out, strings.NewReader(string(out))); err != nil {
		return 1, err
	}
	return 0, nil
}
