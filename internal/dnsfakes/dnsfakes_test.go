package dnsfakes

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestMemorySink(t *testing.T) {
	s := NewMemorySink()
	s.AddTXT("_acme-challenge.Example.COM", "a")
	s.AddTXT("_acme-challenge.example.com.", "b")
	s.DeleteTXT("_acme-challenge.example.com", "a")
	s.DeleteTXT("_acme-challenge.example.com", "not-there")
	if got := s.TXT("_acme-challenge.example.com."); !slices.Equal(got, []string{"b"}) {
		t.Errorf("TXT = %v", got)
	}
	if got := len(s.Log()); got != 4 {
		t.Errorf("log has %d entries, want 4", got)
	}
}

func TestDecodeCharStrings(t *testing.T) {
	for _, tc := range []struct {
		in    string
		octal bool
		want  string
	}{
		{in: `"abc"`, want: "abc"},
		{in: `bare`, want: "bare"},
		{in: `"part one" "part two"`, want: "part onepart two"},
		{in: `"say \"hi\" \\ ok"`, want: `say "hi" \ ok`},
		{in: `"ex\344mple"`, octal: true, want: "ex\xe4mple"},
		{in: `"ex\344mple"`, octal: false, want: "ex344mple"},
	} {
		if got := decodeCharStrings(tc.in, tc.octal); got != tc.want {
			t.Errorf("decodeCharStrings(%q, %v) = %q, want %q", tc.in, tc.octal, got, tc.want)
		}
	}
}

func doJSON(t *testing.T, c *http.Client, method, url, auth, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("decoding response: %v", err)
	}
	return resp.StatusCode, out
}

func TestCloudflareEnvelopeAndErrors(t *testing.T) {
	sink := NewMemorySink()
	cf := NewCloudflare(t, sink, "good")
	zone := cf.AddZone("example.com")
	c := cf.HTTPClient()
	base := CloudflareAPIBase

	for _, tc := range []struct {
		desc, method, path, auth, body string
		wantStatus                     int
		wantCode                       float64
	}{
		{"missing header", "GET", "/zones?name=example.com", "", "", 400, 6003},
		{"malformed header", "GET", "/zones?name=example.com", "Token good", "", 400, 6003},
		{"wrong token", "GET", "/zones?name=example.com", "Bearer bad", "", 403, 9109},
		{"unknown zone", "GET", "/zones/nope/dns_records", "Bearer good", "", 400, 7003},
		{"invalid ttl", "POST", "/zones/" + zone + "/dns_records", "Bearer good", `{"type":"TXT","name":"x","content":"\"v\"","ttl":5}`, 400, 9021},
		{"delete unknown record", "DELETE", "/zones/" + zone + "/dns_records/0000", "Bearer good", "", 404, 81044},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			status, env := doJSON(t, c, tc.method, base+tc.path, tc.auth, tc.body)
			if status != tc.wantStatus {
				t.Errorf("status = %d, want %d", status, tc.wantStatus)
			}
			errs, _ := env["errors"].([]any)
			if env["success"] != false || len(errs) != 1 || errs[0].(map[string]any)["code"] != tc.wantCode {
				t.Errorf("envelope = %v, want one error with code %v", env, tc.wantCode)
			}
			if _, ok := env["messages"]; !ok {
				t.Errorf("envelope lacks messages")
			}
		})
	}

	t.Run("create, duplicate, list with result_info", func(t *testing.T) {
		body := `{"type":"TXT","name":"_acme-challenge","content":"\"v1\"","ttl":120}`
		status, env := doJSON(t, c, "POST", base+"/zones/"+zone+"/dns_records", "Bearer good", body)
		if status != 200 || env["success"] != true {
			t.Fatalf("create: %d %v", status, env)
		}
		if got := env["result"].(map[string]any)["name"]; got != "_acme-challenge.example.com" {
			t.Errorf("stored name = %v, want the absolute name", got)
		}
		status, env = doJSON(t, c, "POST", base+"/zones/"+zone+"/dns_records", "Bearer good", body)
		if status != 400 || env["errors"].([]any)[0].(map[string]any)["code"] != float64(81058) {
			t.Errorf("duplicate: %d %v", status, env)
		}
		_, env = doJSON(t, c, "GET", base+"/zones/"+zone+"/dns_records?type=TXT&name=_acme-challenge.example.com&content.contains=v1", "Bearer good", "")
		info, _ := env["result_info"].(map[string]any)
		if len(env["result"].([]any)) != 1 || info == nil || info["total_count"] != float64(1) {
			t.Errorf("list = %v", env)
		}
		if got := sink.TXT("_acme-challenge.example.com"); !slices.Equal(got, []string{"v1"}) {
			t.Errorf("sink = %v", got)
		}
	})
}

