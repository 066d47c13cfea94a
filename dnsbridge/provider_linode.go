package dnsbridge

// linode (alias linodev4): libdns/linode v0.5.0. lego: providers/dns/linode.

import "github.com/libdns/linode"

const (
	linodeNS           = "LINODE_"
	linodeEnvToken     = linodeNS + "TOKEN"
	linodeEnvLegacyKey = linodeNS + "API_KEY"
)

func init() {
	ns := []string{linodeNS}
	register(Spec{
		Code:       "linode",
		Aliases:    []string{"linodev4"},
		Namespaces: ns,
		Required:   [][]string{{linodeEnvToken}},
		Optional:   append([]string{linodeEnvLegacyKey}, timingVars(ns, "TTL", "PROPAGATION_TIMEOUT", "POLLING_INTERVAL", "HTTP_TIMEOUT")...),
		FileVars:   true,
		// lego v5.6.0 providers/dns/linode NewDefaultConfig. lego computes
		// the wait until Linode's next 15-minute zone refresh only when
		// LINODE_PROPAGATION_TIMEOUT is 0 or less.
		Defaults: Timing{TTL: seconds(300), PropagationTimeout: seconds(120), PollingInterval: seconds(15)},
		Module:   "github.com/libdns/linode",
		Notes: "API v4 personal access token. The retired v3 `LINODE_API_KEY` is rejected. `LINODE_PROPAGATION_TIMEOUT=0` " +
			"means lego's default (120 s) here; lego computes the wait for Linode's next 15-minute refresh instead. " +
			"`LINODE_HTTP_TIMEOUT` is ignored.",
	}, buildLinode)
}

func buildLinode(e *envReader, _ Options) (Provider, error) {
	token := e.first(linodeEnvToken)
	if token == "" && e.isSet(linodeEnvLegacyKey) {
		e.failf("%s is Linode's retired API v3 key; create a personal access token and set %s", linodeEnvLegacyKey, linodeEnvToken)
	} else if token == "" {
		e.require(linodeEnvToken)
	}
	e.httpTimeout(0)
	e.ignored("the libdns Linode provider has no HTTP client setting", linodeNS+"HTTP_TIMEOUT")
	if err := e.err(); err != nil {
		return nil, err
	}
	return &linode.Provider{APIToken: token}, nil
}
