package traefikacme

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddytls"
	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"

	"github.com/ac075510/caddy-traefik-acme/compat/routers"
)

// This file makes the traefik_acme app certify what Traefik's routers
// ask for: it reads the routers of the dynamic configuration (the file
// provider named by the static configuration, compose labels, and the
// paths of the routers option), works out the certificates each resolver
// is asked for (package compat/routers), and at Start asks the tls app to
// manage those names with an automation policy per resolver whose issuer
// is the resolver, as tls.certificates.automate does.

// routerState is what Provision works out for Start.
type routerState struct {
	plan    *routers.Plan
	sources map[string]string // router name -> where it was read
	tlsApp  *caddytls.TLS
}

// loadRouters reads the routers and checks that each references a
// defined resolver. It reads files but changes nothing.
func (a *App) loadRouters() (*routerState, error) {
	if a.IgnoreRouters {
		return &routerState{}, nil
	}
	static, paths, err := a.routerSources()
	if err != nil {
		return nil, err
	}
	if static == nil && len(paths) == 0 {
		return &routerState{}, nil
	}
	dyn, err := routers.Load(routers.Sources{Static: static, Paths: paths, LookupEnv: lookupEnv})
	if err != nil {
		return nil, fmt.Errorf("traefik_acme: reading routers: %w (to use the resolvers without Traefik's routers, set `routers off`)", err)
	}
	for _, w := range dyn.Warnings {
		a.logger.Warn("traefik routers", zap.String("where", w.Where), zap.String("warning", w.Message))
	}
	plan := routers.Certificates(static, dyn)
	for _, w := range plan.Warnings {
		a.logger.Warn("traefik routers", zap.String("where", w.Where), zap.String("warning", w.Message))
	}
	st := &routerState{plan: plan, sources: map[string]string{}}
	for _, r := range dyn.Routers {
		st.sources[r.Name] = r.Source
	}
	var errs []string
	rr := plan.RouterResolvers()
	for _, name := range sortedKeys(rr) {
		for _, res := range rr[name] {
			// The one lookup issuers use too: a router makes its resolver
			// used, so an undefined (or broken) one is an error here.
			if _, err := a.resolver(res); err != nil {
				errs = append(errs, fmt.Sprintf("router %q (%s): tls.certResolver: %v", name, st.sources[name], err))
			}
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("traefik_acme: %s", strings.Join(errs, "; "))
	}
	for _, c := range plan.Certificates {
		res := a.resolvers[c.Resolver]
		for _, n := range c.Domain.Names() {
			if strings.HasPrefix(n, "*") && res.DNSChallenge == nil {
				a.logger.Warn("wildcard name needs a DNS challenge; the resolver has none, so the CA will refuse it",
					zap.String("domain", n), zap.String("resolver", c.Resolver), zap.Strings("routers", c.Routers))
			}
		}
	}
	names := plan.Names()
	for _, res := range sortedKeys(names) {
		a.logger.Info("traefik routers ask for certificates", zap.String("resolver", res), zap.Strings("domains", names[res]))
	}
	return st, nil
}

// routerSources returns what the static configuration says about the
// routers' providers and entry points, and the files to read routers
// from: the routers option's paths, and the compose file given as config
// when its Traefik service enables the Docker provider.
func (a *App) routerSources() (*routers.Static, []string, error) {
	paths := append([]string(nil), a.Routers...)
	repl := caddy.NewReplacer()
	for i, p := range paths {
		var err error
		if paths[i], err = repl.ReplaceOrErr(p, true, true); err != nil {
			return nil, nil, fmt.Errorf("traefik_acme: routers: %w", err)
		}
	}
	var static *routers.Static
	switch {
	case a.Config != "":
		path, err := repl.ReplaceOrErr(a.Config, true, true)
		if err != nil {
			return nil, nil, fmt.Errorf("traefik_acme: config: %w", err)
		}
		static, err = routers.LoadStatic(path, a.ComposeService)
		if err != nil {
			return nil, nil, fmt.Errorf("traefik_acme: reading providers and entry points: %w", err)
		}
		if static.Docker != nil {
			if routers.IsComposeFile(path) {
				paths = append(paths, path)
			} else if !anyCompose(paths) {
				a.logger.Warn("providers.docker is enabled; give the compose file with `routers <compose file>` to read its labels",
					zap.String("path", path))
			}
		}
	case len(a.Resolvers) == 0:
		s, err := routers.StaticFromEnv(environ())
		if err != nil {
			return nil, nil, fmt.Errorf("traefik_acme: reading providers and entry points from TRAEFIK_* variables: %w", err)
		}
		if s.File != nil || s.Docker != nil {
			static = s
		}
	}
	return static, paths, nil
}

func anyCompose(paths []string) bool {
	for _, p := range paths {
		if routers.IsComposeFile(p) {
			return true
		}
	}
	return false
}

// provisionRouterTLS gets the tls app the router names will be managed
// by. It runs at the end of Provision, when the resolvers are set, since
// the tls app's own policies may reach back into this app.
func (a *App) provisionRouterTLS(ctx caddy.Context) error {
	if a.routers == nil || a.routers.plan == nil || len(a.routers.plan.Certificates) == 0 {
		return nil
	}
	tlsAppIface, err := ctx.App("tls")
	if err != nil {
		return fmt.Errorf("traefik_acme: getting the tls app to manage the routers' names: %w", err)
	}
	a.routers.tlsApp = tlsAppIface.(*caddytls.TLS)
	return nil
}

// manageRouterNames adds an automation policy per resolver and asks the
// tls app to manage the routers' names. A name that a policy of the
// configuration already covers keeps that policy (a site block wins).
func (a *App) manageRouterNames() error {
	st := a.routers
	if st == nil || st.tlsApp == nil {
		return nil
	}
	var explicit []string
	if st.tlsApp.Automation != nil {
		for _, ap := range st.tlsApp.Automation.Policies {
			explicit = append(explicit, ap.SubjectsRaw...)
		}
	}
	names := st.plan.Names()
	all := map[string]struct{}{}
	for _, res := range sortedKeys(names) {
		var subjects []string
		for _, n := range names[res] {
			if _, dup := all[n]; dup {
				continue // asked of two resolvers: the first (by name) wins; a warning said so
			}
			if covered(n, explicit) {
				a.logger.Info("name has a TLS policy in the configuration; the router's resolver is not used for it",
					zap.String("domain", n), zap.String("resolver", res))
				continue
			}
			subjects = append(subjects, n)
		}
		if len(subjects) == 0 {
			continue
		}
		issuer, err := json.Marshal(map[string]string{"module": "traefik", "resolver": res})
		if err != nil {
			return fmt.Errorf("traefik_acme: resolver %q: %w", res, err)
		}
		ap := &caddytls.AutomationPolicy{SubjectsRaw: subjects, IssuersRaw: []json.RawMessage{issuer}}
		if err := st.tlsApp.AddAutomationPolicy(ap); err != nil {
			return fmt.Errorf("traefik_acme: resolver %q: adding the automation policy for its routers' names: %w", res, err)
		}
		for _, n := range subjects {
			all[n] = struct{}{}
		}
	}
	if len(all) == 0 {
		return nil
	}
	if err := st.tlsApp.Manage(all); err != nil {
		return fmt.Errorf("traefik_acme: managing the routers' names: %w", err)
	}
	managed := make([]string, 0, len(all))
	for n := range all {
		managed = append(managed, n)
	}
	sort.Strings(managed)
	a.logger.Info("managing certificates for traefik routers", zap.Strings("domains", managed))
	return nil
}

// covered reports whether name equals or is matched by one of subjects.
func covered(name string, subjects []string) bool {
	for _, s := range subjects {
		if strings.EqualFold(name, s) || certmagic.MatchWildcard(name, s) {
			return true
		}
	}
	return false
}
