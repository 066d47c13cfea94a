// Command caddy is the Caddy the cluster test runs three of: the standard
// modules, the traefik_acme plugin and github.com/pberkel/caddy-storage-redis
// (caddy.storage.redis). It lives here, not in the plugin's root package,
// so that the Redis module never enters a Caddy built with the plugin alone.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"
	_ "github.com/pberkel/caddy-storage-redis"

	_ "github.com/ac075510/caddy-traefik-acme"
)

func main() {
	caddycmd.Main()
}
