package traefikacme

import "github.com/ac075510/caddy-traefik-acme/compat/acmejson"

// printable is acmejson.Printable: s made safe to print on a terminal.
func printable(s string) string { return acmejson.Printable(s) }
