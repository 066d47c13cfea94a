// Package caddyfile turns the tokens of the traefik_acme Caddyfile global
// option into compat/config values. It only parses: it registers nothing and
// does no I/O, so the root package can call it from UnmarshalCaddyfile.
//
// Subdirective names are the snake_case spellings of Traefik's option names
// (caServer → ca_server). Durations follow Traefik's rule: a bare integer is
// seconds, anything else is Go duration syntax (10s, 2m).
package caddyfile

import (
	"slices"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/ac075510/caddy-traefik-acme/compat/config"
)

// Options is what the traefik_acme global option holds.
type Options struct {
	// Config is the path of a Traefik static configuration file.
	Config string
	// ComposeService names the Traefik service of a compose file given as
	// Config, when its image name does not contain "traefik".
	ComposeService string
	// EntryPoints maps an entry point name to its address.
	EntryPoints map[string]string
	// Resolvers maps a resolver name to its ACME configuration.
	Resolvers map[string]*config.ACME
	// Routers are more places to read Traefik routers from: dynamic
	// configuration files, directories of them, or compose files with
	// labels.
	Routers []string
	// IgnoreRouters turns off reading routers (routers off).
	IgnoreRouters bool
}

// ParseGlobalOption parses the traefik_acme global option:
//
//	traefik_acme {
//		config <path> [<compose_service>]
//		entrypoint <name> <address>
//		routers <path>... | off
//		resolver <name> {
//			<resolver subdirectives; see ParseResolver>
//		}
//	}
//
// The dispenser must be positioned before the option name. Repeating the
// option in one Caddyfile merges the blocks; a resolver or entry point
// defined twice is an error.
func ParseGlobalOption(d *caddyfile.Dispenser, existing *Options) (*Options, error) {
	opts := existing
	if opts == nil {
		opts = &Options{}
	}
	d.Next() // consume option name
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "config":
			args := d.RemainingArgs()
			if len(args) < 1 || len(args) > 2 {
				return nil, d.ArgErr()
			}
			if opts.Config != "" {
				return nil, d.Errf("config: already set to %q", opts.Config)
			}
			opts.Config = args[0]
			if len(args) == 2 {
				opts.ComposeService = args[1]
			}
		case "entrypoint", "entry_point":
			args := d.RemainingArgs()
			if len(args) != 2 {
				return nil, d.Errf("entrypoint: want <name> <address>, got %d arguments", len(args))
			}
			if opts.EntryPoints == nil {
				opts.EntryPoints = make(map[string]string)
			}
			if _, dup := opts.EntryPoints[args[0]]; dup {
				return nil, d.Errf("entrypoint %q: defined twice", args[0])
			}
			opts.EntryPoints[args[0]] = args[1]
		case "routers":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return nil, d.Errf("routers: want <path>... (dynamic configuration files, directories or compose files) or off")
			}
			if len(args) == 1 && args[0] == "off" {
				opts.IgnoreRouters = true
				continue
			}
			opts.Routers = append(opts.Routers, args...)
		case "resolver":
			if !d.NextArg() {
				return nil, d.Errf("resolver: missing name")
			}
			name := d.Val()
			if d.NextArg() {
				return nil, d.Errf("resolver %q: unexpected argument %q before the block", name, d.Val())
			}
			if opts.Resolvers == nil {
				opts.Resolvers = make(map[string]*config.ACME)
			}
			if _, dup := opts.Resolvers[name]; dup {
				return nil, d.Errf("resolver %q: defined twice", name)
			}
			acme, err := ParseResolver(d, name)
			if err != nil {
				return nil, err
			}
			opts.Resolvers[name] = acme
		default:
			return nil, d.Errf("traefik_acme: unrecognized subdirective '%s' (want config, entrypoint or resolver)", d.Val())
		}
	}
	return opts, nil
}

