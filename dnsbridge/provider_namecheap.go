package dnsbridge

// namecheap: libdns/namecheap v1.0.0. lego: providers/dns/namecheap.

import "github.com/libdns/namecheap"

const (
	namecheapNS         = "NAMECHEAP_"
	namecheapEnvAPIUser = namecheapNS + "API_USER"
	namecheapEnvAPIKey  = namecheapNS + "API_KEY"
	namecheapEnvSandbox = namecheapNS + "SANDBOX"

	namecheapSandboxURL = "https://api.sandbox.namecheap.com/xml.response"
)

func init() {
	ns := []string{namecheapNS}
	register(Spec{
		Code:       "namecheap",
		Namespaces: ns,
		Required:   [][]string{{namecheapEnvAPIUser}, {namecheapEnvAPIKey}},
		Optional:   append([]string{namecheapEnvSandbox}, timingVars(ns, "TTL", "PROPAGATION_TIMEOUT", "POLLING_INTERVAL", "HTTP_TIMEOUT")...),
		FileVars:   true,
		Defaults:   Timing{TTL: seconds(120), PropagationTimeout: seconds(3600), PollingInterval: seconds(15)},
		Module:     "github.com/libdns/namecheap",
		Notes: "`NAMECHEAP_SANDBOX=true` selects the sandbox API. The client IP (which must be allow-listed at Namecheap) " +
			"is discovered by the provider, as in lego. `NAMECHEAP_HTTP_TIMEOUT` is ignored.",
	}, buildNamecheap)
}

func buildNamecheap(e *envReader, _ Options) (Provider, error) {
	user := e.require(namecheapEnvAPIUser)
	key := e.require(namecheapEnvAPIKey)
	endpoint := ""
	if e.boolean(false, namecheapEnvSandbox) {
		endpoint = namecheapSandboxURL
	}
	e.httpTimeout(0)
	e.ignored("the libdns Namecheap provider has no HTTP client setting", namecheapNS+"HTTP_TIMEOUT")
	if err := e.err(); err != nil {
		return nil, err
	}
	return &namecheap.Provider{APIKey: key, User: user, APIEndpoint: endpoint}, nil
}
