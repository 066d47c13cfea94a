package dnsbridge

// pdns: libdns/powerdns v0.1.4. lego: providers/dns/pdns.

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/libdns/powerdns"
)

const (
	pdnsNS            = "PDNS_"
	pdnsEnvAPIURL     = pdnsNS + "API_URL"
	pdnsEnvAPIKey     = pdnsNS + "API_KEY"
	pdnsEnvServerName = pdnsNS + "SERVER_NAME"
	pdnsEnvAPIVersion = pdnsNS + "API_VERSION"
)

func init() {
	ns := []string{pdnsNS}
	register(Spec{
		Code:       "pdns",
		Namespaces: ns,
		Required:   [][]string{{pdnsEnvAPIURL}, {pdnsEnvAPIKey}},
		Optional: append([]string{pdnsEnvServerName, pdnsEnvAPIVersion},
			timingVars(ns, "TTL", "PROPAGATION_TIMEOUT", "POLLING_INTERVAL", "HTTP_TIMEOUT")...),
		FileVars: true,
		Defaults: Timing{TTL: seconds(120), PropagationTimeout: seconds(120), PollingInterval: seconds(2)},
		Module:   "github.com/libdns/powerdns",
		Notes: "`PDNS_SERVER_NAME` defaults to `localhost`. The libdns provider speaks API v1 only: " +
			"`PDNS_API_VERSION` other than 1 is rejected. `PDNS_HTTP_TIMEOUT` is ignored.",
	}, buildPDNS)
}

func buildPDNS(e *envReader, _ Options) (Provider, error) {
	rawURL := e.require(pdnsEnvAPIURL)
	key := e.require(pdnsEnvAPIKey)
	server := e.first(pdnsEnvServerName)
	if server == "" {
		server = "localhost"
	}
	if v, ok := e.integer(pdnsEnvAPIVersion); ok && v != 0 && v != 1 {
		e.failf("%s=%s is not supported: the libdns PowerDNS provider speaks API v1", pdnsEnvAPIVersion, strconv.Itoa(v))
	}
	if rawURL != "" {
		if u, err := url.Parse(rawURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			e.failf("parsing %s: want an absolute http or https URL", pdnsEnvAPIURL)
		}
	}
	e.httpTimeout(0)
	e.ignored("the libdns PowerDNS provider has no HTTP client setting", pdnsNS+"HTTP_TIMEOUT")
	if err := e.err(); err != nil {
		return nil, err
	}
	return &powerdns.Provider{ServerURL: strings.TrimSuffix(rawURL, "/"), ServerID: server, APIToken: key}, nil
}
