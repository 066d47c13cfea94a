// Command caddy is Caddy with the standard modules, the traefik_acme plugin
// and its lego bridge (every DNS provider lego has): the same program
// xcaddy builds with
//
//	xcaddy build --with github.com/ac075510/caddy-traefik-acme --with github.com/ac075510/caddy-traefik-acme/lego
//
// It is its own Go module, so that the core module never requires lego.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	// plug in Caddy modules here
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/ac075510/caddy-traefik-acme"
	_ "github.com/ac075510/caddy-traefik-acme/lego"
)

func main() {
	caddycmd.Main()
}
