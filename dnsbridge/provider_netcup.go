package dnsbridge

// netcup: libdns/netcup v1.0.0. lego: providers/dns/netcup.

import "github.com/libdns/netcup"

const (
	netcupNS             = "NETCUP_"
	netcupEnvCustomer    = netcupNS + "CUSTOMER_NUMBER"
	netcupEnvAPIKey      = netcupNS + "API_KEY"
	netcupEnvAPIPassword = netcupNS + "API_PASSWORD"
)

func init() {
	ns := []string{netcupNS}
	register(Spec{
		Code:       "netcup",
		Namespaces: ns,
		Required:   [][]string{{netcupEnvCustomer}, {netcupEnvAPIKey}, {netcupEnvAPIPassword}},
		Optional:   timingVars(ns, "PROPAGATION_TIMEOUT", "POLLING_INTERVAL", "HTTP_TIMEOUT"),
		FileVars:   true,
		Defaults:   Timing{PropagationTimeout: seconds(900), PollingInterval: seconds(30)},
		Module:     "github.com/libdns/netcup",
		Notes:      "netcup does not allow a TTL per record (lego deprecated `NETCUP_TTL`). `NETCUP_HTTP_TIMEOUT` is ignored.",
	}, buildNetcup)
}

func buildNetcup(e *envReader, _ Options) (Provider, error) {
	customer := e.require(netcupEnvCustomer)
	key := e.require(netcupEnvAPIKey)
	password := e.require(netcupEnvAPIPassword)
	e.httpTimeout(0)
	e.ignored("the libdns netcup provider has no HTTP client setting", netcupNS+"HTTP_TIMEOUT")
	if err := e.err(); err != nil {
		return nil, err
	}
	return &netcup.Provider{CustomerNumber: customer, APIKey: key, APIPassword: password}, nil
}
