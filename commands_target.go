package traefikacme

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
	"github.com/ac075510/caddy-traefik-acme/compat/config"
	"github.com/ac075510/caddy-traefik-acme/migrate"
)

// cmdStorageConfig is the part of a Caddy config the commands load a
// storage module from, as `caddy storage export` does.
type cmdStorageConfig struct {
	StorageRaw json.RawMessage `json:"storage,omitempty" caddy:"namespace=caddy.storage inline_key=module"`
}

// commandTarget is what import and export work against: the storage, and
// the resolvers of the traefik_acme app of the config, if any.
type commandTarget struct {
	storage     certmagic.Storage
	resolvers   map[string]*config.ACME // nil without a config or app
	withStorage map[string]bool         // resolvers whose storage (acme.json) the app uses
	config      string                  // the --config path, or ""
	cfgJSON     []byte                  // the adapted config, or nil
}

// loadCommandTarget loads the config at configFile (adapted with adapter, as
// `caddy run` does) and the storage it uses: its top-level "storage", else
// Caddy's default storage, which is also used without a config. The storage
// module lives as long as ctx.
func loadCommandTarget(ctx caddy.Context, configFile, adapter string) (*commandTarget, error) {
	t := &commandTarget{storage: caddy.DefaultStorage, config: configFile}
	if configFile == "" {
		if adapter != "" {
			return nil, errors.New("--adapter needs --config")
		}
		return t, nil
	}
	cfgJSON, _, _, err := caddycmd.LoadConfig(configFile, adapter)
	if err != nil {
		return nil, fmt.Errorf("loading config %s: %w", configFile, err)
	}
	if len(bytes.TrimSpace(cfgJSON)) == 0 {
		return t, nil
	}
	var sc cmdStorageConfig
	if err := json.Unmarshal(cfgJSON, &sc); err != nil {
		return nil, fmt.Errorf("decoding config %s: %w", configFile, err)
	}
	if len(sc.StorageRaw) > 0 {
		val, err := ctx.LoadModule(&sc, "StorageRaw")
		if err != nil {
			return nil, fmt.Errorf("loading the storage of config %s: %w", configFile, err)
		}
		stor, err := val.(caddy.StorageConverter).CertMagicStorage()
		if err != nil {
			return nil, fmt.Errorf("loading the storage of config %s: %w", configFile, err)
		}
		t.storage = stor
	}
	t.cfgJSON = cfgJSON
	t.resolvers, t.withStorage, err = configResolversWithStorage(cfgJSON)
	if err != nil {
		return nil, fmt.Errorf("reading the traefik_acme app of config %s: %w", configFile, err)
	}
	return t, nil
}

// configResolvers returns the effective resolvers (Traefik's defaults
// applied) of the traefik_acme app in a JSON config, computed as the app's
// Provision does: the resolvers of its Traefik static configuration (or of
// the TRAEFIK_* environment when it has neither a config file nor inline
// resolvers), overridden by name by the inline ones. It returns nil when the
// config has no traefik_acme app.
func configResolvers(cfgJSON []byte) (map[string]*config.ACME, error) {
	out, _, err := configResolversWithStorage(cfgJSON)
	return out, err
}

// configResolversWithStorage is [configResolvers], also returning which
// resolvers the app keeps an acme.json for (their storage).
func configResolversWithStorage(cfgJSON []byte) (map[string]*config.ACME, map[string]bool, error) {
	var top struct {
		Apps map[string]json.RawMessage `json:"apps"`
	}
	if err := json.Unmarshal(cfgJSON, &top); err != nil {
		return nil, nil, fmt.Errorf("decoding config: %w", err)
	}
	raw, ok := top.Apps["traefik_acme"]
	if !ok {
		return nil, nil, nil
	}
	var app App
	if err := jsonUnmarshalStrict(raw, &app); err != nil {
		return nil, nil, fmt.Errorf("decoding traefik_acme: %w", err)
	}
	app.logger = zap.NewNop()
	out, _, withStorage, err := app.effectiveConfig()
	if err != nil {
		return nil, nil, err
	}
	return out, withStorage, nil
}

