package dnsbridge

// desec: libdns/desec v1.1.1. lego: providers/dns/desec.

import "github.com/libdns/desec"

const (
	desecNS       = "DESEC_"
	desecEnvToken = desecNS + "TOKEN"
)

func init() {
	ns := []string{desecNS}
	register(Spec{
		Code:       "desec",
		Namespaces: ns,
		Required:   [][]string{{desecEnvToken}},
		Optional:   timingVars(ns, "TTL", "PROPAGATION_TIMEOUT", "POLLING_INTERVAL", "HTTP_TIMEOUT"),
		FileVars:   true,
		// lego v5.6.0 providers/dns/desec NewDefaultConfig.
		Defaults: Timing{TTL: seconds(3600), PropagationTimeout: seconds(120), PollingInterval: seconds(4)},
		Module:   "github.com/libdns/desec",
		Notes:    "lego's default TTL is 3600 s, deSEC's usual minimum. `DESEC_HTTP_TIMEOUT` is ignored.",
	}, buildDeSEC)
}

func buildDeSEC(e *envReader, _ Options) (Provider, error) {
	token := e.require(desecEnvToken)
	e.httpTimeout(0)
	e.ignored("the libdns deSEC provider has no HTTP client setting", desecNS+"HTTP_TIMEOUT")
	if err := e.err(); err != nil {
		return nil, err
	}
	return &desec.Provider{Token: token}, nil
}
