package traefikacme

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"

	"github.com/ac075510/caddy-traefik-acme/compat/config"
)

// cmdStorageConfig is the part of a Caddy config the commands load a
// storage module from, as `caddy storage export` does.
type cmdStorageConfig struct {
	StorageRaw json.RawMessage `json:"storage,omitempty" caddy:"namespace=caddy.storage inline_key=module"`
}

// commandTarget is what import and export work against: the storage, and
// the resolvers of the traefik_acme app of the config, if any.
type commandTarget struct {
	storage   certmagic.Storage
	resolvers map[string]*config.ACME // nil without a config or app
	config    string                  // the --config path, or ""
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
	t.resolvers, err = configResolvers(cfgJSON)
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
	var top struct {
		Apps map[string]json.RawMessage `json:"apps"`
	}
	if err := json.Unmarshal(cfgJSON, &top); err != nil {
		return nil, fmt.Errorf("decoding config: %w", err)
	}
	raw, ok := top.Apps["traefik_acme"]
	if !ok {
		return nil, nil
	}
	var app App
	if err := jsonUnmarshalStrict(raw, &app); err != nil {
		return nil, fmt.Errorf("decoding traefik_acme: %w", err)
	}
	app.logger = zap.NewNop()
	out, _, _, err := app.effectiveConfig()
	if err != nil {
		return nil, err
	}
	return out, nil
}

// resolverTarget is the CA and email a resolver is imported or exported
// with, and where each came from.
type resolverTarget struct {
	ca, caFrom       string
	email, emailFrom string // email "" means the default of migrate
}

// chooseTarget picks the CA and email for resolver name: the flag, else the
// resolver of the same name in the config, else Let's Encrypt production and
// emailDefault (a description of what an empty email means).
func (t *commandTarget) chooseTarget(name, caFlag, emailFlag, emailDefault string) resolverTarget {
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
		rt.ca, rt.caFrom = config.LetsEncryptProduction, "default: Let's Encrypt production"
		if t.resolvers != nil {
			rt.caFrom = fmt.Sprintf("default: Let's Encrypt production; %s defines no resolver %q", t.config, name)
		}
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

// describeStorage names a storage for messages.
func describeStorage(s certmagic.Storage) string {
	if st, ok := s.(fmt.Stringer); ok {
		return st.String()
	}
	return fmt.Sprintf("%T", s)
}
