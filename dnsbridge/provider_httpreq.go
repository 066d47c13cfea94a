package dnsbridge

// httpreq: native implementation of lego's providers/dns/httpreq (no
// libdns equivalent exists).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/libdns/libdns"
)

const (
	httpreqNS          = "HTTPREQ_"
	httpreqEnvEndpoint = httpreqNS + "ENDPOINT"
	httpreqEnvMode     = httpreqNS + "MODE"
	httpreqEnvUsername = httpreqNS + "USERNAME"
	httpreqEnvPassword = httpreqNS + "PASSWORD"
)

func init() {
	register(Spec{
		Code:       "httpreq",
		Namespaces: []string{httpreqNS},
		Required:   [][]string{{httpreqEnvEndpoint}},
		Optional: append([]string{httpreqEnvMode, httpreqEnvUsername, httpreqEnvPassword},
			timingVars([]string{httpreqNS}, "PROPAGATION_TIMEOUT", "POLLING_INTERVAL", "HTTP_TIMEOUT")...),
		FileVars:   true,
		Sequential: true,
		Defaults:   Timing{PropagationTimeout: seconds(60), PollingInterval: seconds(2)},
		Notes: "Native implementation. Default mode POSTs `{\"fqdn\",\"value\"}` to `<endpoint>/present` and `/cleanup`. " +
			"`HTTPREQ_MODE=RAW` POSTs `{\"domain\",\"token\",\"keyAuth\"}` like lego; the `traefik` issuer hands the ACME data " +
			"to the provider, other callers must attach it with `dnsbridge.WithChallengeInfo`, otherwise RAW fails with an error " +
			"naming `HTTPREQ_MODE`. One challenge at a time per TXT name (lego's httpreq is not sequential; an endpoint that " +
			"keeps one value per name works only this way, one that keeps several loses nothing but a few seconds). " +
			"Propagation is polled every 2 s whatever `HTTPREQ_POLLING_INTERVAL` says. " +
			"Basic auth is sent only when both username and password are set. `HTTPREQ_HTTP_TIMEOUT` defaults to 30 s.",
	}, buildHTTPReq)
}

func buildHTTPReq(e *envReader, opts Options) (Provider, error) {
	rawEndpoint := e.require(httpreqEnvEndpoint)
	raw := false
	switch mode := e.first(httpreqEnvMode); mode {
	case "":
	case "RAW":
		raw = true
	default:
		e.failf("%s must be RAW or unset, got %q", httpreqEnvMode, mode)
	}
	username := e.first(httpreqEnvUsername)
	password := e.first(httpreqEnvPassword)
	timeout := e.httpTimeout(30 * time.Second)

	var endpoint *url.URL
	if rawEndpoint != "" {
		u, err := url.Parse(rawEndpoint)
		switch {
		case err != nil:
			// url.Parse errors quote the URL, which may hold credentials.
			e.failf("parsing %s: not a valid URL", httpreqEnvEndpoint)
		case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
			e.failf("parsing %s: want an absolute http or https URL", httpreqEnvEndpoint)
		default:
			endpoint = u
		}
	}
	if err := e.err(); err != nil {
		return nil, err
	}
	return Sequential(&httpreqProvider{
		code:     e.code,
		endpoint: endpoint,
		raw:      raw,
		rawMem:   rawMemory{modeVar: httpreqEnvMode},
		username: username,
		password: password,
		client:   httpClient(opts.HTTPClient, timeout, e.isSet(httpreqNS+"HTTP_TIMEOUT")),
	}, e.code, 0, e.log), nil
}

// httpClient copies base (or makes a new client) and applies timeout when
// the client has none or when the timeout was set explicitly.
func httpClient(base *http.Client, timeout time.Duration, explicit bool) *http.Client {
	c := &http.Client{}
	if base != nil {
		cp := *base
		c = &cp
	}
	if c.Timeout == 0 || explicit {
		c.Timeout = timeout
	}
	return c
}

// httpreqProvider posts records to a user endpoint, like lego's httpreq
// provider. It is safe for concurrent use.
type httpreqProvider struct {
	code     string
	endpoint *url.URL
	raw      bool
	username string
	password string
	client   *http.Client
	rawMem   rawMemory
}

type httpreqMessage struct {
	FQDN  string `json:"fqdn"`
	Value string `json:"value"`
}

type httpreqRawMessage struct {
	Domain  string `json:"domain"`
	Token   string `json:"token"`
	KeyAuth string `json:"keyAuth"`
}

// AppendRecords POSTs each TXT record to <endpoint>/present.
func (p *httpreqProvider) AppendRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	txts, err := txtRecords(p.code, zone, recs)
	if err != nil {
		return nil, err
	}
	var done []libdns.Record
	for i, r := range txts {
		var msg any = httpreqMessage{FQDN: r.fqdn, Value: r.value}
		if p.raw {
			ci, err := p.rawMem.forPresent(ctx, p.code, r)
			if err != nil {
				return done, err
			}
			msg = httpreqRawMessage(ci)
		}
		if err := p.post(ctx, "/present", msg); err != nil {
			if p.raw {
				p.rawMem.forget(r)
			}
			return done, err
		}
		done = append(done, recs[i])
	}
	return done, nil
}

// DeleteRecords POSTs each TXT record to <endpoint>/cleanup.
func (p *httpreqProvider) DeleteRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	txts, err := txtRecords(p.code, zone, recs)
	if err != nil {
		return nil, err
	}
	var done []libdns.Record
	for i, r := range txts {
		var msg any = httpreqMessage{FQDN: r.fqdn, Value: r.value}
		if p.raw {
			ci, err := p.rawMem.forCleanup(ctx, p.code, r)
			if err != nil {
				return done, err
			}
			msg = httpreqRawMessage(ci)
		}
		if err := p.post(ctx, "/cleanup", msg); err != nil {
			return done, err
		}
		done = append(done, recs[i])
	}
	return done, nil
}

// post sends msg as JSON to endpoint+action, like lego's doPost.
func (p *httpreqProvider) post(ctx context.Context, action string, msg any) error {
	body, err := json.Marshal(msg)
	if err != nil {
		return fmt.Errorf("%s: encoding %s request: %w", p.code, action, err)
	}
	target := *p.endpoint
	target.Path = path.Join(p.endpoint.Path, action)
	target.RawPath = ""

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target.String(), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: creating %s request: %w", p.code, action, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	if p.username != "" && p.password != "" {
		req.SetBasicAuth(p.username, p.password)
	}

	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: posting %s: %w", p.code, redactURL(&target), redactErr(err))
	}
	defer resp.Body.Close()
	respBody, _ := io.ReadAll(io.LimitReader(resp.Body, maxOutput))
	// lego: any status outside 2xx is a failure.
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s: posting %s: HTTP %d: %s", p.code, redactURL(&target), resp.StatusCode, strings.TrimSpace(string(respBody)))
	}
	return nil
}

// redactURL renders u without user info (the endpoint may embed
// credentials).
func redactURL(u *url.URL) string {
	if u.User == nil {
		return u.String()
	}
	cp := *u
	cp.User = url.User("(redacted)")
	return cp.String()
}

// redactErr drops the URL from a *url.Error, which would repeat user info.
func redactErr(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
