package dnsbridge

// ionos: libdns/ionos v1.2.0. lego: providers/dns/ionos.

import "github.com/libdns/ionos"

const (
	ionosNS        = "IONOS_"
	ionosEnvAPIKey = ionosNS + "API_KEY"
)

func init() {
	ns := []string{ionosNS}
	register(Spec{
		Code:       "ionos",
		Namespaces: ns,
		Required:   [][]string{{ionosEnvAPIKey}},
		Optional:   timingVars(ns, "TTL", "PROPAGATION_TIMEOUT", "POLLING_INTERVAL", "HTTP_TIMEOUT"),
		FileVars:   true,
		Defaults:   Timing{TTL: seconds(300), PropagationTimeout: seconds(900), PollingInterval: seconds(2)},
		Module:     "github.com/libdns/ionos",
		Notes:      "The key has the form `prefix.secret`. `IONOS_HTTP_TIMEOUT` is ignored.",
	}, buildIONOS)
}

func buildIONOS(e *envReader, _ Options) (Provider, error) {
	key := e.require(ionosEnvAPIKey)
	e.httpTimeout(0)
	e.ignored("the libdns IONOS provider has no HTTP client setting", ionosNS+"HTTP_TIMEOUT")
	if err := e.err(); err != nil {
		return nil, err
	}
	return &ionos.Provider{AuthAPIToken: key}, nil
}
