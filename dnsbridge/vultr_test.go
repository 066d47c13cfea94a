package dnsbridge

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libdns/libdns"
)

// fakeVultr is Vultr's DNS API v2 for one domain (records list with cursor
// pagination, create, delete), on loopback.
type fakeVultr struct {
	mu      sync.Mutex
	domain  string
	key     string
	records map[string]vultrRecord
	next    int
}

func (f *fakeVultr) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+f.key {
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"error":"Invalid API token.","status":401}`))
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	base := "/v2/domains/" + f.domain + "/records"
	switch {
	case r.Method == http.MethodGet && r.URL.Path == base:
		// One record per page, to exercise the cursor.
		var ids []int
		for id := range f.records {
			n, _ := strconv.Atoi(id)
			ids = append(ids, n)
		}
		start, _ := strconv.Atoi(r.URL.Query().Get("cursor"))
		var page struct {
			Records []vultrRecord `json:"records"`
			Meta    struct {
				Links struct {
					Next string `json:"next"`
				} `json:"links"`
			} `json:"meta"`
		}
		for n := start; n <= f.next; n++ {
			if rec, ok := f.records[strconv.Itoa(n)]; ok {
				page.Records = append(page.Records, rec)
				page.Meta.Links.Next = strconv.Itoa(n + 1)
				break
			}
		}
		if len(page.Records) == 0 {
			page.Meta.Links.Next = ""
		}
		json.NewEncoder(w).Encode(page)
	case r.Method == http.MethodPost && r.URL.Path == base:
		var rec vultrRecord
		if err := json.NewDecoder(r.Body).Decode(&rec); err != nil || rec.Type == "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		f.next++
		rec.ID = strconv.Itoa(f.next)
		f.records[rec.ID] = rec
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]vultrRecord{"record": rec})
	case r.Method == http.MethodDelete && strings.HasPrefix(r.URL.Path, base+"/"):
		id := strings.TrimPrefix(r.URL.Path, base+"/")
		if _, ok := f.records[id]; !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		delete(f.records, id)
		w.WriteHeader(http.StatusNoContent)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func TestVultrNative(t *testing.T) {
	fake := &fakeVultr{domain: "example.test", key: "vultr-key-123", records: map[string]vultrRecord{}}
	fake.records["1"] = vultrRecord{ID: "1", Type: "A", Name: "www", Data: "192.0.2.1"}
	fake.next = 1
	srv := httptest.NewServer(fake)
	defer srv.Close()

	prov, _, err := New("vultr", Options{Overrides: map[string]string{"VULTR_API_KEY": fake.key}})
	if err != nil {
		t.Fatal(err)
	}
	vp := prov.(*vultrProvider)
	vp.base = srv.URL + "/v2"

	txt := libdns.TXT{Name: "_acme-challenge.www", Text: "value-1", TTL: 2 * time.Minute}
	other := libdns.TXT{Name: "_acme-challenge.www", Text: "value-2", TTL: 2 * time.Minute}
	if _, err := prov.AppendRecords(t.Context(), "example.test.", []libdns.Record{txt, other}); err != nil {
		t.Fatal(err)
	}
	if len(fake.records) != 3 {
		t.Fatalf("records after append: %v", fake.records)
	}
	if _, err := prov.DeleteRecords(t.Context(), "example.test.", []libdns.Record{txt}); err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, r := range fake.records {
		left = append(left, r.Type+" "+r.Name+" "+r.Data)
	}
	if len(fake.records) != 2 || fake.records["3"].Data != "value-2" || fake.records["1"].Type != "A" {
		t.Fatalf("after delete: %v; want the A record and value-2 only", left)
	}

	bad, _, _ := New("vultr", Options{Overrides: map[string]string{"VULTR_API_KEY": "wrong-secret-key"}})
	bad.(*vultrProvider).base = srv.URL + "/v2"
	_, err = bad.AppendRecords(t.Context(), "example.test.", []libdns.Record{txt})
	if err == nil || !strings.Contains(err.Error(), "HTTP 401") || strings.Contains(err.Error(), "wrong-secret-key") {
		t.Fatalf("error %v: want HTTP 401 without the key", err)
	}
}