func r53Do(t *testing.T, r *Route53, method, path, akid, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, r.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if akid != "" {
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+akid+"/20260101/us-east-1/route53/aws4_request, SignedHeaders=host, Signature=00")
		req.Header.Set("X-Amz-Date", "20260101T000000Z")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func changeBody(action, name, ttl string, values ...string) string {
	var rr strings.Builder
	for _, v := range values {
		rr.WriteString("<ResourceRecord><Value>" + v + "</Value></ResourceRecord>")
	}
	return `<ChangeResourceRecordSetsRequest xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ChangeBatch><Changes><Change>` +
		"<Action>" + action + "</Action><ResourceRecordSet><Name>" + name + "</Name><Type>TXT</Type><TTL>" + ttl +
		"</TTL><ResourceRecords>" + rr.String() + "</ResourceRecords></ResourceRecordSet></Change></Changes></ChangeBatch></ChangeResourceRecordSetsRequest>"
}

func TestRoute53ErrorsAndSemantics(t *testing.T) {
	sink := NewMemorySink()
	r := NewRoute53(t, sink, "AKID")
	id := r.AddZone("example.com", false)
	rrset := "/2013-04-01/hostedzone/" + id + "/rrset"

	for _, tc := range []struct {
		desc, method, path, akid, body string
		wantStatus                     int
		want                           string
	}{
		{"unsigned", "GET", "/2013-04-01/hostedzonesbyname", "", "", 403, "<Code>IncompleteSignature</Code>"},
		{"wrong key", "GET", "/2013-04-01/hostedzonesbyname", "OTHER", "", 403, "<Code>InvalidClientTokenId</Code>"},
		{"unknown zone", "GET", "/2013-04-01/hostedzone/ZNOPE/rrset", "AKID", "", 404, "<Code>NoSuchHostedZone</Code>"},
		{"unquoted TXT", "POST", rrset, "AKID", changeBody("UPSERT", "_acme-challenge.example.com.", "60", "bare"), 400, "<InvalidChangeBatch"},
		{"outside the zone", "POST", rrset, "AKID", changeBody("UPSERT", "x.example.org.", "60", `"v"`), 400, "is not permitted in zone example.com."},
		{"delete missing", "POST", rrset, "AKID", changeBody("DELETE", "_acme-challenge.example.com.", "60", `"v"`), 400, "but it was not found"},
		{"zones by name", "GET", "/2013-04-01/hostedzonesbyname?dnsname=example.com&maxitems=1", "AKID", "", 200, "<Id>/hostedzone/" + id + "</Id>"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			status, body := r53Do(t, r, tc.method, tc.path, tc.akid, tc.body)
			if status != tc.wantStatus || !strings.Contains(body, tc.want) {
				t.Errorf("got %d %s\nwant %d containing %q", status, body, tc.wantStatus, tc.want)
			}
		})
	}

	t.Run("upsert, mismatched delete, delete", func(t *testing.T) {
		if st, body := r53Do(t, r, "POST", rrset, "AKID", changeBody("UPSERT", "_acme-challenge.example.com", "60", `"a"`, `"b"`)); st != 200 {
			t.Fatalf("upsert: %d %s", st, body)
		}
		if got := sink.TXT("_acme-challenge.example.com"); !slices.Equal(got, []string{"a", "b"}) {
			t.Errorf("sink = %v", got)
		}
		if st, body := r53Do(t, r, "POST", rrset, "AKID", changeBody("DELETE", "_acme-challenge.example.com.", "60", `"a"`)); st != 400 ||
			!strings.Contains(body, "do not match") {
			t.Errorf("partial delete: %d %s", st, body)
		}
		if st, body := r53Do(t, r, "POST", rrset, "AKID", changeBody("DELETE", "_acme-challenge.example.com.", "60", `"b"`, `"a"`)); st != 200 {
			t.Errorf("delete: %d %s", st, body)
		}
		if got := r.TXT("_acme-challenge.example.com"); len(got) != 0 {
			t.Errorf("TXT after delete = %v", got)
		}
		if got := sink.TXT("_acme-challenge.example.com"); len(got) != 0 {
			t.Errorf("sink after delete = %v", got)
		}
	})

	t.Run("list pagination", func(t *testing.T) {
		_, body := r53Do(t, r, "GET", rrset+"?maxitems=1", "AKID", "")
		if !strings.Contains(body, "<IsTruncated>true</IsTruncated>") || !strings.Contains(body, "<NextRecordType>SOA</NextRecordType>") {
			t.Errorf("first page = %s", body)
		}
		_, body = r53Do(t, r, "GET", rrset+"?maxitems=1&name=example.com.&type=SOA", "AKID", "")
		if !strings.Contains(body, "<Type>SOA</Type>") || !strings.Contains(body, "<IsTruncated>false</IsTruncated>") {
			t.Errorf("second page = %s", body)
		}
	})
}

