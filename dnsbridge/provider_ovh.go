package dnsbridge

// ovh: libdns/ovh v1.1.0. lego: providers/dns/ovh.

import "github.com/libdns/ovh"

const (
	ovhNS              = "OVH_"
	ovhEnvEndpoint     = ovhNS + "ENDPOINT"
	ovhEnvAppKey       = ovhNS + "APPLICATION_KEY"
	ovhEnvAppSecret    = ovhNS + "APPLICATION_SECRET"
	ovhEnvConsumerKey  = ovhNS + "CONSUMER_KEY"
	ovhEnvClientID     = ovhNS + "CLIENT_ID"
	ovhEnvClientSecret = ovhNS + "CLIENT_SECRET"
	ovhEnvAccessToken  = ovhNS + "ACCESS_TOKEN"
)

func init() {
	ns := []string{ovhNS}
	register(Spec{
		Code:       "ovh",
		Namespaces: ns,
		Required:   [][]string{{ovhEnvEndpoint}, {ovhEnvAppKey}, {ovhEnvAppSecret}, {ovhEnvConsumerKey}},
		Optional: append([]string{ovhEnvClientID, ovhEnvClientSecret, ovhEnvAccessToken},
			timingVars(ns, "TTL", "PROPAGATION_TIMEOUT", "POLLING_INTERVAL", "HTTP_TIMEOUT")...),
		FileVars: true,
		Defaults: Timing{TTL: seconds(120), PropagationTimeout: seconds(60), PollingInterval: seconds(2)},
		Module:   "github.com/libdns/ovh",
		Notes: "Application key/secret + consumer key only. lego's OAuth2 (`OVH_CLIENT_ID`/`OVH_CLIENT_SECRET`) and " +
			"`OVH_ACCESS_TOKEN` authentication are not supported by the libdns provider and are rejected. " +
			"`OVH_ENDPOINT` takes the same values as lego (`ovh-eu`, `ovh-ca`, … or a URL). `OVH_HTTP_TIMEOUT` is ignored.",
	}, buildOVH)
}

func buildOVH(e *envReader, _ Options) (Provider, error) {
	endpoint := e.require(ovhEnvEndpoint)
	appKey := e.first(ovhEnvAppKey)
	if appKey == "" && (e.isSet(ovhEnvClientID) || e.isSet(ovhEnvAccessToken)) {
		e.failf("OAuth2 (%s/%s) and %s authentication are not supported by the libdns OVH provider; "+
			"create an application key, secret and consumer key (https://eu.api.ovh.com/createToken/)",
			ovhEnvClientID, ovhEnvClientSecret, ovhEnvAccessToken)
	}
	appKey = e.require(ovhEnvAppKey)
	appSecret := e.require(ovhEnvAppSecret)
	consumerKey := e.require(ovhEnvConsumerKey)
	e.httpTimeout(0)
	e.ignored("the libdns OVH provider has no HTTP client setting", ovhNS+"HTTP_TIMEOUT")
	if err := e.err(); err != nil {
		return nil, err
	}
	return &ovh.Provider{Endpoint: endpoint, ApplicationKey: appKey, ApplicationSecret: appSecret, ConsumerKey: consumerKey}, nil
}
