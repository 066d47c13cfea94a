package dnsbridge

// alidns: libdns/alidns v1.0.7. lego: providers/dns/alidns.

import "github.com/libdns/alidns"

const (
	alidnsNS               = "ALICLOUD_"
	alidnsEnvAccessKey     = alidnsNS + "ACCESS_KEY"
	alidnsEnvSecretKey     = alidnsNS + "SECRET_KEY"
	alidnsEnvSecurityToken = alidnsNS + "SECURITY_TOKEN"
	alidnsEnvRegionID      = alidnsNS + "REGION_ID"
	alidnsEnvRAMRole       = alidnsNS + "RAM_ROLE"
)

func init() {
	ns := []string{alidnsNS}
	register(Spec{
		Code:       "alidns",
		Namespaces: ns,
		Required:   [][]string{{alidnsEnvAccessKey}, {alidnsEnvSecretKey}},
		Optional: append([]string{alidnsEnvSecurityToken, alidnsEnvRegionID, alidnsEnvRAMRole},
			timingVars(ns, "TTL", "PROPAGATION_TIMEOUT", "POLLING_INTERVAL", "HTTP_TIMEOUT")...),
		FileVars: true,
		Defaults: Timing{TTL: seconds(600), PropagationTimeout: seconds(60), PollingInterval: seconds(2)},
		Module:   "github.com/libdns/alidns",
		Notes: "Access key + secret (+ STS `ALICLOUD_SECURITY_TOKEN`). lego's `ALICLOUD_RAM_ROLE` (ECS instance role) is " +
			"not supported by the libdns provider and is rejected. `ALICLOUD_HTTP_TIMEOUT` is ignored.",
	}, buildAliDNS)
}

func buildAliDNS(e *envReader, _ Options) (Provider, error) {
	if e.first(alidnsEnvAccessKey) == "" && e.isSet(alidnsEnvRAMRole) {
		e.failf("%s (instance RAM role) is not supported by the libdns Alibaba Cloud provider; use an access key", alidnsEnvRAMRole)
	}
	key := e.require(alidnsEnvAccessKey)
	secret := e.require(alidnsEnvSecretKey)
	token := e.first(alidnsEnvSecurityToken)
	region := e.first(alidnsEnvRegionID)
	e.httpTimeout(0)
	e.ignored("the libdns Alibaba Cloud provider has no HTTP client setting", alidnsNS+"HTTP_TIMEOUT")
	if err := e.err(); err != nil {
		return nil, err
	}
	p := &alidns.Provider{}
	p.AccessKeyID, p.AccessKeySecret, p.SecurityToken, p.RegionID = key, secret, token, region
	return p, nil
}
