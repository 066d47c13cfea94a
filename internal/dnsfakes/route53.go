package dnsfakes

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// route53NS is the XML namespace of the Route 53 API version the SDK uses.
const route53NS = "https://route53.amazonaws.com/doc/2013-04-01/"

// Route53 is a fake of the Route 53 REST-XML API subset that
// libdns/route53 (through aws-sdk-go-v2) uses:
//
//	GET  /2013-04-01/hostedzonesbyname?dnsname=&maxitems=   ListHostedZonesByName
//	GET  /2013-04-01/hostedzone/{id}/rrset?maxitems=&name=&type=   ListResourceRecordSets
//	POST /2013-04-01/hostedzone/{id}/rrset                  ChangeResourceRecordSets
//	GET  /2013-04-01/change/{id}                            GetChange
//
// Point the SDK at it with AWS_ENDPOINT_URL_ROUTE_53=URL. Requests must be
// SigV4-signed for the configured access key ID and the "route53" service
// (the signature itself is not verified). Changes are validated and applied
// atomically like the real service (CREATE of an existing set, DELETE of a
// missing or different set, names outside the zone and unquoted TXT values
// are InvalidChangeBatch errors in Route 53's own XML shape); GetChange
// reports INSYNC.
type Route53 struct {
	// URL is the endpoint to put in AWS_ENDPOINT_URL_ROUTE_53.
	URL string

	srv         *httptest.Server
	sink        Sink
	accessKeyID string

	mu      sync.Mutex
	zones   map[string]*r53Zone // by bare ID
	changes map[string]time.Time
	calls   []string
	nextID  int
}

type r53Zone struct {
	id, name string // name is canonical (trailing dot)
	private  bool
	sets     []*r53Set
}

type r53Set struct {
	Name   string
	Type   string
	TTL    int64
	Values []string
}

