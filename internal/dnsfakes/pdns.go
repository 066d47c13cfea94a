package dnsfakes

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// PowerDNS is a fake of the PowerDNS Authoritative HTTP API (v1) subset
// that lego's pdns provider and libdns/powerdns use:
//
//	GET   /api                                        [{"url":"/api/v1","version":1}]
//	GET   /api/v1/servers/{server}                    the server object
//	GET   /api/v1/servers/{server}/zones              zones without rrsets
//	GET   /api/v1/servers/{server}/zones/{zone_id}    the zone with its rrsets
//	PATCH /api/v1/servers/{server}/zones/{zone_id}    {"rrsets":[…]} with changetype REPLACE or DELETE; 204
//	PUT   /api/v1/servers/{server}/zones/{zone_id}/notify
//
// Every request must carry the X-API-Key header (else 401
// {"error":"Unauthorized"}). The server ID is "localhost". Zone IDs are
// the zone names with a trailing dot (also accepted without). As PowerDNS,
// PATCH checks every rrset before applying any: names must be absolute and
// inside the zone, changetype REPLACE or DELETE, TXT contents quoted
// (errors are 422 {"error": …}); REPLACE replaces the whole RRset, DELETE
// removes it. Unknown zones get 404 {"error":"Could not find domain '…'"}.
// Only TXT rrsets are reported to the Sink (their unquoted values).
type PowerDNS struct {
	// URL is the API host, for PDNS_API_URL.
	URL string

	srv  *httptest.Server
	sink Sink
	key  string

	mu       sync.Mutex
	zones    map[string]*pdnsZone // by canonical name
	requests []string
}

type pdnsZone struct {
	name   string
	kind   string
	serial int
	rrsets map[string]*pdnsRRSet // by "name type"
}

type pdnsRecord struct {
	Content  string `json:"content"`
	Disabled bool   `json:"disabled"`
}

type pdnsRRSet struct {
	Name       string       `json:"name"`
	Type       string       `json:"type"`
	TTL        int          `json:"ttl"`
	ChangeType string       `json:"changetype,omitempty"`
	Records    []pdnsRecord `json:"records"`
	Comments   []any        `json:"comments"`
}

// NewPowerDNS starts the fake on 127.0.0.1, accepting apiKey. sink may be
// nil.
func NewPowerDNS(t testing.TB, sink Sink, apiKey string) *PowerDNS {
	t.Helper()
	p := &PowerDNS{sink: sink, key: apiKey, zones: map[string]*pdnsZone{}}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	p.URL = p.srv.URL
	return p
}

// AddZone creates a zone of kind "Native" (or kind, when given: "Master",
// "Slave").
func (p *PowerDNS) AddZone(name string, kind ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := "Native"
	if len(kind) > 0 {
		k = kind[0]
	}
	n := CanonicalName(name)
	p.zones[n] = &pdnsZone{name: n, kind: k, serial: 1, rrsets: map[string]*pdnsRRSet{}}
}

// TXT returns the unquoted values of the TXT RRset at fqdn.
func (p *PowerDNS) TXT(fqdn string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	name := CanonicalName(fqdn)
	for _, z := range p.zones {
		if rs := z.rrsets[name+" TXT"]; rs != nil {
			return txtValues(rs)
		}
	}
	return nil
}

// Requests returns "METHOD /path status" for every request, in order.
func (p *PowerDNS) Requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.requests)
}

func txtValues(rs *pdnsRRSet) []string {
	var out []string
	for _, r := range rs.Records {
		if v, err := strconv.Unquote(r.Content); err == nil {
			out = append(out, v)
		} else {
			out = append(out, r.Content)
		}
	}
	return out
}

func (p *PowerDNS) serve(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	status := p.handle(w, r)
	p.requests = append(p.requests, fmt.Sprintf("%s %s %d", r.Method, r.URL.Path, status))
}

func pdnsJSON(w http.ResponseWriter, status int, v any) int {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
	return status
}

func pdnsError(w http.ResponseWriter, status int, msg string) int {
	return pdnsJSON(w, status, map[string]string{"error": msg})
}

