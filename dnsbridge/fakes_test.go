package dnsbridge

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/ac075510/caddy-traefik-acme/internal/dnsfakes"
)

// TestPowerDNSFake drives the native pdns provider (libdns/powerdns)
// against the PowerDNS API fake: records land in the zone and the sink,
// a second value joins the RRset, cleanup removes one value, and a wrong
// key is refused without being echoed.
func TestPowerDNSFake(t *testing.T) {
	const key = "pdns-api-key-do-not-log"
	sink := dnsfakes.NewMemorySink()
	fake := dnsfakes.NewPowerDNS(t, sink, key)
	fake.AddZone("example.test")
	prov, _, err := New("pdns", Options{Lookup: mapLookup(map[string]string{"PDNS_API_URL": fake.URL, "PDNS_API_KEY": key})})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, v := range []string{"value-a", "value-b"} {
		if _, err := prov.AppendRecords(ctx, "example.test.", txtRec("_acme-challenge", v)); err != nil {
			t.Fatalf("AppendRecords %s: %v", v, err)
		}
	}
	const name = "_acme-challenge.example.test."
	if got := fake.TXT(name); !slices.Equal(got, []string{"value-a", "value-b"}) {
		t.Errorf("zone TXT = %v", got)
	}
	if _, err := prov.DeleteRecords(ctx, "example.test.", txtRec("_acme-challenge", "value-a")); err != nil {
		t.Fatalf("DeleteRecords: %v", err)
	}
	if got := sink.TXT(name); !slices.Equal(got, []string{"value-b"}) {
		t.Errorf("sink TXT = %v", got)
	}

	bad, _, err := New("pdns", Options{Lookup: mapLookup(map[string]string{"PDNS_API_URL": fake.URL, "PDNS_API_KEY": "wrong-key-do-not-log"})})
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.AppendRecords(ctx, "example.test.", txtRec("_acme-challenge", "x"))
	if err == nil || strings.Contains(err.Error(), "wrong-key-do-not-log") {
		t.Errorf("wrong key: error = %v", err)
	}
	if reqs := fake.Requests(); !slices.ContainsFunc(reqs, func(r string) bool { return strings.HasSuffix(r, " 401") }) {
		t.Errorf("no request was refused: %v", reqs)
	}
}

// TestACMEDNSFake drives the native acme-dns provider (libdns/acmedns)
// with a lego storage file against the acme-dns API fake.
func TestACMEDNSFake(t *testing.T) {
	sink := dnsfakes.NewMemorySink()
	fake := dnsfakes.NewACMEDNS(t, sink)
	acct := fake.AddAccount("example.test")
	storage, err := json.Marshal(map[string]any{"example.test": map[string]any{
		"fulldomain": acct.FullDomain, "subdomain": acct.SubDomain, "username": acct.Username,
		"password": acct.Password, "server_url": fake.URL,
	}})
	if err != nil {
		t.Fatal(err)
	}
	path := writeFile(t, "acme-dns.json", string(storage))
	prov, _, err := New("acme-dns", Options{Lookup: mapLookup(map[string]string{"ACME_DNS_API_BASE": fake.URL, "ACME_DNS_STORAGE_PATH": path})})
	if err != nil {
		t.Fatal(err)
	}
	values := []string{strings.Repeat("a", 43), strings.Repeat("b", 43), strings.Repeat("c", 43)}
	for _, v := range values {
		if _, err := prov.AppendRecords(t.Context(), "example.test.", txtRec("_acme-challenge", v)); err != nil {
			t.Fatalf("AppendRecords: %v", err)
		}
	}
	// acme-dns keeps the two most recent values.
	if got := sink.TXT("_acme-challenge.example.test."); !slices.Equal(got, values[1:]) {
		t.Errorf("sink = %v, want %v", got, values[1:])
	}
	if got := fake.TXT(acct.SubDomain); !slices.Equal(got, values[1:]) {
		t.Errorf("acme-dns = %v", got)
	}
	// A value that is not a DNS-01 digest is refused, as by acme-dns.
	if _, err := prov.AppendRecords(t.Context(), "example.test.", txtRec("_acme-challenge", "short")); err == nil {
		t.Errorf("a malformed TXT value was accepted")
	}
	if reqs := fake.Requests(); !slices.Contains(reqs, "POST /update 400") {
		t.Errorf("requests = %v", reqs)
	}
}
