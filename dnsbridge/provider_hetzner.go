package dnsbridge

// hetzner: libdns/hetzner/v2 v2.0.0 (Hetzner Cloud API token) or
// libdns/hetzner v1.0.0 (legacy DNS console API key). lego:
// providers/dns/hetzner, which also picks its implementation by variable.

import (
	hetznerv1 "github.com/libdns/hetzner"
	hetznerv2 "github.com/libdns/hetzner/v2"
)

const (
	hetznerNS          = "HETZNER_"
	hetznerEnvAPIToken = hetznerNS + "API_TOKEN"
	hetznerEnvAPIKey   = hetznerNS + "API_KEY"
)

func init() {
	ns := []string{hetznerNS}
	register(Spec{
		Code:       "hetzner",
		Namespaces: ns,
		Required:   [][]string{{hetznerEnvAPIToken, hetznerEnvAPIKey}},
		Optional:   timingVars(ns, "TTL", "PROPAGATION_TIMEOUT", "POLLING_INTERVAL", "HTTP_TIMEOUT"),
		FileVars:   true,
		Defaults:   Timing{TTL: seconds(120), PropagationTimeout: seconds(60), PollingInterval: seconds(2)},
		Module:     "github.com/libdns/hetzner/v2",
		Notes: "`HETZNER_API_TOKEN` (Hetzner Cloud API, libdns/hetzner/v2) or the legacy `HETZNER_API_KEY` " +
			"(dns.hetzner.com console, libdns/hetzner v1; lego's legacy defaults there are TTL 60 s, timeout 120 s). " +
			"`HETZNER_HTTP_TIMEOUT` is ignored.",
	}, buildHetzner)
}

func buildHetzner(e *envReader, _ Options) (Provider, error) {
	token := e.first(hetznerEnvAPIToken)
	key := ""
	if token == "" {
		key = e.require(hetznerEnvAPIToken, hetznerEnvAPIKey)
	}
	e.httpTimeout(0)
	e.ignored("the libdns Hetzner providers have no HTTP client setting", hetznerNS+"HTTP_TIMEOUT")
	if err := e.err(); err != nil {
		return nil, err
	}
	if token != "" {
		return &hetznerv2.Provider{APIToken: token}, nil
	}
	return &hetznerv1.Provider{AuthAPIToken: key}, nil
}
