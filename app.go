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
	"errors"
	"fmt"
	"os"
	"reflect"
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
	// Config is the path of a Traefik static configuration to read the
	// resolvers and entry points from: traefik.yml, traefik.yaml,
	// traefik.toml, traefik.json, or a docker-compose file whose Traefik service carries
	// them as command-line flags or TRAEFIK_* environment variables.
	// Resolvers and entry points given inline add to it or override it by
	// name. With no Config and no inline resolvers, the TRAEFIK_*
	// variables of Caddy's own environment are read. The providers it
	// names (providers.file, and the Docker labels of a compose file given
	// as Config) also give Traefik's routers, whose names the resolvers
	// certify; see Routers.
	// Default: "" (inline configuration only)
	Config string `json:"config,omitempty"`

	// ComposeService names the Traefik service of a compose file given as
	// Config. Default: "" (the service whose image name contains traefik)
	ComposeService string `json:"compose_service,omitempty"`

	// EntryPoints maps a Traefik entry point name to its listen address,
	// such as "web": ":80". httpChallenge.entryPoint must name one; HTTP-01
	// challenges are answered on its port.
	EntryPoints map[string]string `json:"entrypoints,omitempty"`

	// Resolvers maps a resolver name to its ACME configuration, with
	// Traefik's options in snake_case. Unset options take Traefik's
	// defaults.
	Resolvers map[string]*config.ACME `json:"resolvers,omitempty"`

	// Routers are more places to read Traefik routers from, besides the
	// providers of Config: dynamic configuration files (.yml, .yaml,
	// .toml), directories of them, or compose files whose labels
	// Traefik's Docker provider would read. The names each router's
	// tls.certResolver asks for are managed with that resolver, with no
	// site block. Default: none
	Routers []string `json:"routers,omitempty"`

	// IgnoreRouters turns off reading routers: the resolvers then certify
	// only the names of sites that reference them. Default: false
	IgnoreRouters bool `json:"ignore_routers,omitempty"`

	resolvers   map[string]*config.ACME       // effective resolvers, defaults applied; set at Provision
	problems    map[string]error              // why a resolver cannot obtain certificates, by name; set at Provision
	entryPoints map[string]*config.EntryPoint // effective entry points; set at Provision
	stores      *stores                       // acme.json files of the resolvers; set at Provision
	routers     *routerState                  // what Traefik's routers ask for; set at Provision
	logger      *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "traefik_acme",
		New: func() caddy.Module { return new(App) },
	}
}

// Provision applies Traefik's defaults to every resolver and checks each
// one. A resolver that cannot obtain certificates (no challenge, an
// undefined entry point …) does not fail Provision, as Traefik loads it
// too: a warning names it and the key at fault, and the issuer of a site
// that uses it fails with that error (see resolver); so does a router
// that references it. Provision also reads Traefik's routers (see
// routers.go).
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	var withStorage map[string]bool
	var err error
	a.resolvers, a.entryPoints, withStorage, err = a.effectiveConfig()
	if err != nil {
		return err
	}
	a.problems = a.checkResolvers()
	if err := a.Validate(); err != nil {
		return err
	}
	if a.routers, err = a.loadRouters(); err != nil {
		return err
	}
	a.stores, err = provisionStores(ctx, a.resolvers, withStorage, a.logger)
	if err != nil {
		return err
	}
	return a.provisionRouterTLS(ctx)
}

// effectiveConfig merges the Traefik static configuration (Config, or the
// TRAEFIK_* environment) with the inline entry points and resolvers, which
// override it by name, and applies Traefik's defaults. withStorage tells
// which resolvers use their acme.json. It reads files but changes nothing.
func (a *App) effectiveConfig() (resolvers map[string]*config.ACME, entryPoints map[string]*config.EntryPoint, withStorage map[string]bool, err error) {
	if a.logger == nil {
		a.logger = zap.NewNop()
	}
	entryPoints = make(map[string]*config.EntryPoint)
	resolvers = make(map[string]*config.ACME)
	withStorage = make(map[string]bool)

	static, err := a.loadStatic()
	if err != nil {
		return nil, nil, nil, err
	}
	if static != nil {
		for name, ep := range static.EntryPoints {
			entryPoints[name] = ep
		}
		for name, r := range static.CertificatesResolvers {
			if r == nil || r.ACME == nil {
				continue
			}
			resolvers[name] = r.ACME
			withStorage[name] = true
		}
	}

	for _, name := range sortedKeys(a.EntryPoints) {
		if _, ok := entryPoints[name]; ok {
			a.logger.Info("inline entry point overrides the traefik configuration", zap.String("entry_point", name))
		}
		entryPoints[name] = &config.EntryPoint{Address: a.EntryPoints[name]}
	}
	for _, name := range sortedKeys(a.Resolvers) {
		res, err := cloneACME(a.Resolvers[name])
		if err != nil {
			return nil, nil, nil, fmt.Errorf("resolver %q: %w", name, err)
		}
		if _, ok := resolvers[name]; ok {
			a.logger.Info("inline resolver overrides the traefik configuration", zap.String("resolver", name))
		}
		// Inline resolvers use an acme.json only when storage is set: Traefik's
		// default, acme.json in the working directory, means nothing to Caddy.
		withStorage[name] = res.Storage != ""
		// Resolvers read from a Traefik configuration have their defaults
		// already (config.Load), and their warnings were logged with it.
		for _, w := range res.SetDefaults(fmt.Sprintf("certificatesResolvers.%s.acme", name)) {
			a.logger.Warn("resolver configuration", zap.String("resolver", name), zap.String("key", w.Path), zap.String("warning", w.Message))
		}
		resolvers[name] = res
	}
	return resolvers, entryPoints, withStorage, nil
}

