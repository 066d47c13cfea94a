package dnsfakes

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// CloudflareAPIBase is the API base URL the real libdns provider uses.
const CloudflareAPIBase = "https://api.cloudflare.com/client/v4"

// Cloudflare is a fake of the Cloudflare v4 API subset that
// libdns/cloudflare uses:
//
//	GET    /zones?name=…                 (zone lookup)
//	GET    /zones/{zone}/dns_records     (filters: type, name, content, content.exact, content.contains, page, per_page)
//	POST   /zones/{zone}/dns_records
//	PATCH  /zones/{zone}/dns_records/{id}
//	DELETE /zones/{zone}/dns_records/{id}
//
// Responses use Cloudflare's envelope {success, errors, messages, result,
// result_info}. Requests must carry "Authorization: Bearer <token>" (or
// the global API key, see SetGlobalKey); a
// missing or malformed header gets Cloudflare's 400 / code 6003 (error
// chain 6111), a wrong token its 403 / code 9109 "Invalid access token".
// Error codes for record problems (81044, 81058, 9021, 7003) follow
// Cloudflare's documented codes; messages are close to, not guaranteed
// identical with, the real API's.
type Cloudflare struct {
	// URL is the fake's API base, the equivalent of CloudflareAPIBase.
	URL string

	srv  *httptest.Server
	sink Sink

	mu        sync.Mutex
	token     string
	zoneToken string
	// globalEmail and globalKey are the account's legacy global API key.
	globalEmail, globalKey string
	zones                  map[string]*cfZone // by ID
	requests               []string
}

type cfZone struct {
	id, name string
	records  []*cfRecord
}

type cfRecord struct {
	ID         string    `json:"id"`
	ZoneID     string    `json:"zone_id"`
	ZoneName   string    `json:"zone_name"`
	Name       string    `json:"name"`
	Type       string    `json:"type"`
	Content    string    `json:"content"`
	Proxiable  bool      `json:"proxiable"`
	Proxied    bool      `json:"proxied"`
	TTL        int       `json:"ttl"`
	Priority   *int      `json:"priority,omitempty"`
	Settings   struct{}  `json:"settings"`
	Meta       struct{}  `json:"meta"`
	Comment    *string   `json:"comment"`
	Tags       []string  `json:"tags"`
	CreatedOn  time.Time `json:"created_on"`
	ModifiedOn time.Time `json:"modified_on"`
}

// NewCloudflare starts the fake on 127.0.0.1. token is the only API token
// it accepts (see also SetZoneToken). sink may be nil.
func NewCloudflare(t testing.TB, sink Sink, token string) *Cloudflare {
	t.Helper()
	c := &Cloudflare{sink: sink, token: token, zones: map[string]*cfZone{}}
	c.srv = httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(c.srv.Close)
	c.URL = c.srv.URL + "/client/v4"
	return c
}

// SetZoneToken makes the fake also accept tok, but only for zone lookups
// (GET /zones), like a token that only has Zone:Read.
func (c *Cloudflare) SetZoneToken(tok string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.zoneToken = tok
}

// SetGlobalKey makes the fake also accept the legacy global API key:
// headers X-Auth-Email (case-insensitive) and X-Auth-Key, as lego's
// CF_API_EMAIL + CF_API_KEY send them. A wrong pair gets Cloudflare's 403 /
// code 9103.
func (c *Cloudflare) SetGlobalKey(email, key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.globalEmail, c.globalKey = email, key
}

// AddZone creates a zone and returns its ID.
func (c *Cloudflare) AddZone(name string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := randomHex(16)
	c.zones[id] = &cfZone{id: id, name: strings.ToLower(strings.TrimSuffix(name, "."))}
	return id
}

// HTTPClient returns a client that sends requests for CloudflareAPIBase to
// the fake instead. It satisfies libdns/cloudflare's HTTPClient interface.
func (c *Cloudflare) HTTPClient() *http.Client {
	target, _ := url.Parse(c.srv.URL)
	return &http.Client{Transport: &rewriteTransport{target: target, next: c.srv.Client().Transport}}
}

// TXT returns the unquoted values of the TXT records at fqdn.
func (c *Cloudflare) TXT(fqdn string) []string {
	name := strings.TrimSuffix(CanonicalName(fqdn), ".")
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, z := range c.zones {
		for _, r := range z.records {
			if r.Type == "TXT" && r.Name == name {
				out = append(out, unquoteTXT(r.Content))
			}
		}
	}
	sort.Strings(out)
	return out
}

