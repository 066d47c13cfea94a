// Package traefikacme is a Caddy plugin that brings Traefik's ACME
// certificate resolvers (certificatesResolvers.<name>.acme) to Caddy: the
// same options and defaults, the same DNS-provider environment variables and
// the same acme.json file.
//
// It registers the app traefik_acme, which holds the resolvers, and the
// issuer tls.issuance.traefik, which sites use to obtain certificates
// through a resolver:
//
//	{
//		traefik_acme {
//			entrypoint web :80
//			resolver le {
//				email ops@example.com
//				http_challenge web
//			}
//		}
//	}
//	app.example.com {
//		tls {
//			issuer traefik le
//		}
//	}
package traefikacme

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/ac075510/caddy-traefik-acme/compat/config"
)

func init() {
	caddy.RegisterModule(App{})
}

// App is the traefik_acme app. It holds Traefik-style ACME certificate
// resolvers and the entry points their HTTP challenges refer to. Sites use a
// resolver through the tls.issuance.traefik issuer.
type App struct {
	// EntryPoints maps a Traefik entry point name to its listen address,
	// such as "web": ":80". httpChallenge.entryPoint must name one; HTTP-01
	// challenges are answered on its port.
	EntryPoints map[string]string `json:"entrypoints,omitempty"`

	// Resolvers maps a resolver name to its ACME configuration, with
	// Traefik's options in snake_case. Unset options take Traefik's
	// defaults.
	Resolvers map[string]*config.ACME `json:"resolvers,omitempty"`

	resolvers   map[string]*config.ACME       // effective resolvers, defaults applied; set at Provision
	entryPoints map[string]*config.EntryPoint // effective entry points; set at Provision
	logger      *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "traefik_acme",
		New: func() caddy.Module { return new(App) },
	}
}

// Provision applies Traefik's defaults to every resolver and validates it.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()

	a.entryPoints = make(map[string]*config.EntryPoint, len(a.EntryPoints))
	for name, addr := range a.EntryPoints {
		a.entryPoints[name] = &config.EntryPoint{Address: addr}
	}

	a.resolvers = make(map[string]*config.ACME, len(a.Resolvers))
	for _, name := range sortedKeys(a.Resolvers) {
		res, err := cloneACME(a.Resolvers[name])
		if err != nil {
			return fmt.Errorf("resolver %q: %w", name, err)
		}
		for _, w := range res.SetDefaults(fmt.Sprintf("certificatesResolvers.%s.acme", name)) {
			a.logger.Warn("resolver configuration", zap.String("resolver", name), zap.String("key", w.Path), zap.String("warning", w.Message))
		}
		a.resolvers[name] = res
	}
	return nil
}

// Validate checks every resolver: key type, challenge, entry point, EAB and
// durations. Errors name the resolver and the Traefik option at fault.
func (a *App) Validate() error {
	var errs []string
	for _, name := range sortedKeys(a.resolvers) {
		if err := a.resolvers[name].Validate(name, a.entryPoints); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("traefik_acme: %s", strings.Join(errs, "; "))
	}
	return nil
}

// Start implements caddy.App. Resolvers do their work through the issuers
// that reference them.
func (a *App) Start() error { return nil }

// Stop implements caddy.App.
func (a *App) Stop() error { return nil }

// resolver returns the effective configuration of the named resolver, or an
// error that names it and lists the defined ones.
func (a *App) resolver(name string) (*config.ACME, error) {
	res, ok := a.resolvers[name]
	if !ok {
		defined := sortedKeys(a.resolvers)
		list := "(none)"
		if len(defined) > 0 {
			list = strings.Join(defined, ", ")
		}
		return nil, fmt.Errorf("resolver %q is not defined in the traefik_acme app; defined resolvers: %s", name, list)
	}
	return res, nil
}

func cloneACME(a *config.ACME) (*config.ACME, error) {
	if a == nil {
		return &config.ACME{}, nil
	}
	b, err := json.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("copying configuration: %w", err)
	}
	var out config.ACME
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("copying configuration: %w", err)
	}
	return &out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Interface guards
var (
	_ caddy.App         = (*App)(nil)
	_ caddy.Provisioner = (*App)(nil)
	_ caddy.Validator   = (*App)(nil)
)

func jsonUnmarshalStrict(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
