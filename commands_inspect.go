package traefikacme

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
)

// inspect implements `caddy traefik inspect`.
func (c cmdIO) inspect(_ context.Context, fl caddycmd.Flags) (int, error) {
	path, err := acmeJSONArg(fl, "inspect")
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	now := c.now()
	if s := fl.String("now"); s != "" {
		now, err = time.Parse(time.RFC3339, s)
		if err != nil {
			return caddy.ExitCodeFailedStartup, fmt.Errorf("parsing --now: %w", err)
		}
	}
	f, info, err := loadExisting(path, "", c.logger())
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	rep := acmejson.Inspect(path, f, info, now)
	if fl.Bool("json") {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return caddy.ExitCodeFailedStartup, fmt.Errorf("encoding report: %w", err)
		}
		b = append(b, '\n')
		if _, err := c.out.Write(b); err != nil {
			return caddy.ExitCodeFailedStartup, fmt.Errorf("writing report: %w", err)
		}
		return caddy.ExitCodeSuccess, nil
	}
	if err := rep.WriteText(c.out); err != nil {
		return caddy.ExitCodeFailedStartup, fmt.Errorf("writing report: %w", err)
	}
	return caddy.ExitCodeSuccess, nil
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
