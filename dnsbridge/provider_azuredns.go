package dnsbridge

// azuredns (alias azure): libdns/azure v0.5.0. lego: providers/dns/azuredns
// (and the deprecated providers/dns/azure, same variables).

import (
	"strings"

	"github.com/libdns/azure"
)

const (
	azureNS                = "AZURE_"
	azureEnvSubscriptionID = azureNS + "SUBSCRIPTION_ID"
	azureEnvResourceGroup  = azureNS + "RESOURCE_GROUP"
	azureEnvTenantID       = azureNS + "TENANT_ID"
	azureEnvClientID       = azureNS + "CLIENT_ID"
	azureEnvClientSecret   = azureNS + "CLIENT_SECRET"
	azureEnvClientCert     = azureNS + "CLIENT_CERTIFICATE_PATH"
	azureEnvAuthMethod     = azureNS + "AUTH_METHOD"
	azureEnvEnvironment    = azureNS + "ENVIRONMENT"
	azureEnvZoneName       = azureNS + "ZONE_NAME"
	azureEnvPrivateZone    = azureNS + "PRIVATE_ZONE"
)

func init() {
	ns := []string{azureNS}
	register(Spec{
		Code:       "azuredns",
		Aliases:    []string{"azure"},
		Namespaces: ns,
		Required:   [][]string{{azureEnvSubscriptionID}, {azureEnvResourceGroup}},
		Optional: append([]string{azureEnvTenantID, azureEnvClientID, azureEnvClientSecret, azureEnvClientCert,
			azureEnvAuthMethod, azureEnvEnvironment, azureEnvZoneName, azureEnvPrivateZone},
			timingVars(ns, "TTL", "PROPAGATION_TIMEOUT", "POLLING_INTERVAL")...),
		FileVars: true,
		Defaults: Timing{TTL: seconds(60), PropagationTimeout: seconds(120), PollingInterval: seconds(2)},
		Module:   "github.com/libdns/azure",
		Notes: "Client secret (`AZURE_TENANT_ID` + `AZURE_CLIENT_ID` + `AZURE_CLIENT_SECRET`) or, with none of them, " +
			"managed identity. Subscription and resource group are required (lego can read them from the instance " +
			"metadata service; the libdns provider cannot). Client certificates, `AZURE_AUTH_METHOD` other than " +
			"env/msi, non-public `AZURE_ENVIRONMENT` and private zones are rejected; `AZURE_ZONE_NAME` is ignored.",
	}, buildAzure)
}

func buildAzure(e *envReader, _ Options) (Provider, error) {
	sub := e.require(azureEnvSubscriptionID)
	group := e.require(azureEnvResourceGroup)
	tenant := e.first(azureEnvTenantID)
	clientID := e.first(azureEnvClientID)
	secret := e.first(azureEnvClientSecret)

	if e.isSet(azureEnvClientCert) {
		e.failf("%s (certificate authentication) is not supported by the libdns Azure provider; use a client secret or managed identity", azureEnvClientCert)
	}
	switch m := strings.ToLower(e.first(azureEnvAuthMethod)); m {
	case "", "env", "msi":
		if m == "msi" && (tenant != "" || clientID != "" || secret != "") {
			e.failf("%s=msi but client credentials are set; unset %s, %s and %s for managed identity",
				azureEnvAuthMethod, azureEnvTenantID, azureEnvClientID, azureEnvClientSecret)
		}
	default:
		e.failf("%s=%s is not supported by the libdns Azure provider (only env and msi)", azureEnvAuthMethod, m)
	}
	if env := strings.ToLower(e.first(azureEnvEnvironment)); env != "" && env != "public" {
		e.failf("%s=%s is not supported by the libdns Azure provider (public cloud only)", azureEnvEnvironment, env)
	}
	if e.boolean(false, azureEnvPrivateZone) {
		e.failf("%s=true is not supported by the libdns Azure provider (public DNS zones only)", azureEnvPrivateZone)
	}
	e.ignored("the libdns Azure provider uses the zone it is given", azureEnvZoneName)

	// The libdns provider uses a client secret credential as soon as one
	// of the three is set; all three are needed then.
	if tenant != "" || clientID != "" || secret != "" {
		for _, v := range []struct{ name, value string }{
			{azureEnvTenantID, tenant}, {azureEnvClientID, clientID}, {azureEnvClientSecret, secret},
		} {
			if v.value == "" {
				e.require(v.name)
			}
		}
	}
	if err := e.err(); err != nil {
		return nil, err
	}
	return &azure.Provider{
		SubscriptionId: sub, ResourceGroupName: group,
		TenantId: tenant, ClientId: clientID, ClientSecret: secret,
	}, nil
}
