package dnsbridge

// gandiv5: libdns/gandi v1.1.0. lego: providers/dns/gandiv5.

import "github.com/libdns/gandi"

const (
	gandiv5NS        = "GANDIV5_"
	gandiv5EnvPAT    = gandiv5NS + "PERSONAL_ACCESS_TOKEN"
	gandiv5EnvAPIKey = gandiv5NS + "API_KEY"
)

func init() {
	ns := []string{gandiv5NS}
	register(Spec{
		Code:       "gandiv5",
		Namespaces: ns,
		Required:   [][]string{{gandiv5EnvPAT}},
		Optional:   append([]string{gandiv5EnvAPIKey}, timingVars(ns, "TTL", "PROPAGATION_TIMEOUT", "POLLING_INTERVAL", "HTTP_TIMEOUT")...),
		FileVars:   true,
		Defaults:   Timing{TTL: seconds(300), PropagationTimeout: seconds(1200), PollingInterval: seconds(20)},
		Module:     "github.com/libdns/gandi",
		Notes: "Personal access token only (sent as a Bearer token); Gandi's deprecated API key (`GANDIV5_API_KEY`) " +
			"is rejected. `GANDIV5_HTTP_TIMEOUT` is ignored.",
	}, buildGandiV5)
}

func buildGandiV5(e *envReader, _ Options) (Provider, error) {
	token := e.first(gandiv5EnvPAT)
	if token == "" && e.isSet(gandiv5EnvAPIKey) {
		e.failf("%s (Gandi's deprecated API key) is not supported by the libdns Gandi provider; "+
			"create a personal access token in the Gandi admin and set %s", gandiv5EnvAPIKey, gandiv5EnvPAT)
	}
	if token == "" {
		e.require(gandiv5EnvPAT)
	}
	e.httpTimeout(0)
	e.ignored("the libdns Gandi provider has no HTTP client setting", gandiv5NS+"HTTP_TIMEOUT")
	if err := e.err(); err != nil {
		return nil, err
	}
	return &gandi.Provider{BearerToken: token}, nil
}