// Requests returns "METHOD path?query" for every request served.
func (c *Cloudflare) Requests() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.requests)
}

type cfError struct {
	Code       int       `json:"code"`
	Message    string    `json:"message"`
	ErrorChain []cfError `json:"error_chain,omitempty"`
}

type cfResultInfo struct {
	Page       int `json:"page"`
	PerPage    int `json:"per_page"`
	Count      int `json:"count"`
	TotalCount int `json:"total_count"`
	TotalPages int `json:"total_pages"`
}

type cfEnvelope struct {
	Success    bool          `json:"success"`
	Errors     []cfError     `json:"errors"`
	Messages   []any         `json:"messages"`
	Result     any           `json:"result"`
	ResultInfo *cfResultInfo `json:"result_info,omitempty"`
}

func cfWrite(w http.ResponseWriter, status int, env cfEnvelope) {
	if env.Errors == nil {
		env.Errors = []cfError{}
	}
	if env.Messages == nil {
		env.Messages = []any{}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(env)
}

func cfFail(w http.ResponseWriter, status int, errs ...cfError) {
	cfWrite(w, status, cfEnvelope{Success: false, Errors: errs})
}

func (c *Cloudflare) serve(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests = append(c.requests, r.Method+" "+r.URL.RequestURI())

	path, ok := strings.CutPrefix(r.URL.Path, "/client/v4")
	if !ok {
		cfFail(w, http.StatusNotFound, cfError{Code: 7000, Message: "No route for that URI"})
		return
	}
	parts := strings.Split(strings.Trim(path, "/"), "/")

	// Authentication first, like the real API. The legacy global API key
	// (X-Auth-Email + X-Auth-Key) is accepted when SetGlobalKey set one.
	auth := r.Header.Get("Authorization")
	if key := r.Header.Get("X-Auth-Key"); auth == "" && key != "" {
		if c.globalKey == "" || key != c.globalKey || !strings.EqualFold(r.Header.Get("X-Auth-Email"), c.globalEmail) {
			cfFail(w, http.StatusForbidden, cfError{Code: 9103, Message: "Unknown X-Auth-Key or X-Auth-Email"})
			return
		}
		c.serveAuthenticated(w, r, parts)
		return
	}
	tok, isBearer := strings.CutPrefix(auth, "Bearer ")
	if !isBearer || tok == "" || strings.ContainsAny(tok, " \t") {
		cfFail(w, http.StatusBadRequest, cfError{Code: 6003, Message: "Invalid request headers",
			ErrorChain: []cfError{{Code: 6111, Message: "Invalid format for Authorization header"}}})
		return
	}
	zoneLookup := r.Method == http.MethodGet && len(parts) == 1 && parts[0] == "zones"
	if tok != c.token && !(zoneLookup && c.zoneToken != "" && tok == c.zoneToken) {
		cfFail(w, http.StatusForbidden, cfError{Code: 9109, Message: "Invalid access token"})
		return
	}
	c.serveAuthenticated(w, r, parts)
}

// serveAuthenticated answers an authenticated request. Caller holds c.mu.
func (c *Cloudflare) serveAuthenticated(w http.ResponseWriter, r *http.Request, parts []string) {
	switch {
	case r.Method == http.MethodGet && len(parts) == 1 && parts[0] == "zones":
		c.listZones(w, r)
	case len(parts) >= 3 && parts[0] == "zones" && parts[2] == "dns_records":
		z := c.zones[parts[1]]
		if z == nil {
			cfFail(w, http.StatusBadRequest, cfError{Code: 7003,
				Message: fmt.Sprintf("Could not route to %s, perhaps your object identifier is invalid?", r.URL.Path)})
			return
		}
		switch {
		case len(parts) == 3 && r.Method == http.MethodGet:
			c.listRecords(w, r, z)
		case len(parts) == 3 && r.Method == http.MethodPost:
			c.createRecord(w, r, z)
		case len(parts) == 4 && r.Method == http.MethodDelete:
			c.deleteRecord(w, z, parts[3])
		case len(parts) == 4 && r.Method == http.MethodPatch:
			c.patchRecord(w, r, z, parts[3])
		default:
			cfFail(w, http.StatusMethodNotAllowed, cfError{Code: 10000, Message: "Method not allowed for this endpoint"})
		}
	default:
		cfFail(w, http.StatusNotFound, cfError{Code: 7003,
			Message: fmt.Sprintf("Could not route to %s, perhaps your object identifier is invalid?", r.URL.Path)})
	}
}

// paging returns page and per_page with Cloudflare's defaults.
func paging(q url.Values, defPer int) (page, per int) {
	page, per = 1, defPer
	if v, err := strconv.Atoi(q.Get("page")); err == nil && v > 0 {
		page = v
	}
	if v, err := strconv.Atoi(q.Get("per_page")); err == nil && v > 0 {
		per = v
	}
	return page, per
}

func pageOf[T any](items []T, page, per int) ([]T, *cfResultInfo) {
	total := len(items)
	start := min((page-1)*per, total)
	end := min(start+per, total)
	pages := (total + per - 1) / per
	out := items[start:end]
	if out == nil {
		out = []T{}
	}
	return out, &cfResultInfo{Page: page, PerPage: per, Count: len(out), TotalCount: total, TotalPages: pages}
}

func (c *Cloudflare) listZones(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	name := strings.ToLower(strings.TrimSuffix(q.Get("name"), "."))
	type zoneJSON struct {
		ID          string   `json:"id"`
		Name        string   `json:"name"`
		Status      string   `json:"status"`
		Paused      bool     `json:"paused"`
		Type        string   `json:"type"`
		NameServers []string `json:"name_servers"`
	}
	var zones []zoneJSON
	for _, z := range c.zones {
		if name == "" || z.name == name {
			zones = append(zones, zoneJSON{ID: z.id, Name: z.name, Status: "active", Type: "full",
				NameServers: []string{"ada.ns.cloudflare.com", "bob.ns.cloudflare.com"}})
		}
	}
	sort.Slice(zones, func(i, j int) bool { return zones[i].Name < zones[j].Name })
	page, per := paging(q, 20)
	res, info := pageOf(zones, page, per)
	cfWrite(w, http.StatusOK, cfEnvelope{Success: true, Result: res, ResultInfo: info})
}

// recordName makes a submitted name absolute within the zone, like the real
// API ("@" is the apex, relative names get the zone appended).
func recordName(name, zone string) string {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	switch {
	case name == "@" || name == "":
		return zone
	case name == zone || strings.HasSuffix(name, "."+zone):
		return name
	default:
		return name + "." + zone
	}
}

func (c *Cloudflare) listRecords(w http.ResponseWriter, r *http.Request, z *cfZone) {
	q := r.URL.Query()
	var out []*cfRecord
	for _, rec := range z.records {
		if t := q.Get("type"); t != "" && !strings.EqualFold(rec.Type, t) {
			continue
		}
		if n := q.Get("name"); n != "" && rec.Name != recordName(n, z.name) {
			continue
		}
		if n := q.Get("name.exact"); n != "" && rec.Name != recordName(n, z.name) {
			continue
		}
		if v := q.Get("content"); v != "" && rec.Content != v {
			continue
		}
		if v := q.Get("content.exact"); v != "" && rec.Content != v {
			continue
		}
		if v := q.Get("content.contains"); v != "" && !strings.Contains(rec.Content, v) {
			continue
		}
		out = append(out, rec)
	}
	page, per := paging(q, 100)
	res, info := pageOf(out, page, per)
	cfWrite(w, http.StatusOK, cfEnvelope{Success: true, Result: res, ResultInfo: info})
}

type cfRecordInput struct {
	Type     string `json:"type"`
	Name     string `json:"name"`
	Content  string `json:"content"`
	TTL      int    `json:"ttl"`
	Proxied  bool   `json:"proxied"`
	Priority *int   `json:"priority"`
}

// validate checks a create/patch body like the real API does.
func (in *cfRecordInput) validate() *cfError {
	switch {
	case in.Type == "":
		return &cfError{Code: 9005, Message: "DNS record type is invalid."}
	case in.Name == "":
		return &cfError{Code: 9007, Message: "DNS record name is invalid."}
	case in.Content == "":
		return &cfError{Code: 9021, Message: "DNS record content is invalid."}
	case in.TTL != 0 && in.TTL != 1 && (in.TTL < 60 || in.TTL > 86400):
		return &cfError{Code: 9021, Message: "Invalid TTL. Must be between 60 and 86400 seconds, or 1 for Automatic."}
	}
	return nil
}

func (c *Cloudflare) createRecord(w http.ResponseWriter, r *http.Request, z *cfZone) {
	var in cfRecordInput
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		cfFail(w, http.StatusBadRequest, cfError{Code: 9207, Message: "Request body is invalid."})
		return
	}
	if e := in.validate(); e != nil {
		cfFail(w, http.StatusBadRequest, *e)
		return
	}
	name := recordName(in.Name, z.name)
	for _, rec := range z.records {
		if rec.Type == strings.ToUpper(in.Type) && rec.Name == name && rec.Content == in.Content {
			cfFail(w, http.StatusBadRequest, cfError{Code: 81058, Message: "An identical record already exists."})
			return
		}
	}
	ttl := in.TTL
	if ttl == 0 {
		ttl = 1 // automatic
	}
	now := time.Now().UTC()
	rec := &cfRecord{
		ID: randomHex(16), ZoneID: z.id, ZoneName: z.name, Name: name, Type: strings.ToUpper(in.Type),
		Content: in.Content, TTL: ttl, Priority: in.Priority, Tags: []string{}, CreatedOn: now, ModifiedOn: now,
	}
	z.records = append(z.records, rec)
	if rec.Type == "TXT" && c.sink != nil {
		c.sink.AddTXT(rec.Name+".", unquoteTXT(rec.Content))
	}
	cfWrite(w, http.StatusOK, cfEnvelope{Success: true, Result: rec})
}

