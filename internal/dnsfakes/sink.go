// Package dnsfakes provides faithful loopback fakes of DNS provider APIs
// (Cloudflare v4, Route 53 REST-XML, acme-dns, PowerDNS, lego's httpreq
// protocol) and helpers for lego's exec protocol, for tests only.
//
// Every fake reports the TXT records it creates and deletes to a Sink, so
// an end-to-end test can pass its own DNS server (the one the test CA
// queries) and have the records really validated. MemorySink is a simple
// Sink for unit tests.
//
// All servers listen on 127.0.0.1 and are closed by t.Cleanup.
package dnsfakes

import (
	"slices"
	"strings"
	"sync"
)

// Sink receives the TXT records a fake provider API creates and deletes.
//
// fqdn is absolute, lower-case and ends with a dot
// ("_acme-challenge.example.com."); value is the TXT data without quotes.
// Calls happen synchronously while the fake handles the API request, so a
// record is in the sink before the provider's call returns. Implementations
// MUST be safe for concurrent use.
type Sink interface {
	AddTXT(fqdn, value string)
	DeleteTXT(fqdn, value string)
}

// MemorySink is an in-memory Sink. The zero value is not usable; call
// NewMemorySink.
type MemorySink struct {
	mu   sync.Mutex
	recs map[string][]string
	log  []string
}

// NewMemorySink returns an empty MemorySink.
func NewMemorySink() *MemorySink {
	return &MemorySink{recs: map[string][]string{}}
}

// AddTXT implements Sink.
func (m *MemorySink) AddTXT(fqdn, value string) {
	fqdn = CanonicalName(fqdn)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.recs[fqdn] = append(m.recs[fqdn], value)
	m.log = append(m.log, "add "+fqdn+" "+value)
}

// DeleteTXT implements Sink. Deleting a value that is not present is
// recorded but changes nothing.
func (m *MemorySink) DeleteTXT(fqdn, value string) {
	fqdn = CanonicalName(fqdn)
	m.mu.Lock()
	defer m.mu.Unlock()
	vals := m.recs[fqdn]
	if i := slices.Index(vals, value); i >= 0 {
		vals = slices.Delete(vals, i, i+1)
	}
	if len(vals) == 0 {
		delete(m.recs, fqdn)
	} else {
		m.recs[fqdn] = vals
	}
	m.log = append(m.log, "delete "+fqdn+" "+value)
}

// TXT returns the current values at fqdn.
func (m *MemorySink) TXT(fqdn string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.recs[CanonicalName(fqdn)])
}

// Log returns every call so far as "add <fqdn> <value>" or
// "delete <fqdn> <value>".
func (m *MemorySink) Log() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.log)
}

// CanonicalName lower-cases name and makes it absolute (trailing dot).
func CanonicalName(name string) string {
	name = strings.ToLower(strings.TrimSpace(name))
	if !strings.HasSuffix(name, ".") {
		name += "."
	}
	return name
}

// ReplaceSink gives a Sink the semantics of most DNS APIs' update calls
// and of the scripts built on them: ONE TXT value per name. AddTXT replaces
// whatever value the name has; DeleteTXT removes the name's value, whatever
// it is. A present that replaces a value not cleaned up yet is a clobber:
// with two challenges for one name in flight (a wildcard and its apex),
// one of them would be lost. Clobbers reports them.
type ReplaceSink struct {
	next Sink

	mu       sync.Mutex
	cur      map[string]string
	clobbers []string
}

// NewReplaceSink returns a ReplaceSink that forwards to next.
func NewReplaceSink(next Sink) *ReplaceSink {
	return &ReplaceSink{next: next, cur: map[string]string{}}
}

// AddTXT implements Sink.
func (r *ReplaceSink) AddTXT(fqdn, value string) {
	fqdn = CanonicalName(fqdn)
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.cur[fqdn]; ok && old != value {
		r.next.DeleteTXT(fqdn, old)
		r.clobbers = append(r.clobbers, fqdn+" "+old+" replaced by "+value)
	}
	r.cur[fqdn] = value
	r.next.AddTXT(fqdn, value)
}

// DeleteTXT implements Sink: the name's value goes, whatever value is
// named.
func (r *ReplaceSink) DeleteTXT(fqdn, _ string) {
	fqdn = CanonicalName(fqdn)
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.cur[fqdn]; ok {
		r.next.DeleteTXT(fqdn, old)
		delete(r.cur, fqdn)
	}
}

// Clobbers returns every present that replaced a value still in use.
func (r *ReplaceSink) Clobbers() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.clobbers)
}