// loadStatic reads the Traefik static configuration named by Config, or,
// with no Config and no inline resolvers, the TRAEFIK_* environment. It
// returns nil when there is nothing to read.
func (a *App) loadStatic() (*config.Static, error) {
	src := config.Sources{LookupEnv: lookupEnv}
	switch {
	case a.Config != "":
		path, err := caddy.NewReplacer().ReplaceOrErr(a.Config, true, true)
		if err != nil {
			return nil, fmt.Errorf("traefik_acme: config: %w", err)
		}
		src.File = path
		src.Service = a.ComposeService
	case len(a.Resolvers) == 0:
		src.Environ = environ()
	default:
		return nil, nil
	}
	loaded, err := config.Load(src)
	if errors.Is(err, config.ErrNoConfiguration) && src.File == "" {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("traefik_acme: %w", err)
	}
	a.logger.Info("traefik static configuration loaded", zap.String("source", loaded.Origin.String()),
		zap.Int("resolvers", len(loaded.Static.CertificatesResolvers)), zap.Int("entry_points", len(loaded.Static.EntryPoints)))
	for _, w := range loaded.Warnings {
		a.logger.Warn("traefik static configuration", zap.String("key", w.Path), zap.String("warning", w.Message))
	}
	return loaded.Static, nil
}

// checkResolvers validates every resolver against the entry points and
// returns the problems by resolver name, logging a warning for each that
// names the resolver and the Traefik keys at fault.
func (a *App) checkResolvers() map[string]error {
	var problems map[string]error
	for _, name := range sortedKeys(a.resolvers) {
		err := a.resolvers[name].Validate(name, a.entryPoints)
		if err == nil {
			continue
		}
		if problems == nil {
			problems = make(map[string]error)
		}
		problems[name] = err
		a.logger.Warn("resolver cannot obtain certificates; a site that uses it fails to start",
			zap.String("resolver", name), zap.Strings("keys", config.ProblemKeys(err)), zap.Error(err))
	}
	return problems
}

// Validate checks what concerns several resolvers: resolvers that share an
// ACME account must agree on order_rate_limit. Problems of one resolver
// are not errors here (see Provision).
func (a *App) Validate() error {
	var errs []string
	// Resolvers with the same CA and email share one ACME account in
	// certmagic, and with it one order limiter.
	byAccount := map[string]string{}
	for _, name := range sortedKeys(a.resolvers) {
		res := a.resolvers[name]
		acct := rateLimiterKey(res.CAServer, res.Email)
		other, seen := byAccount[acct]
		if !seen {
			byAccount[acct] = name
			continue
		}
		if !reflect.DeepEqual(res.OrderRateLimit, a.resolvers[other].OrderRateLimit) {
			errs = append(errs, fmt.Sprintf("resolver %q: order_rate_limit: differs from resolver %q's, which uses the same ACME account (same caServer and email) and so the same limiter; set the same value on both", name, other))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("traefik_acme: %s", strings.Join(errs, "; "))
	}
	return nil
}

// Start implements caddy.App. Resolvers do their work through the issuers
// that reference them: those of sites, and those of the automation
// policies added here for the names Traefik's routers ask for. Start also
// does what Caddy does on disk for the resolvers' acme.json files once it
// runs, and never at Provision, so that `caddy validate` writes nothing:
// it tightens a too-open file (onDiskAtStart) and begins the acme.json
// catch-up, which writes into each resolver's file the certificates
// Caddy's storage holds that a failed mirror left out.
func (a *App) Start() error {
	a.stores.onDiskAtStart()
	a.stores.startCatchUp()
	if err := a.manageRouterNames(); err != nil {
		a.stores.stopCatchUp()
		return err
	}
	return nil
}

// Stop implements caddy.App: it stops the acme.json catch-up.
func (a *App) Stop() error {
	a.stores.stopCatchUp()
	return nil
}

// resolver returns the effective configuration of the named resolver, or an
// error: one that names it and lists the defined ones, or the problem that
// keeps it from obtaining certificates (naming the resolver and the Traefik
// key). Everything that uses a resolver (issuers, routers) looks it up
// here, so a broken resolver fails exactly the sites that use it.
func (a *App) resolver(name string) (*config.ACME, error) {
	if err := a.problems[name]; err != nil {
		return nil, err
	}
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

// environ returns the process environment, for compat/config's TRAEFIK_*
// source (which takes it injected).
func environ() []string { return os.Environ() }

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
