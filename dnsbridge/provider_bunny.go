package dnsbridge

// bunny: libdns/bunny v1.6.1. lego: providers/dns/bunny.

import "github.com/libdns/bunny"

const (
	bunnyNS        = "BUNNY_"
	bunnyEnvAPIKey = bunnyNS + "API_KEY"
)

func init() {
	ns := []string{bunnyNS}
	register(Spec{
		Code:       "bunny",
		Namespaces: ns,
		Required:   [][]string{{bunnyEnvAPIKey}},
		Optional:   timingVars(ns, "TTL", "PROPAGATION_TIMEOUT", "POLLING_INTERVAL"),
		FileVars:   true,
		Defaults:   Timing{TTL: seconds(60), PropagationTimeout: seconds(120), PollingInterval: seconds(2)},
		Module:     "github.com/libdns/bunny",
		Notes:      "Account API key.",
	}, buildBunny)
}

func buildBunny(e *envReader, _ Options) (Provider, error) {
	key := e.require(bunnyEnvAPIKey)
	if err := e.err(); err != nil {
		return nil, err
	}
	return &bunny.Provider{AccessKey: key}, nil
}
