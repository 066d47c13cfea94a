package dnsbridge

// godaddy: libdns/godaddy v1.1.0. lego: providers/dns/godaddy.

import "github.com/libdns/godaddy"

const (
	godaddyNS           = "GODADDY_"
	godaddyEnvAPIKey    = godaddyNS + "API_KEY"
	godaddyEnvAPISecret = godaddyNS + "API_SECRET"
)

func init() {
	ns := []string{godaddyNS}
	register(Spec{
		Code:       "godaddy",
		Namespaces: ns,
		Required:   [][]string{{godaddyEnvAPIKey}, {godaddyEnvAPISecret}},
		Optional:   timingVars(ns, "TTL", "PROPAGATION_TIMEOUT", "POLLING_INTERVAL", "HTTP_TIMEOUT"),
		FileVars:   true,
		Defaults:   Timing{TTL: seconds(600), PropagationTimeout: seconds(120), PollingInterval: seconds(2)},
		Module:     "github.com/libdns/godaddy",
		Notes:      "Key and secret are joined as `key:secret` (the `sso-key` token). `GODADDY_HTTP_TIMEOUT` is ignored.",
	}, buildGoDaddy)
}

func buildGoDaddy(e *envReader, _ Options) (Provider, error) {
	key := e.require(godaddyEnvAPIKey)
	secret := e.require(godaddyEnvAPISecret)
	e.httpTimeout(0)
	e.ignored("the libdns GoDaddy provider has no HTTP client setting", godaddyNS+"HTTP_TIMEOUT")
	if err := e.err(); err != nil {
		return nil, err
	}
	return &godaddy.Provider{APIToken: key + ":" + secret}, nil
}
