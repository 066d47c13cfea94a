package dnsbridge

// duckdns: libdns/duckdns v0.3.0. lego: providers/dns/duckdns.

import "github.com/libdns/duckdns"

const (
	duckdnsNS       = "DUCKDNS_"
	duckdnsEnvToken = duckdnsNS + "TOKEN"
)

func init() {
	ns := []string{duckdnsNS}
	register(Spec{
		Code:       "duckdns",
		Namespaces: ns,
		Required:   [][]string{{duckdnsEnvToken}},
		Optional:   timingVars(ns, "PROPAGATION_TIMEOUT", "POLLING_INTERVAL", "HTTP_TIMEOUT", "SEQUENCE_INTERVAL"),
		FileVars:   true,
		Defaults:   Timing{PropagationTimeout: seconds(60), PollingInterval: seconds(2)},
		Module:     "github.com/libdns/duckdns",
		Notes: "DuckDNS holds one TXT value per domain. The libdns provider reads current records through 8.8.8.8. " +
			"`DUCKDNS_HTTP_TIMEOUT` and `DUCKDNS_SEQUENCE_INTERVAL` are ignored.",
	}, buildDuckDNS)
}

func buildDuckDNS(e *envReader, _ Options) (Provider, error) {
	token := e.require(duckdnsEnvToken)
	e.httpTimeout(0)
	e.ignored("the libdns DuckDNS provider has no such setting", duckdnsNS+"HTTP_TIMEOUT", duckdnsNS+"SEQUENCE_INTERVAL")
	if err := e.err(); err != nil {
		return nil, err
	}
	return &duckdns.Provider{APIToken: token}, nil
}