func (c *Cloudflare) deleteRecord(w http.ResponseWriter, z *cfZone, id string) {
	for i, rec := range z.records {
		if rec.ID != id {
			continue
		}
		z.records = slices.Delete(z.records, i, i+1)
		if rec.Type == "TXT" && c.sink != nil {
			c.sink.DeleteTXT(rec.Name+".", unquoteTXT(rec.Content))
		}
		cfWrite(w, http.StatusOK, cfEnvelope{Success: true, Result: map[string]string{"id": id}})
		return
	}
	cfFail(w, http.StatusNotFound, cfError{Code: 81044, Message: "Record does not exist."})
}

func (c *Cloudflare) patchRecord(w http.ResponseWriter, r *http.Request, z *cfZone, id string) {
	var in cfRecordInput
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		cfFail(w, http.StatusBadRequest, cfError{Code: 9207, Message: "Request body is invalid."})
		return
	}
	for _, rec := range z.records {
		if rec.ID != id {
			continue
		}
		old := *rec
		if in.Type != "" {
			rec.Type = strings.ToUpper(in.Type)
		}
		if in.Name != "" {
			rec.Name = recordName(in.Name, z.name)
		}
		if in.Content != "" {
			rec.Content = in.Content
		}
		if in.TTL != 0 {
			rec.TTL = in.TTL
		}
		rec.ModifiedOn = time.Now().UTC()
		if c.sink != nil {
			if old.Type == "TXT" {
				c.sink.DeleteTXT(old.Name+".", unquoteTXT(old.Content))
			}
			if rec.Type == "TXT" {
				c.sink.AddTXT(rec.Name+".", unquoteTXT(rec.Content))
			}
		}
		cfWrite(w, http.StatusOK, cfEnvelope{Success: true, Result: rec})
		return
	}
	cfFail(w, http.StatusNotFound, cfError{Code: 81044, Message: "Record does not exist."})
}

