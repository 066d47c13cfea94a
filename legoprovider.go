package traefikacme

import (
	"context"
	"fmt"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/certmagic"
	"github.com/libdns/libdns"

	"github.com/ac075510/caddy-traefik-acme/dnsbridge"
)

func init() {
	caddy.RegisterModule(legoProvider{})
}

// legoProvider is the DNS provider module dns.providers.traefik_lego: a
// lego provider code (Traefik's dnsChallenge.provider) whose credentials
// come from lego's environment variables, as in Traefik. The issuer
// configures it for resolvers with a dnsChallenge; it can also be used
// directly:
//
//	{"name": "traefik_lego", "code": "cloudflare", "env": {"CF_DNS_API_TOKEN": "{env.MY_TOKEN}"}}
//
// Caddyfile: see UnmarshalCaddyfile.
type legoProvider struct {
	// Code is the lego provider code, such as cloudflare or route53.
	Code string `json:"code,omitempty"`

	// Env sets lego environment variables for this provider only; they win
	// over the process environment. Values may hold Caddy placeholders such
	// as {env.MY_TOKEN}. Secret: values are never logged.
	Env map[string]string `json:"env,omitempty"`

	// Resolver is the name of the resolver using this provider, for error
	// messages only.
	Resolver string `json:"resolver,omitempty"`

	prov dnsbridge.Provider // set at Provision
}

// CaddyModule returns the Caddy module information.
func (legoProvider) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "dns.providers.traefik_lego",
		New: func() caddy.Module { return new(legoProvider) },
	}
}

// Provision builds the libdns provider from the environment.
func (p *legoProvider) Provision(ctx caddy.Context) error {
	prov, _, err := newDNSProvider(ctx, p.Code, p.Env)
	if err != nil {
		if p.Resolver != "" {
			return fmt.Errorf("resolver %q: dnsChallenge.provider: %w", p.Resolver, err)
		}
		return fmt.Errorf("dnsChallenge.provider: %w", err)
	}
	p.prov = prov
	return nil
}

// newDNSProvider expands placeholders in env and builds the provider for
// code with dnsbridge.
func newDNSProvider(ctx caddy.Context, code string, env map[string]string) (dnsbridge.Provider, dnsbridge.Timing, error) {
	overrides, err := expandEnv(env)
	if err != nil {
		return nil, dnsbridge.Timing{}, err
	}
	return dnsbridge.New(code, dnsbridge.Options{Lookup: lookupEnv, Overrides: overrides, Logger: ctx.Logger()})
}

// AppendRecords implements libdns.RecordAppender.
func (p *legoProvider) AppendRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	return p.prov.AppendRecords(ctx, zone, recs)
}

// DeleteRecords implements libdns.RecordDeleter.
func (p *legoProvider) DeleteRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	return p.prov.DeleteRecords(ctx, zone, recs)
}

// UnmarshalCaddyfile sets up the provider from Caddyfile tokens:
//
//	dns traefik_lego <code> {
//		env <NAME> <value>
//	}
//
// <code> is the lego provider code (Traefik's dnsChallenge.provider); each
// env line sets one lego environment variable for this provider only
// (values may hold placeholders such as {env.MY_TOKEN}). The block is
// optional: without it the credentials come from the process environment,
// as in Traefik.
func (p *legoProvider) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume provider name
	if !d.NextArg() {
		return d.Errf("traefik_lego: missing lego provider code (dns traefik_lego <code>)")
	}
	p.Code = d.Val()
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "env":
			var name, value string
			if !d.Args(&name, &value) {
				return d.ArgErr()
			}
			if d.NextArg() {
				return d.ArgErr()
			}
			if p.Env == nil {
				p.Env = make(map[string]string)
			}
			if _, dup := p.Env[name]; dup {
				return d.Errf("traefik_lego: env %s set twice", name)
			}
			p.Env[name] = value
		default:
			return d.Errf("traefik_lego: unrecognized subdirective %q", d.Val())
		}
	}
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner     = (*legoProvider)(nil)
	_ caddyfile.Unmarshaler = (*legoProvider)(nil)
	_ certmagic.DNSProvider = (*legoProvider)(nil)
)
