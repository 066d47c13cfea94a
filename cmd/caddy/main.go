// Command caddy is Caddy with the standard modules and the traefik_acme
// plugin: the same program xcaddy builds with
// `xcaddy build --with github.com/ac075510/caddy-traefik-acme`.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	// plug in Caddy modules here
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/ac075510/caddy-traefik-acme"
)

func main() {
	caddycmd.Main()
}
