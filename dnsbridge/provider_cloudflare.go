package dnsbridge

// cloudflare: libdns/cloudflare v0.2.2. lego: providers/dns/cloudflare.

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/libdns/cloudflare"
)

const (
	cloudflareNS    = "CLOUDFLARE_"
	cloudflareAltNS = "CF_"

	// cloudflareAPI is the base URL hard-coded in libdns/cloudflare.
	cloudflareAPI = "https://api.cloudflare.com/client/v4"
)

var (
	cloudflareEnvDNSToken  = []string{cloudflareNS + "DNS_API_TOKEN", cloudflareAltNS + "DNS_API_TOKEN"}
	cloudflareEnvZoneToken = []string{cloudflareNS + "ZONE_API_TOKEN", cloudflareAltNS + "ZONE_API_TOKEN"}
	cloudflareEnvEmail     = []string{cloudflareNS + "EMAIL", cloudflareAltNS + "API_EMAIL"}
	cloudflareEnvAPIKey    = []string{cloudflareNS + "API_KEY", cloudflareAltNS + "API_KEY"}
	cloudflareEnvBaseURL   = cloudflareNS + "BASE_URL"
)

func init() {
	ns := []string{cloudflareNS, cloudflareAltNS}
	register(Spec{
		Code:       "cloudflare",
		Namespaces: ns,
		Required:   [][]string{cloudflareEnvDNSToken},
		Optional: slices.Concat(cloudflareEnvZoneToken,
			timingVars(ns, "TTL", "PROPAGATION_TIMEOUT", "POLLING_INTERVAL", "HTTP_TIMEOUT"),
			[]string{cloudflareEnvBaseURL}),
		FileVars: true,
		Defaults: Timing{TTL: seconds(120), PropagationTimeout: seconds(120), PollingInterval: seconds(2)},
		Module:   "github.com/libdns/cloudflare",
		Notes: "Scoped API token only (Zone / Zone / Read + Zone / DNS / Edit). The global API key " +
			"(`CLOUDFLARE_EMAIL`/`CF_API_EMAIL` + `CLOUDFLARE_API_KEY`/`CF_API_KEY`) is not supported by the libdns provider " +
			"and is rejected with instructions. The zone token falls back to the DNS token. " +
			"`CLOUDFLARE_BASE_URL` is honoured by rewriting request URLs. `CLOUDFLARE_HTTP_TIMEOUT` defaults to 30 s. " +
			"lego's minimum TTL of 120 s is not enforced.",
	}, buildCloudflare)
}

func buildCloudflare(e *envReader, opts Options) (Provider, error) {
	token := e.first(cloudflareEnvDNSToken...)
	if token == "" {
		if e.first(cloudflareEnvEmail...) != "" && e.first(cloudflareEnvAPIKey...) != "" {
			e.failf("global API keys (%s + %s) are not supported by the libdns Cloudflare provider, which only "+
				"authenticates with a scoped API token: create one at https://dash.cloudflare.com/profile/api-tokens "+
				"with the permissions Zone / Zone / Read and Zone / DNS / Edit for your zones, and set it as %s",
				strings.Join(cloudflareEnvEmail, "/"), strings.Join(cloudflareEnvAPIKey, "/"), strings.Join(cloudflareEnvDNSToken, " or "))
			return nil, e.err()
		}
		e.require(cloudflareEnvDNSToken...)
		return nil, e.err()
	}
	if e.isSet(cloudflareEnvEmail...) || e.isSet(cloudflareEnvAPIKey...) {
		e.log.Warn("cloudflare global API key variables are set but ignored; the API token is used")
	}
	zoneToken := e.first(cloudflareEnvZoneToken...)

	timeout := e.httpTimeout(30 * time.Second)
	client := httpClient(opts.HTTPClient, timeout, e.isSet(e.suffixNames("HTTP_TIMEOUT")...))
	var doer cloudflare.HTTPClient = client
	if raw := e.first(cloudflareEnvBaseURL); raw != "" {
		u, err := url.Parse(strings.TrimSuffix(raw, "/"))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			e.failf("parsing %s: want an absolute http or https URL", cloudflareEnvBaseURL)
		} else {
			doer = &baseURLRewriter{next: client, from: cloudflareAPI, to: u}
		}
	}
	if err := e.err(); err != nil {
		return nil, err
	}
	return &cloudflare.Provider{APIToken: token, ZoneToken: zoneToken, HTTPClient: doer}, nil
}

// baseURLRewriter sends requests aimed at from to the base URL to instead.
type baseURLRewriter struct {
	next *http.Client
	from string
	to   *url.URL
}

// Do implements cloudflare.HTTPClient.
func (r *baseURLRewriter) Do(req *http.Request) (*http.Response, error) {
	if rest, ok := strings.CutPrefix(req.URL.String(), r.from); ok {
		u, err := url.Parse(r.to.String() + rest)
		if err != nil {
			return nil, err
		}
		req = req.Clone(req.Context())
		req.URL = u
		req.Host = u.Host
	}
	return r.next.Do(req)
}