// resolverTarget is the CA and email a resolver is imported or exported
// with, and where each came from.
type resolverTarget struct {
	ca, caFrom       string
	email, emailFrom string // email "" means the default of migrate
	caErr            error  // the CA cannot be known: ca is ""
}

// chooseTarget picks the CA and email for resolver name: the flag, else the
// resolver of the same name in the config, else the CA the resolver's
// account in the file is registered with (acct, from its registration URI)
// and emailDefault (a description of what an empty email means). When the
// CA cannot be known, rt.caErr says so and asks for --ca: certificates are
// stored under their CA's issuer key, and a guess (Let's Encrypt
// production) would file a staging or private CA's certificates as
// production ones.
func (t *commandTarget) chooseTarget(name, caFlag, emailFlag, emailDefault string, acct *acmejson.Account) resolverTarget {
	var rt resolverTarget
	cfgRes := t.resolvers[name]
	switch {
	case caFlag != "":
		rt.ca, rt.caFrom = caFlag, "--ca"
		if rewritten, ok := config.RewriteLegacyCAServer(caFlag); ok {
			rt.ca, rt.caFrom = rewritten, "--ca, rewritten from ACME v1"
		}
	case cfgRes != nil:
		rt.ca, rt.caFrom = cfgRes.CAServer, fmt.Sprintf("resolver %q of %s", name, t.config)
	default:
		ca, err := migrate.CAFromAccount(acct)
		if err != nil {
			where := "without --config"
			if t.resolvers != nil {
				where = fmt.Sprintf("%s defines no resolver %q", t.config, name)
			}
			rt.caErr = fmt.Errorf("cannot tell the CA of resolver %q (%s): %w; give its ACME directory URL with --ca", name, where, err)
			break
		}
		rt.ca, rt.caFrom = ca, "from the account's registration uri "+acct.Registration.URI
	}
	switch {
	case emailFlag != "":
		rt.email, rt.emailFrom = emailFlag, "--email"
	case cfgRes != nil && cfgRes.Email != "":
		rt.email, rt.emailFrom = cfgRes.Email, fmt.Sprintf("resolver %q of %s", name, t.config)
	default:
		rt.emailFrom = emailDefault
	}
	return rt
}

// otherCA says, when the chosen CA came from the config and the file's
// account for the resolver is registered with another CA (host and port
// of the registration URI), that its certificates come from that other CA;
// "" otherwise. Such certificates are not filed under the config's CA
// (staging certificates would be served as production ones): Caddy obtains
// new ones from its CA, and --ca imports them under their own.
func (rt resolverTarget) otherCA(acct *acmejson.Account) string {
	if rt.caFrom == "--ca" || strings.HasPrefix(rt.caFrom, "--ca,") || acct == nil || acct.Registration == nil || acct.Registration.URI == "" {
		return ""
	}
	reg, err := url.Parse(acmejson.UpgradeACMEv1URL(acct.Registration.URI))
	if err != nil || reg.Host == "" {
		return ""
	}
	ca, err := url.Parse(rt.ca)
	if err != nil || ca.Host == "" {
		return ""
	}
	hostPort := func(u *url.URL) string {
		if u.Port() != "" {
			return strings.ToLower(u.Host)
		}
		return strings.ToLower(u.Hostname()) + ":443"
	}
	if hostPort(reg) == hostPort(ca) {
		return ""
	}
	return fmt.Sprintf("its account in the file is registered at %s, not at the CA %s (%s): its certificates come from another CA and are not filed as that CA's; Caddy obtains new ones from %s when its sites need them, or pass --ca with the account's CA to import them under it", reg.Host, rt.ca, rt.caFrom, ca.Host)
}

// describeStorage names a storage for messages.
func describeStorage(s certmagic.Storage) string {
	if st, ok := s.(fmt.Stringer); ok {
		return st.String()
	}
	return fmt.Sprintf("%T", s)
}