// NewRoute53 starts the fake on 127.0.0.1, accepting requests signed with
// accessKeyID. sink may be nil.
func NewRoute53(t testing.TB, sink Sink, accessKeyID string) *Route53 {
	t.Helper()
	r := &Route53{sink: sink, accessKeyID: accessKeyID, zones: map[string]*r53Zone{}, changes: map[string]time.Time{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	r.URL = r.srv.URL
	return r
}

// AddZone creates a hosted zone with its SOA and NS records and returns its
// bare ID (without "/hostedzone/").
func (r *Route53) AddZone(name string, private bool) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nextID++
	id := fmt.Sprintf("Z%013dFAKE", r.nextID)
	name = CanonicalName(name)
	r.zones[id] = &r53Zone{id: id, name: name, private: private, sets: []*r53Set{
		{Name: name, Type: "NS", TTL: 172800, Values: []string{"ns-1.awsdns-01.org.", "ns-2.awsdns-02.com."}},
		{Name: name, Type: "SOA", TTL: 900, Values: []string{"ns-1.awsdns-01.org. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400"}},
	}}
	return id
}

// TXT returns the decoded values of the TXT record set at fqdn.
func (r *Route53) TXT(fqdn string) []string {
	fqdn = CanonicalName(fqdn)
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, z := range r.zones {
		for _, s := range z.sets {
			if s.Type == "TXT" && s.Name == fqdn {
				for _, v := range s.Values {
					out = append(out, decodeCharStrings(v, true))
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// Calls returns the API operations served, in order.
func (r *Route53) Calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

func r53WriteXML(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", randomHex(16))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(xml.Header))
	_ = xml.NewEncoder(w).Encode(v)
}

type r53ErrorResponse struct {
	XMLName xml.Name `xml:"ErrorResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Error   struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	} `xml:"Error"`
	RequestID string `xml:"RequestId"`
}

func r53Fail(w http.ResponseWriter, status int, code, msg string) {
	var e r53ErrorResponse
	e.Xmlns = route53NS
	e.Error.Type = "Sender"
	e.Error.Code = code
	e.Error.Message = msg
	e.RequestID = randomHex(16)
	r53WriteXML(w, status, e)
}

type r53InvalidChangeBatch struct {
	XMLName   xml.Name `xml:"InvalidChangeBatch"`
	Xmlns     string   `xml:"xmlns,attr"`
	Messages  []string `xml:"Messages>Message"`
	RequestID string   `xml:"RequestId"`
}

func (r *Route53) serve(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()

	// SigV4: Credential=<akid>/<date>/<region>/route53/aws4_request.
	auth := req.Header.Get("Authorization")
	cred := ""
	if rest, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 "); ok {
		for _, part := range strings.Split(rest, ",") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(part), "Credential="); ok {
				cred = v
			}
		}
	}
	scope := strings.Split(cred, "/")
	if len(scope) != 5 || scope[3] != "route53" || scope[4] != "aws4_request" || req.Header.Get("X-Amz-Date") == "" {
		r53Fail(w, http.StatusForbidden, "IncompleteSignature", "Authorization header requires a SigV4 Credential for service route53.")
		return
	}
	if scope[0] != r.accessKeyID {
		r53Fail(w, http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid.")
		return
	}

	path := strings.TrimSuffix(strings.TrimPrefix(req.URL.Path, "/2013-04-01/"), "/")
	parts := strings.Split(path, "/")
	switch {
	case req.Method == http.MethodGet && path == "hostedzonesbyname":
		r.calls = append(r.calls, "ListHostedZonesByName")
		r.listZonesByName(w, req)
	case len(parts) == 3 && parts[0] == "hostedzone" && parts[2] == "rrset" && req.Method == http.MethodGet:
		r.calls = append(r.calls, "ListResourceRecordSets")
		r.listRecordSets(w, req, parts[1])
	case len(parts) == 3 && parts[0] == "hostedzone" && parts[2] == "rrset" && req.Method == http.MethodPost:
		r.calls = append(r.calls, "ChangeResourceRecordSets")
		r.changeRecordSets(w, req, parts[1])
	case len(parts) == 2 && parts[0] == "change" && req.Method == http.MethodGet:
		r.calls = append(r.calls, "GetChange")
		r.getChange(w, parts[1])
	default:
		r53Fail(w, http.StatusNotFound, "UnknownOperationException", "Unknown operation "+req.Method+" "+req.URL.Path)
	}
}

// reverseKey orders names like Route 53: labels reversed ("com.example.www").
func reverseKey(name string) string {
	labels := strings.Split(strings.TrimSuffix(name, "."), ".")
	slices.Reverse(labels)
	return strings.Join(labels, ".")
}

type r53HostedZone struct {
	ID              string `xml:"Id"`
	Name            string `xml:"Name"`
	CallerReference string `xml:"CallerReference"`
	Config          struct {
		PrivateZone bool `xml:"PrivateZone"`
	} `xml:"Config"`
	ResourceRecordSetCount int `xml:"ResourceRecordSetCount"`
}

func (r *Route53) listZonesByName(w http.ResponseWriter, req *http.Request) {
	q := req.URL.Query()
	maxItems := 100
	if v, err := strconv.Atoi(q.Get("maxitems")); err == nil && v > 0 {
		maxItems = v
	}
	zones := make([]*r53Zone, 0, len(r.zones))
	for _, z := range r.zones {
		zones = append(zones, z)
	}
	sort.Slice(zones, func(i, j int) bool {
		if ki, kj := reverseKey(zones[i].name), reverseKey(zones[j].name); ki != kj {
			return ki < kj
		}
		return zones[i].id < zones[j].id
	})
	start := 0
	if dn := q.Get("dnsname"); dn != "" {
		key := reverseKey(CanonicalName(dn))
		start = sort.Search(len(zones), func(i int) bool { return reverseKey(zones[i].name) >= key })
	}
	type resp struct {
		XMLName          xml.Name        `xml:"ListHostedZonesByNameResponse"`
		Xmlns            string          `xml:"xmlns,attr"`
		HostedZones      []r53HostedZone `xml:"HostedZones>HostedZone"`
		DNSName          string          `xml:"DNSName,omitempty"`
		IsTruncated      bool            `xml:"IsTruncated"`
		NextDNSName      string          `xml:"NextDNSName,omitempty"`
		NextHostedZoneID string          `xml:"NextHostedZoneId,omitempty"`
		MaxItems         int             `xml:"MaxItems"`
	}
	out := resp{Xmlns: route53NS, DNSName: q.Get("dnsname"), MaxItems: maxItems}
	for i := start; i < len(zones); i++ {
		if len(out.HostedZones) == maxItems {
			out.IsTruncated = true
			out.NextDNSName = zones[i].name
			out.NextHostedZoneID = zones[i].id
			break
		}
		z := zones[i]
		hz := r53HostedZone{ID: "/hostedzone/" + z.id, Name: z.name, CallerReference: "fake-" + z.id, ResourceRecordSetCount: len(z.sets)}
		hz.Config.PrivateZone = z.private
		out.HostedZones = append(out.HostedZones, hz)
	}
	r53WriteXML(w, http.StatusOK, out)
}

type r53RecordSetXML struct {
	Name            string   `xml:"Name"`
	Type            string   `xml:"Type"`
	TTL             *int64   `xml:"TTL,omitempty"`
	ResourceRecords []string `xml:"ResourceRecords>ResourceRecord>Value"`
}

func setOrder(a, b *r53Set) int {
	if c := strings.Compare(reverseKey(a.Name), reverseKey(b.Name)); c != 0 {
		return c
	}
	return strings.Compare(a.Type, b.Type)
}

func (r *Route53) zone(w http.ResponseWriter, id string) *r53Zone {
	z := r.zones[id]
	if z == nil {
		r53Fail(w, http.StatusNotFound, "NoSuchHostedZone", "No hosted zone found with ID: "+id)
	}
	return z
}

func (r *Route53) listRecordSets(w http.ResponseWriter, req *http.Request, id string) {
	z := r.zone(w, id)
	if z == nil {
		return
	}
	q := req.URL.Query()
	maxItems := 300
	if v, err := strconv.Atoi(q.Get("maxitems")); err == nil && v > 0 {
		maxItems = min(v, 300) // the real API caps a page at 300 sets
	}
	sets := slices.Clone(z.sets)
	slices.SortFunc(sets, setOrder)
	start := 0
	if name := q.Get("name"); name != "" {
		from := &r53Set{Name: CanonicalName(name), Type: q.Get("type")}
		start = sort.Search(len(sets), func(i int) bool { return setOrder(sets[i], from) >= 0 })
	} else if q.Get("type") != "" {
		r53Fail(w, http.StatusBadRequest, "InvalidInput", "The input is not valid: type requires name")
		return
	}
	type resp struct {
		XMLName            xml.Name          `xml:"ListResourceRecordSetsResponse"`
		Xmlns              string            `xml:"xmlns,attr"`
		ResourceRecordSets []r53RecordSetXML `xml:"ResourceRecordSets>ResourceRecordSet"`
		IsTruncated        bool              `xml:"IsTruncated"`
		NextRecordName     string            `xml:"NextRecordName,omitempty"`
		NextRecordType     string            `xml:"NextRecordType,omitempty"`
		MaxItems           int               `xml:"MaxItems"`
	}
	out := resp{Xmlns: route53NS, MaxItems: maxItems}
	for i := start; i < len(sets); i++ {
		if len(out.ResourceRecordSets) == maxItems {
			out.IsTruncated = true
			out.NextRecordName, out.NextRecordType = sets[i].Name, sets[i].Type
			break
		}
		s := sets[i]
		ttl := s.TTL
		out.ResourceRecordSets = append(out.ResourceRecordSets,
			r53RecordSetXML{Name: s.Name, Type: s.Type, TTL: &ttl, ResourceRecords: slices.Clone(s.Values)})
	}
	r53WriteXML(w, http.StatusOK, out)
}

type r53ChangeRequest struct {
	XMLName     xml.Name `xml:"ChangeResourceRecordSetsRequest"`
	ChangeBatch struct {
		Comment string `xml:"Comment"`
		Changes []struct {
			Action            string          `xml:"Action"`
			ResourceRecordSet r53RecordSetXML `xml:"ResourceRecordSet"`
		} `xml:"Changes>Change"`
	} `xml:"ChangeBatch"`
}

type r53ChangeInfo struct {
	ID          string `xml:"Id"`
	Status      string `xml:"Status"`
	SubmittedAt string `xml:"SubmittedAt"`
	Comment     string `xml:"Comment,omitempty"`
}

// validTXT reports whether v is one or more quoted character-strings.
func validTXT(v string) bool {
	v = strings.TrimSpace(v)
	if !strings.HasPrefix(v, `"`) || !strings.HasSuffix(v, `"`) || len(v) < 2 {
		return false
	}
	inQuote, escaped := false, false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case escaped:
			escaped = false
		case c == '\\' && inQuote:
			escaped = true
		case c == '"':
			inQuote = !inQuote
		case !inQuote && c != ' ':
			return false
		}
	}
	return !inQuote
}

func sameValues(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	sort.Strings(a)
	sort.Strings(b)
	return slices.Equal(a, b)
}

func (r *Route53) changeRecordSets(w http.ResponseWriter, req *http.Request, id string) {
	z := r.zone(w, id)
	if z == nil {
		return
	}
	var body r53ChangeRequest
	if err := xml.NewDecoder(req.Body).Decode(&body); err != nil {
		r53Fail(w, http.StatusBadRequest, "InvalidInput", "Could not parse the request body.")
		return
	}
	if len(body.ChangeBatch.Changes) == 0 {
		r53Fail(w, http.StatusBadRequest, "InvalidInput", "ChangeBatch must contain at least one change.")
		return
	}

	// Validate everything against a copy, then commit: batches are atomic.
	sets := make([]*r53Set, len(z.sets))
	for i, s := range z.sets {
		cp := *s
		cp.Values = slices.Clone(s.Values)
		sets[i] = &cp
	}
	find := func(name, typ string) int {
		return slices.IndexFunc(sets, func(s *r53Set) bool { return s.Name == name && s.Type == typ })
	}
	var problems []string
	type event struct {
		add   bool
		fqdn  string
		value string
	}
	var events []event
	for _, ch := range body.ChangeBatch.Changes {
		rs := ch.ResourceRecordSet
		name := CanonicalName(rs.Name)
		desc := fmt.Sprintf("[name='%s', type='%s']", name, rs.Type)
		if name != z.name && !strings.HasSuffix(name, "."+z.name) {
			problems = append(problems, fmt.Sprintf("RRSet with DNS name %s is not permitted in zone %s", name, z.name))
			continue
		}
		if rs.Type == "TXT" {
			bad := slices.IndexFunc(rs.ResourceRecords, func(v string) bool { return !validTXT(v) })
			if bad >= 0 {
				problems = append(problems, fmt.Sprintf("Invalid Resource Record: 'FATAL problem: InvalidCharacterString "+
					"(Value should be enclosed in quotation marks) encountered with '%s''", rs.ResourceRecords[bad]))
				continue
			}
		}
		var ttl int64
		if rs.TTL != nil {
			ttl = *rs.TTL
		}
		i := find(name, rs.Type)
		switch ch.Action {
		case "CREATE", "UPSERT":
			if len(rs.ResourceRecords) == 0 || rs.TTL == nil {
				problems = append(problems, "Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords]], but found none in Change with "+desc)
				continue
			}
			var old []string
			if i >= 0 {
				if ch.Action == "CREATE" {
					problems = append(problems, "Tried to create resource record set "+desc+" but it already exists")
					continue
				}
				old = sets[i].Values
				sets[i] = &r53Set{Name: name, Type: rs.Type, TTL: ttl, Values: slices.Clone(rs.ResourceRecords)}
			} else {
				sets = append(sets, &r53Set{Name: name, Type: rs.Type, TTL: ttl, Values: slices.Clone(rs.ResourceRecords)})
			}
			if rs.Type == "TXT" {
				for _, v := range old {
					if !slices.Contains(rs.ResourceRecords, v) {
						events = append(events, event{false, name, v})
					}
				}
				for _, v := range rs.ResourceRecords {
					if !slices.Contains(old, v) {
						events = append(events, event{true, name, v})
					}
				}
			}
		case "DELETE":
			if i < 0 {
				problems = append(problems, "Tried to delete resource record set "+desc+" but it was not found")
				continue
			}
			if sets[i].TTL != ttl || !sameValues(sets[i].Values, rs.ResourceRecords) {
				problems = append(problems, "Tried to delete resource record set "+desc+" but the values provided do not match the current values")
				continue
			}
			if rs.Type == "TXT" {
				for _, v := range sets[i].Values {
					events = append(events, event{false, name, v})
				}
			}
			sets = slices.Delete(sets, i, i+1)
		default:
			problems = append(problems, "Invalid action "+ch.Action)
		}
	}
	if len(problems) > 0 {
		r53WriteXML(w, http.StatusBadRequest, r53InvalidChangeBatch{Xmlns: route53NS, Messages: problems, RequestID: randomHex(16)})
		return
	}
	z.sets = sets
	if r.sink != nil {
		for _, ev := range events {
			if ev.add {
				r.sink.AddTXT(ev.fqdn, decodeCharStrings(ev.value, true))
			} else {
				r.sink.DeleteTXT(ev.fqdn, decodeCharStrings(ev.value, true))
			}
		}
	}
	changeID := "C" + strings.ToUpper(randomHex(10))
	now := time.Now().UTC()
	r.changes[changeID] = now
	type resp struct {
		XMLName    xml.Name      `xml:"ChangeResourceRecordSetsResponse"`
		Xmlns      string        `xml:"xmlns,attr"`
		ChangeInfo r53ChangeInfo `xml:"ChangeInfo"`
	}
	r53WriteXML(w, http.StatusOK, resp{Xmlns: route53NS, ChangeInfo: r53ChangeInfo{
		ID: "/change/" + changeID, Status: "PENDING", SubmittedAt: now.Format(time.RFC3339), Comment: body.ChangeBatch.Comment,
	}})
}

func (r *Route53) getChange(w http.ResponseWriter, id string) {
	at, ok := r.changes[id]
	if !ok {
		r53Fail(w, http.StatusNotFound, "NoSuchChange", "A change with the specified change ID does not exist: "+id)
		return
	}
	type resp struct {
		XMLName    xml.Name      `xml:"GetChangeResponse"`
		Xmlns      string        `xml:"xmlns,attr"`
		ChangeInfo r53ChangeInfo `xml:"ChangeInfo"`
	}
	r53WriteXML(w, http.StatusOK, resp{Xmlns: route53NS, ChangeInfo: r53ChangeInfo{
		ID: "/change/" + id, Status: "INSYNC", SubmittedAt: at.Format(time.RFC3339),
	}})
}
