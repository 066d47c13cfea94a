package dnsbridge

// scaleway: libdns/scaleway v0.3.1. lego: providers/dns/scaleway.

import "github.com/libdns/scaleway"

const (
	scalewayNS    = "SCALEWAY_"
	scalewayAltNS = "SCW_"

	scalewayEnvSecretKey = scalewayAltNS + "SECRET_KEY"
	scalewayEnvAPIToken  = scalewayNS + "API_TOKEN"
	scalewayEnvProjectID = scalewayNS + "PROJECT_ID"
	scalewayEnvAccessKey = scalewayAltNS + "ACCESS_KEY"
)

func init() {
	ns := []string{scalewayNS, scalewayAltNS}
	register(Spec{
		Code:       "scaleway",
		Namespaces: ns,
		Required:   [][]string{{scalewayEnvSecretKey, scalewayEnvAPIToken}},
		Optional: append([]string{scalewayEnvProjectID, scalewayEnvAccessKey},
			timingVars(ns, "TTL", "PROPAGATION_TIMEOUT", "POLLING_INTERVAL")...),
		FileVars: true,
		Defaults: Timing{TTL: seconds(60), PropagationTimeout: seconds(120), PollingInterval: seconds(10)},
		Module:   "github.com/libdns/scaleway",
		Notes: "`SCW_SECRET_KEY` first, `SCALEWAY_API_TOKEN` as fallback, like lego. `SCALEWAY_PROJECT_ID` and " +
			"`SCW_ACCESS_KEY` are not used by the libdns provider (record updates need neither).",
	}, buildScaleway)
}

func buildScaleway(e *envReader, _ Options) (Provider, error) {
	secret := e.require(scalewayEnvSecretKey, scalewayEnvAPIToken)
	e.ignored("the libdns Scaleway provider does not use it", scalewayEnvProjectID, scalewayEnvAccessKey)
	if err := e.err(); err != nil {
		return nil, err
	}
	return &scaleway.Provider{SecretKey: secret}, nil
}
