package dnsbridge

// vultr: native client of Vultr's DNS API v2 (lego: providers/dns/vultr).
//
// It replaces libdns/vultr/v2, which is built on govultr v3.20 and does not
// compile against the govultr release lego v5 requires: a Caddy built with
// the lego bridge (one module graph, one govultr) would not build.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/libdns/libdns"
)

const (
	vultrNS        = "VULTR_"
	vultrEnvAPIKey = vultrNS + "API_KEY"
	vultrAPI       = "https://api.vultr.com/v2"
)

func init() {
	ns := []string{vultrNS}
	register(Spec{
		Code:       "vultr",
		Namespaces: ns,
		Required:   [][]string{{vultrEnvAPIKey}},
		Optional:   timingVars(ns, "TTL", "PROPAGATION_TIMEOUT", "POLLING_INTERVAL", "HTTP_TIMEOUT"),
		FileVars:   true,
		Defaults:   Timing{TTL: seconds(120), PropagationTimeout: seconds(60), PollingInterval: seconds(2)},
		Notes:      "`VULTR_HTTP_TIMEOUT` is ignored.",
	}, buildVultr)
}

func buildVultr(e *envReader, opts Options) (Provider, error) {
	key := e.require(vultrEnvAPIKey)
	e.httpTimeout(0)
	e.ignored("the Vultr provider uses a fixed 30 s HTTP timeout", vultrNS+"HTTP_TIMEOUT")
	if err := e.err(); err != nil {
		return nil, err
	}
	return &vultrProvider{apiKey: key, base: vultrAPI, client: httpClient(opts.HTTPClient, 30*time.Second, false)}, nil
}

// vultrProvider manages TXT records with Vultr's DNS API v2. It is safe
// for concurrent use.
type vultrProvider struct {
	apiKey string
	base   string // API base URL without trailing slash
	client *http.Client
	mu     sync.Mutex
}

type vultrRecord struct {
	ID   string `json:"id,omitempty"`
	Type string `json:"type"`
	Name string `json:"name"`
	Data string `json:"data"`
	TTL  int    `json:"ttl,omitempty"`
}

// do sends one API request; the key never appears in errors.
func (p *vultrProvider) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, p.base+path, body)
	if err != nil {
		return fmt.Errorf("vultr: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+p.apiKey)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("vultr: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(data, &e)
		return fmt.Errorf("vultr: %s %s: HTTP %d: %s", method, path, resp.StatusCode, e.Error)
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("vultr: %s %s: decoding response: %w", method, path, err)
		}
	}
	return nil
}

func vultrDomain(zone string) string { return url.PathEscape(strings.TrimSuffix(zone, ".")) }

func (p *vultrProvider) list(ctx context.Context, zone string) ([]vultrRecord, error) {
	var all []vultrRecord
	cursor := ""
	for range 1000 {
		path := "/domains/" + vultrDomain(zone) + "/records?per_page=500"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		var page struct {
			Records []vultrRecord `json:"records"`
			Meta    struct {
				Links struct {
					Next string `json:"next"`
				} `json:"links"`
			} `json:"meta"`
		}
		if err := p.do(ctx, http.MethodGet, path, nil, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Records...)
		if cursor = page.Meta.Links.Next; cursor == "" {
			break
		}
	}
	return all, nil
}

// AppendRecords implements libdns.RecordAppender.
func (p *vultrProvider) AppendRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var done []libdns.Record
	for _, rec := range recs {
		rr := rec.RR()
		in := vultrRecord{Type: rr.Type, Name: rr.Name, Data: rr.Data, TTL: int(rr.TTL / time.Second)}
		if in.Name == "@" {
			in.Name = ""
		}
		if in.TTL == 0 {
			in.TTL = 120
		}
		var out struct {
			Record vultrRecord `json:"record"`
		}
		if err := p.do(ctx, http.MethodPost, "/domains/"+vultrDomain(zone)+"/records", in, &out); err != nil {
			return done, err
		}
		done = append(done, rec)
	}
	return done, nil
}

// DeleteRecords implements libdns.RecordDeleter: it deletes the records of
// zone with the same name, type and (when given) data.
func (p *vultrProvider) DeleteRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	existing, err := p.list(ctx, zone)
	if err != nil {
		return nil, err
	}
	var done []libdns.Record
	for _, rec := range recs {
		rr := rec.RR()
		name := rr.Name
		if name == "@" {
			name = ""
		}
		for _, ex := range existing {
			if ex.Name != name || (rr.Type != "" && ex.Type != rr.Type) || (rr.Data != "" && strings.Trim(ex.Data, `"`) != strings.Trim(rr.Data, `"`)) {
				continue
			}
			if err := p.do(ctx, http.MethodDelete, "/domains/"+vultrDomain(zone)+"/records/"+url.PathEscape(ex.ID), nil, nil); err != nil {
				return done, err
			}
			done = append(done, rec)
		}
	}
	return done, nil
}