func TestHTTPReqFake(t *testing.T) {
	sink := NewMemorySink()
	h := NewHTTPReq(t, sink, "u", "p")
	post := func(path, user, pass, body string) int {
		req, _ := http.NewRequestWithContext(t.Context(), "POST", h.URL+path, strings.NewReader(body))
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := post("/present", "u", "wrong", `{"fqdn":"a.","value":"v"}`); st != 401 {
		t.Errorf("wrong password: %d", st)
	}
	if st := post("/present", "u", "p", `{"fqdn":"_acme-challenge.example.com.","value":"v"}`); st != 200 {
		t.Errorf("present: %d", st)
	}
	if st := post("/elsewhere", "u", "p", `{}`); st != 404 {
		t.Errorf("unknown path: %d", st)
	}
	if st := post("/cleanup", "u", "p", `{"domain":"*.example.com","token":"t","keyAuth":"t.k"}`); st != 200 {
		t.Errorf("raw cleanup: %d", st)
	}
	reqs := h.Requests()
	if len(reqs) != 2 || !reqs[1].Raw || reqs[1].FQDN != "_acme-challenge.example.com." || reqs[1].Value == "" {
		t.Errorf("requests = %+v", reqs)
	}
	if h.Rejected() != 2 {
		t.Errorf("rejected = %d", h.Rejected())
	}
	if got := sink.TXT("_acme-challenge.example.com."); !slices.Equal(got, []string{"v"}) {
		t.Errorf("sink = %v", got)
	}
}

func TestExecHelpers(t *testing.T) {
	t.Run("script logs arguments with spaces and quotes intact", func(t *testing.T) {
		s := NewExecScript(t, 0)
		for _, args := range [][]string{{"present", "a b", `it's`}, {"cleanup", "--", "x"}} {
			if err := runScript(s.Path, args...); err != nil {
				t.Fatalf("running script: %v", err)
			}
		}
		want := [][]string{{"present", "a b", `it's`}, {"cleanup", "--", "x"}}
		if got := s.Calls(t); !slices.EqualFunc(got, want, slices.Equal) {
			t.Errorf("calls = %q, want %q", got, want)
		}
	})

	t.Run("parse both lego argument shapes", func(t *testing.T) {
		if a, f, v, ok := parseExecArgs([]string{"present", "_acme-challenge.x.", "val"}); !ok || a != "present" || f != "_acme-challenge.x." || v != "val" {
			t.Errorf("default mode parsed as %q %q %q %v", a, f, v, ok)
		}
		if a, f, v, ok := parseExecArgs([]string{"cleanup", "--", "*.example.com", "t", "t.k"}); !ok || a != "cleanup" ||
			f != "_acme-challenge.example.com." || v == "" {
			t.Errorf("raw mode parsed as %q %q %q %v", a, f, v, ok)
		}
		if _, _, _, ok := parseExecArgs([]string{"remove", "a", "b"}); ok {
			t.Errorf("unknown action accepted")
		}
	})
}

func TestReplaceSink(t *testing.T) {
	mem := NewMemorySink()
	r := NewReplaceSink(mem)
	r.AddTXT("_acme-challenge.example.com", "a")
	r.AddTXT("_acme-challenge.example.com.", "b") // a is still in use
	if got := mem.TXT("_acme-challenge.example.com."); !slices.Equal(got, []string{"b"}) {
		t.Errorf("values = %v, want [b]", got)
	}
	r.DeleteTXT("_acme-challenge.example.com.", "a") // the name's value goes
	if got := mem.TXT("_acme-challenge.example.com."); len(got) != 0 {
		t.Errorf("values after cleanup = %v", got)
	}
	r.AddTXT("_acme-challenge.example.com.", "c") // nothing in use: no clobber
	if got := r.Clobbers(); len(got) != 1 || !strings.Contains(got[0], "a replaced by b") {
		t.Errorf("clobbers = %v", got)
	}
}
