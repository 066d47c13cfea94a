package traefikacme

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/ac075510/caddy-traefik-acme/compat/config"
	"github.com/ac075510/caddy-traefik-acme/migrate"
)

// configOwners reads, from a JSON Caddy config, which names the sites
// obtain through which traefik resolver: the subjects of every TLS
// automation policy whose issuers include {"module": "traefik"}. A policy
// without subjects (the Caddyfile's global cert_issuer) makes its resolver
// the catch-all. resolvers (the effective resolvers of the config's
// traefik_acme app) tell which resolvers solve DNS-01.
func configOwners(cfgJSON []byte, resolvers map[string]*config.ACME) (migrate.Owners, error) {
	var cfg struct {
		Apps struct {
			TLS struct {
				Automation struct {
					Policies []struct {
						Subjects []string          `json:"subjects"`
						Issuers  []json.RawMessage `json:"issuers"`
					} `json:"policies"`
				} `json:"automation"`
			} `json:"tls"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
		return migrate.Owners{}, fmt.Errorf("decoding the tls app: %w", err)
	}
	o := migrate.Owners{Sites: map[string][]string{}, DNS01: map[string]bool{}}
	for name, res := range resolvers {
		o.DNS01[name] = res != nil && res.DNSChallenge != nil
	}
	for _, p := range cfg.Apps.TLS.Automation.Policies {
		for _, raw := range p.Issuers {
			var iss struct {
				Module   string `json:"module"`
				Resolver string `json:"resolver"`
			}
			if json.Unmarshal(raw, &iss) != nil || iss.Module != "traefik" || iss.Resolver == "" {
				continue
			}
			if len(p.Subjects) == 0 {
				if o.CatchAll == "" {
					o.CatchAll = iss.Resolver
				}
				continue
			}
			for _, s := range p.Subjects {
				if !slices.Contains(o.Sites[iss.Resolver], s) {
					o.Sites[iss.Resolver] = append(o.Sites[iss.Resolver], s)
				}
			}
		}
	}
	return o, nil
}

// storageOwners returns, sorted, the resolvers whose storage is the
// acme.json at path (compared as absolute, cleaned paths): the resolvers a
// Traefik v1 file found there belongs to.
func storageOwners(path string, resolvers map[string]*config.ACME) []string {
	abs := func(p string) string {
		if a, err := filepath.Abs(p); err == nil {
			return filepath.Clean(a)
		}
		return filepath.Clean(p)
	}
	want := abs(path)
	var out []string
	for _, name := range sortedKeys(resolvers) {
		if r := resolvers[name]; r != nil && r.Storage != "" && abs(r.Storage) == want {
			out = append(out, name)
		}
	}
	return out
}

// storageResolvers returns the config's resolvers that keep an acme.json
// (their storage), or nil without a config.
func (t *commandTarget) storageResolvers() map[string]*config.ACME {
	out := map[string]*config.ACME{}
	for name, res := range t.resolvers {
		if t.withStorage[name] {
			out[name] = res
		}
	}
	return out
}