// ParseResolver parses the block of one resolver. The dispenser is
// positioned on the resolver's name; the block follows.
//
//	resolver <name> {
//		email <address>
//		ca_server <url>
//		storage <path/to/acme.json>
//		key_type EC256|EC384|RSA2048|RSA4096|RSA8192
//		preferred_chain <issuer common name>
//		eab <kid> <hmac_encoded>
//		certificates_duration <hours>
//		ca_certificates <pem_file...>
//		ca_system_cert_pool [true|false]
//		ca_server_name <name>
//		client_timeout <duration>
//		client_response_header_timeout <duration>
//		certificate_timeout <duration>
//		profile <name>
//		email_addresses <address...>
//		disable_common_name [true|false]
//		order_rate_limit <orders> <window>
//		http_challenge [<entry_point>] {
//			entry_point <name>
//			delay <duration>
//		}
//		tls_challenge {
//			delay <duration>
//		}
//		dns_challenge [<provider>] {
//			provider <code>
//			resolvers <host:port...>
//			delay_before_check <duration>
//			disable_propagation_check [true|false]
//			propagation {
//				delay_before_checks <duration>
//				disable_checks [true|false]
//				disable_ans_checks [true|false]
//				require_all_rns [true|false]
//			}
//			env <NAME> <value>
//		}
//	}
func ParseResolver(d *caddyfile.Dispenser, name string) (*config.ACME, error) {
	a := &config.ACME{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		sub := d.Val()
		var err error
		switch sub {
		case "email":
			a.Email, err = oneArg(d, name)
		case "ca_server":
			a.CAServer, err = oneArg(d, name)
		case "storage":
			a.Storage, err = oneArg(d, name)
		case "key_type":
			// A Traefik file with another value loads (as RSA4096, with a
			// warning, as in Traefik); a Caddyfile is new configuration,
			// so a typo is refused here.
			a.KeyType, err = oneArg(d, name)
			if err == nil && !slices.Contains(config.KeyTypes, a.KeyType) {
				err = d.Errf("resolver %q: key_type: unknown key type %q (Traefik's keyType, case-sensitive); allowed: %s", name, a.KeyType, strings.Join(config.KeyTypes, ", "))
			}
		case "preferred_chain":
			a.PreferredChain, err = oneArg(d, name)
		case "eab":
			args := d.RemainingArgs()
			if len(args) != 2 {
				return nil, d.Errf("resolver %q: eab: want <kid> <hmac_encoded>, got %d arguments", name, len(args))
			}
			a.EAB = &config.EAB{KID: args[0], HMACEncoded: args[1]}
		case "certificates_duration":
			var s string
			if s, err = oneArg(d, name); err == nil {
				a.CertificatesDuration, err = strconv.Atoi(s)
				if err != nil {
					err = d.Errf("resolver %q: certificates_duration: %q is not a whole number of hours", name, s)
				}
			}
		case "ca_certificates":
			a.CACertificates, err = someArgs(d, name)
		case "ca_system_cert_pool":
			a.CASystemCertPool, err = boolArg(d, name)
		case "ca_server_name":
			a.CAServerName, err = oneArg(d, name)
		case "client_timeout":
			a.ClientTimeout, err = durationArg(d, name)
		case "client_response_header_timeout":
			a.ClientResponseHeaderTimeout, err = durationArg(d, name)
		case "certificate_timeout":
			a.CertificateTimeout, err = durationArg(d, name)
		case "profile":
			a.Profile, err = oneArg(d, name)
		case "email_addresses":
			a.EmailAddresses, err = someArgs(d, name)
		case "disable_common_name":
			a.DisableCommonName, err = boolArg(d, name)
		case "order_rate_limit":
			a.OrderRateLimit, err = parseRateLimit(d, name)
		case "http_challenge":
			a.HTTPChallenge, err = parseHTTPChallenge(d, name)
		case "tls_challenge":
			a.TLSChallenge, err = parseTLSChallenge(d, name)
		case "dns_challenge":
			a.DNSChallenge, err = parseDNSChallenge(d, name)
		default:
			return nil, d.Errf("resolver %q: unrecognized subdirective '%s'", name, sub)
		}
		if err != nil {
			return nil, err
		}
	}
	return a, nil
}

func parseHTTPChallenge(d *caddyfile.Dispenser, name string) (*config.HTTPChallenge, error) {
	h := &config.HTTPChallenge{}
	args := d.RemainingArgs()
	switch len(args) {
	case 0:
	case 1:
		h.EntryPoint = args[0]
	default:
		return nil, d.Errf("resolver %q: http_challenge: want at most one entry point, got %d arguments", name, len(args))
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "entry_point", "entrypoint":
			h.EntryPoint, err = oneArg(d, name)
		case "delay":
			h.Delay, err = durationArg(d, name)
		default:
			return nil, d.Errf("resolver %q: http_challenge: unrecognized subdirective '%s'", name, d.Val())
		}
		if err != nil {
			return nil, err
		}
	}
	return h, nil
}

func parseTLSChallenge(d *caddyfile.Dispenser, name string) (*config.TLSChallenge, error) {
	t := &config.TLSChallenge{}
	if d.NextArg() {
		return nil, d.Errf("resolver %q: tls_challenge: unexpected argument %q", name, d.Val())
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "delay":
			v, err := durationArg(d, name)
			if err != nil {
				return nil, err
			}
			t.Delay = v
		default:
			return nil, d.Errf("resolver %q: tls_challenge: unrecognized subdirective '%s'", name, d.Val())
		}
	}
	return t, nil
}

