package traefikacme

import (
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"

	cfparse "github.com/ac075510/caddy-traefik-acme/caddyfile"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("traefik_acme", parseGlobalOption)
}

// parseGlobalOption sets up the traefik_acme app from the global option of
// the same name; see package caddyfile for the syntax. The option may be
// given more than once; its blocks are merged.
func parseGlobalOption(d *caddyfile.Dispenser, existingVal any) (any, error) {
	var existing *cfparse.Options
	if app, ok := existingVal.(httpcaddyfile.App); ok {
		prev, err := optionsFromAppJSON(app.Value)
		if err != nil {
			return nil, err
		}
		existing = prev
	}
	opts, err := cfparse.ParseGlobalOption(d, existing)
	if err != nil {
		return nil, err
	}
	app := App{
		Config:         opts.Config,
		ComposeService: opts.ComposeService,
		EntryPoints:    opts.EntryPoints,
		Resolvers:      opts.Resolvers,
		Routers:        opts.Routers,
		IgnoreRouters:  opts.IgnoreRouters,
	}
	return httpcaddyfile.App{
		Name:  "traefik_acme",
		Value: caddyconfig.JSON(app, nil),
	}, nil
}

func optionsFromAppJSON(raw []byte) (*cfparse.Options, error) {
	var app App
	if err := jsonUnmarshalStrict(raw, &app); err != nil {
		return nil, err
	}
	return &cfparse.Options{Config: app.Config, ComposeService: app.ComposeService, EntryPoints: app.EntryPoints, Resolvers: app.Resolvers, Routers: app.Routers, IgnoreRouters: app.IgnoreRouters}, nil
}
