package dnsbridge

// vultr: libdns/vultr/v2 v2.0.2. lego: providers/dns/vultr.

import "github.com/libdns/vultr/v2"

const (
	vultrNS        = "VULTR_"
	vultrEnvAPIKey = vultrNS + "API_KEY"
)

func init() {
	ns := []string{vultrNS}
	register(Spec{
		Code:       "vultr",
		Namespaces: ns,
		Required:   [][]string{{vultrEnvAPIKey}},
		Optional:   timingVars(ns, "TTL", "PROPAGATION_TIMEOUT", "POLLING_INTERVAL", "HTTP_TIMEOUT"),
		FileVars:   true,
		Defaults:   Timing{TTL: seconds(120), PropagationTimeout: seconds(60), PollingInterval: seconds(2)},
		Module:     "github.com/libdns/vultr/v2",
		Notes:      "`VULTR_HTTP_TIMEOUT` is ignored.",
	}, buildVultr)
}

func buildVultr(e *envReader, _ Options) (Provider, error) {
	key := e.require(vultrEnvAPIKey)
	e.httpTimeout(0)
	e.ignored("the libdns Vultr provider has no HTTP client setting", vultrNS+"HTTP_TIMEOUT")
	if err := e.err(); err != nil {
		return nil, err
	}
	return &vultr.Provider{APIToken: key}, nil
}