func parseDNSChallenge(d *caddyfile.Dispenser, name string) (*config.DNSChallenge, error) {
	c := &config.DNSChallenge{}
	args := d.RemainingArgs()
	switch len(args) {
	case 0:
	case 1:
		c.Provider = args[0]
	default:
		return nil, d.Errf("resolver %q: dns_challenge: want at most one provider code, got %d arguments", name, len(args))
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "provider":
			c.Provider, err = oneArg(d, name)
		case "resolvers":
			c.Resolvers, err = someArgs(d, name)
		case "delay_before_check":
			c.DelayBeforeCheck, err = durationArg(d, name)
		case "disable_propagation_check":
			c.DisablePropagationCheck, err = boolArg(d, name)
		case "propagation":
			if d.NextArg() {
				return nil, d.Errf("resolver %q: propagation: unexpected argument %q", name, d.Val())
			}
			p := &config.Propagation{}
			for pn := d.Nesting(); d.NextBlock(pn); {
				var perr error
				switch d.Val() {
				case "delay_before_checks":
					p.DelayBeforeChecks, perr = durationArg(d, name)
				case "disable_checks":
					p.DisableChecks, perr = boolArg(d, name)
				case "disable_ans_checks":
					p.DisableANSChecks, perr = boolArg(d, name)
				case "require_all_rns":
					p.RequireAllRNS, perr = boolArg(d, name)
				default:
					return nil, d.Errf("resolver %q: dns_challenge propagation: unrecognized subdirective '%s'", name, d.Val())
				}
				if perr != nil {
					return nil, perr
				}
			}
			c.Propagation = p
		case "env":
			args := d.RemainingArgs()
			if len(args) != 2 {
				return nil, d.Errf("resolver %q: dns_challenge env: want <NAME> <value>, got %d arguments", name, len(args))
			}
			if c.Env == nil {
				c.Env = make(map[string]string)
			}
			c.Env[args[0]] = args[1]
		default:
			return nil, d.Errf("resolver %q: dns_challenge: unrecognized subdirective '%s'", name, d.Val())
		}
		if err != nil {
			return nil, err
		}
	}
	return c, nil
}

func oneArg(d *caddyfile.Dispenser, name string) (string, error) {
	sub := d.Val()
	args := d.RemainingArgs()
	if len(args) != 1 {
		return "", d.Errf("resolver %q: %s: want exactly one argument, got %d", name, sub, len(args))
	}
	return args[0], nil
}

func someArgs(d *caddyfile.Dispenser, name string) ([]string, error) {
	sub := d.Val()
	args := d.RemainingArgs()
	if len(args) == 0 {
		return nil, d.Errf("resolver %q: %s: want at least one argument", name, sub)
	}
	return args, nil
}

func boolArg(d *caddyfile.Dispenser, name string) (bool, error) {
	sub := d.Val()
	args := d.RemainingArgs()
	switch len(args) {
	case 0:
		return true, nil
	case 1:
		b, err := strconv.ParseBool(args[0])
		if err != nil {
			return false, d.Errf("resolver %q: %s: %q is not true or false", name, sub, args[0])
		}
		return b, nil
	}
	return false, d.Errf("resolver %q: %s: want at most one argument, got %d", name, sub, len(args))
}

// parseRateLimit parses "order_rate_limit <orders> <window>".
func parseRateLimit(d *caddyfile.Dispenser, name string) (*config.RateLimit, error) {
	sub := d.Val()
	args := d.RemainingArgs()
	if len(args) != 2 {
		return nil, d.Errf("resolver %q: %s: want <orders> <window>, got %d arguments", name, sub, len(args))
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 1 {
		return nil, d.Errf("resolver %q: %s: %q is not a whole number of orders of at least 1", name, sub, args[0])
	}
	w, err := config.ParseDuration(args[1])
	if err != nil {
		return nil, d.Errf("resolver %q: %s: %v", name, sub, err)
	}
	if w <= 0 {
		return nil, d.Errf("resolver %q: %s: the window must be longer than 0, got %s", name, sub, args[1])
	}
	return &config.RateLimit{Events: n, Window: w}, nil
}

func durationArg(d *caddyfile.Dispenser, name string) (config.Duration, error) {
	sub := d.Val()
	s, err := oneArg(d, name)
	if err != nil {
		return 0, err
	}
	v, err := config.ParseDuration(s)
	if err != nil {
		return 0, d.Errf("resolver %q: %s: %v", name, sub, err)
	}
	if v < 0 {
		return 0, d.Errf("resolver %q: %s: must not be negative, got %s", name, sub, s)
	}
	return v, nil
}
