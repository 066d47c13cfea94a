package dnsbridge

// digitalocean: libdns/digitalocean (pseudo-version 20250606). lego:
// providers/dns/digitalocean.

import (
	"strings"

	"github.com/libdns/digitalocean"
)

const (
	digitaloceanNS         = "DO_"
	digitaloceanEnvToken   = digitaloceanNS + "AUTH_TOKEN"
	digitaloceanEnvAPIURL  = digitaloceanNS + "API_URL"
	digitaloceanDefaultURL = "https://api.digitalocean.com"
)

func init() {
	ns := []string{digitaloceanNS}
	register(Spec{
		Code:       "digitalocean",
		Namespaces: ns,
		Required:   [][]string{{digitaloceanEnvToken}},
		Optional:   append([]string{digitaloceanEnvAPIURL}, timingVars(ns, "TTL", "PROPAGATION_TIMEOUT", "POLLING_INTERVAL", "HTTP_TIMEOUT")...),
		FileVars:   true,
		Defaults:   Timing{TTL: seconds(30), PropagationTimeout: seconds(60), PollingInterval: seconds(5)},
		Module:     "github.com/libdns/digitalocean",
		Notes: "The libdns provider builds its own godo client: `DO_API_URL` (other than the default) is rejected " +
			"and `DO_HTTP_TIMEOUT` is ignored.",
	}, buildDigitalOcean)
}

func buildDigitalOcean(e *envReader, _ Options) (Provider, error) {
	token := e.require(digitaloceanEnvToken)
	if u := strings.TrimSuffix(e.first(digitaloceanEnvAPIURL), "/"); u != "" && u != digitaloceanDefaultURL {
		e.failf("%s cannot be honoured: the libdns DigitalOcean provider always talks to %s", digitaloceanEnvAPIURL, digitaloceanDefaultURL)
	}
	e.httpTimeout(0) // validated, then ignored
	e.ignored("the libdns DigitalOcean provider has no HTTP client setting", digitaloceanNS+"HTTP_TIMEOUT")
	if err := e.err(); err != nil {
		return nil, err
	}
	return &digitalocean.Provider{APIToken: token}, nil
}
