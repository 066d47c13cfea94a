package dnsbridge

// dnsimple: libdns/dnsimple v0.5.0. lego: providers/dns/dnsimple.

import "github.com/libdns/dnsimple"

const (
	dnsimpleNS         = "DNSIMPLE_"
	dnsimpleEnvToken   = dnsimpleNS + "OAUTH_TOKEN"
	dnsimpleEnvBaseURL = dnsimpleNS + "BASE_URL"
	dnsimpleEnvDebug   = dnsimpleNS + "DEBUG"
)

func init() {
	ns := []string{dnsimpleNS}
	register(Spec{
		Code:       "dnsimple",
		Namespaces: ns,
		Required:   [][]string{{dnsimpleEnvToken}},
		Optional:   append([]string{dnsimpleEnvBaseURL, dnsimpleEnvDebug}, timingVars(ns, "TTL", "PROPAGATION_TIMEOUT", "POLLING_INTERVAL")...),
		FileVars:   true,
		Defaults:   Timing{TTL: seconds(120), PropagationTimeout: seconds(60), PollingInterval: seconds(2)},
		Module:     "github.com/libdns/dnsimple",
		Notes:      "`DNSIMPLE_BASE_URL` (e.g. the sandbox) is honoured; the account ID is discovered from the token. `DNSIMPLE_DEBUG` is ignored.",
	}, buildDNSimple)
}

func buildDNSimple(e *envReader, _ Options) (Provider, error) {
	token := e.require(dnsimpleEnvToken)
	baseURL := e.first(dnsimpleEnvBaseURL)
	e.ignored("debug output could leak the token", dnsimpleEnvDebug)
	if err := e.err(); err != nil {
		return nil, err
	}
	return &dnsimple.Provider{APIAccessToken: token, APIURL: baseURL}, nil
}