// unquoteTXT turns TXT content as stored by the Cloudflare API (one or
// more quoted character-strings, or a bare string) into the record's text.
func unquoteTXT(s string) string { return decodeCharStrings(s, false) }

// decodeCharStrings concatenates the character-strings of TXT data. A
// bare (unquoted) string is returned as is. Inside quotes, "\X" is X; with
// octal set, "\DDD" is the byte with octal value DDD (Route 53's escape).
func decodeCharStrings(s string, octal bool) string {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, `"`) {
		return s
	}
	var b strings.Builder
	inQuote := false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '"':
			inQuote = !inQuote
		case ch == '\\' && inQuote && i+1 < len(s):
			if octal && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
				if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
					b.WriteByte(byte(n))
					i += 3
					continue
				}
			}
			b.WriteByte(s[i+1])
			i++
		case inQuote:
			b.WriteByte(ch)
		}
	}
	return b.String()
}

func isOctal(b byte) bool { return b >= '0' && b <= '7' }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// rewriteTransport sends every request to target's scheme and host.
type rewriteTransport struct {
	target *url.URL
	next   http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t *rewriteTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.URL.Scheme = t.target.Scheme
	req.URL.Host = t.target.Host
	req.Host = t.target.Host
	next := t.next
	if next == nil {
		next = http.DefaultTransport
	}
	return next.RoundTrip(req)
}