func (p *PowerDNS) handle(w http.ResponseWriter, r *http.Request) int {
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("X-API-Key")), []byte(p.key)) != 1 {
		return pdnsError(w, http.StatusUnauthorized, "Unauthorized")
	}
	path := strings.TrimSuffix(r.URL.Path, "/")
	if path == "/api" && r.Method == http.MethodGet {
		return pdnsJSON(w, http.StatusOK, []map[string]any{{"url": "/api/v1", "version": 1}})
	}
	rest, ok := strings.CutPrefix(path, "/api/v1/servers/")
	if !ok {
		return pdnsError(w, http.StatusNotFound, "Not Found")
	}
	parts := strings.Split(rest, "/")
	if parts[0] != "localhost" {
		return pdnsError(w, http.StatusNotFound, "Not Found")
	}
	server := "/api/v1/servers/localhost"
	switch {
	case len(parts) == 1 && r.Method == http.MethodGet:
		return pdnsJSON(w, http.StatusOK, map[string]any{
			"type": "Server", "id": "localhost", "daemon_type": "authoritative", "version": "4.9.4",
			"url": server, "config_url": server + "/config{/config_setting}", "zones_url": server + "/zones{/zone}",
		})
	case len(parts) == 2 && parts[1] == "zones" && r.Method == http.MethodGet:
		var out []map[string]any
		for _, z := range p.zones {
			out = append(out, p.zoneJSON(z, false))
		}
		return pdnsJSON(w, http.StatusOK, out)
	case len(parts) >= 3 && parts[1] == "zones":
		id := strings.ReplaceAll(parts[2], "=2F", "/")
		z := p.zones[CanonicalName(id)]
		if z == nil {
			return pdnsError(w, http.StatusNotFound, "Could not find domain '"+CanonicalName(id)+"'")
		}
		switch {
		case len(parts) == 3 && r.Method == http.MethodGet:
			return pdnsJSON(w, http.StatusOK, p.zoneJSON(z, true))
		case len(parts) == 3 && r.Method == http.MethodPatch:
			return p.patch(w, r, z)
		case len(parts) == 4 && parts[3] == "notify" && r.Method == http.MethodPut:
			if z.kind != "Master" && z.kind != "Slave" && z.kind != "Primary" && z.kind != "Secondary" {
				return pdnsError(w, http.StatusUnprocessableEntity, "Domain '"+z.name+"' is not a primary or secondary domain")
			}
			return pdnsJSON(w, http.StatusOK, map[string]string{"result": "Notification queued"})
		}
	}
	return pdnsError(w, http.StatusMethodNotAllowed, "Method Not Allowed")
}

func (p *PowerDNS) zoneJSON(z *pdnsZone, withRRSets bool) map[string]any {
	out := map[string]any{
		"id": z.name, "name": z.name, "type": "Zone", "kind": z.kind, "serial": z.serial,
		"url": "/api/v1/servers/localhost/zones/" + z.name, "dnssec": false,
	}
	if withRRSets {
		sets := []*pdnsRRSet{}
		for _, rs := range z.rrsets {
			sets = append(sets, rs)
		}
		slices.SortFunc(sets, func(a, b *pdnsRRSet) int { return strings.Compare(a.Name+a.Type, b.Name+b.Type) })
		out["rrsets"] = sets
	}
	return out
}

func (p *PowerDNS) patch(w http.ResponseWriter, r *http.Request, z *pdnsZone) int {
	var body struct {
		RRSets []pdnsRRSet `json:"rrsets"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		return pdnsError(w, http.StatusBadRequest, "Could not parse JSON body")
	}
	// Check everything first: PowerDNS applies a PATCH atomically.
	for _, rs := range body.RRSets {
		desc := fmt.Sprintf("RRset %s IN %s", rs.Name, rs.Type)
		if !strings.HasSuffix(rs.Name, ".") {
			return pdnsError(w, http.StatusUnprocessableEntity, desc+": Name is not canonical (must end with a dot)")
		}
		name := strings.ToLower(rs.Name)
		if name != z.name && !strings.HasSuffix(name, "."+z.name) {
			return pdnsError(w, http.StatusUnprocessableEntity, desc+": Name is out of zone")
		}
		switch strings.ToUpper(rs.ChangeType) {
		case "DELETE":
		case "REPLACE":
			if rs.Type == "TXT" {
				for _, rec := range rs.Records {
					if _, err := strconv.Unquote(rec.Content); err != nil {
						return pdnsError(w, http.StatusUnprocessableEntity,
							fmt.Sprintf("Record %s/TXT '%s': Parsing record content: not a quoted string", rs.Name, rec.Content))
					}
				}
			}
		default:
			return pdnsError(w, http.StatusUnprocessableEntity, "Changetype not understood")
		}
	}
	for _, rs := range body.RRSets {
		name := strings.ToLower(rs.Name)
		key := name + " " + strings.ToUpper(rs.Type)
		old := z.rrsets[key]
		var before, after []string
		if old != nil && old.Type == "TXT" {
			before = txtValues(old)
		}
		if strings.ToUpper(rs.ChangeType) == "DELETE" || len(rs.Records) == 0 {
			delete(z.rrsets, key)
		} else {
			set := &pdnsRRSet{Name: name, Type: strings.ToUpper(rs.Type), TTL: rs.TTL, Records: rs.Records, Comments: []any{}}
			z.rrsets[key] = set
			if set.Type == "TXT" {
				after = txtValues(set)
			}
		}
		if p.sink != nil {
			for _, v := range before {
				if !slices.Contains(after, v) {
					p.sink.DeleteTXT(name, v)
				}
			}
			for _, v := range after {
				if !slices.Contains(before, v) {
					p.sink.AddTXT(name, v)
				}
			}
		}
	}
	z.serial++
	w.WriteHeader(http.StatusNoContent)
	return http.StatusNoContent
}
