package dnsbridge

// porkbun: libdns/porkbun v1.1.0. lego: providers/dns/porkbun.

import "github.com/libdns/porkbun"

const (
	porkbunNS           = "PORKBUN_"
	porkbunEnvAPIKey    = porkbunNS + "API_KEY"
	porkbunEnvSecretKey = porkbunNS + "SECRET_API_KEY"
)

func init() {
	ns := []string{porkbunNS}
	register(Spec{
		Code:       "porkbun",
		Namespaces: ns,
		Required:   [][]string{{porkbunEnvAPIKey}, {porkbunEnvSecretKey}},
		Optional:   timingVars(ns, "TTL", "PROPAGATION_TIMEOUT", "POLLING_INTERVAL", "HTTP_TIMEOUT"),
		FileVars:   true,
		Defaults:   Timing{TTL: seconds(300), PropagationTimeout: seconds(600), PollingInterval: seconds(10)},
		Module:     "github.com/libdns/porkbun",
		Notes:      "`PORKBUN_HTTP_TIMEOUT` is ignored.",
	}, buildPorkbun)
}

func buildPorkbun(e *envReader, _ Options) (Provider, error) {
	key := e.require(porkbunEnvAPIKey)
	secret := e.require(porkbunEnvSecretKey)
	e.httpTimeout(0)
	e.ignored("the libdns Porkbun provider has no HTTP client setting", porkbunNS+"HTTP_TIMEOUT")
	if err := e.err(); err != nil {
		return nil, err
	}
	return &porkbun.Provider{APIKey: key, APISecretKey: secret}, nil
}
