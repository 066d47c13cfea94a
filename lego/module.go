package lego

import (
	"github.com/caddyserver/caddy/v2"
)

func init() {
	caddy.RegisterModule(Bridge{})
}

// Bridge is the Caddy module traefik_acme.dns_bridges.lego. It has no
// configuration: linking this module (xcaddy build --with
// github.com/ac075510/caddy-traefik-acme/lego) registers lego's DNS
// providers into the traefik_acme resolvers' provider selection, and the
// module makes that visible in `caddy list-modules`.
type Bridge struct{}

// CaddyModule returns the Caddy module information.
func (Bridge) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "traefik_acme.dns_bridges.lego",
		New: func() caddy.Module { return new(Bridge) },
	}
}
