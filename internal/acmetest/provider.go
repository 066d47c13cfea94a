package acmetest

import (
	"context"
	"fmt"

	"github.com/libdns/libdns"
)

// MemoryProvider is a libdns provider that writes TXT records straight into a
// DNS server's records, for tests that need a working DNS-01 provider but do
// not care which. Only TXT records are supported; TTLs are ignored. Get one
// with DNS.Provider or CA.DNSProvider. It is safe for concurrent use.
type MemoryProvider struct {
	dns *DNS
}

// Provider returns a libdns provider writing into d's TXT records.
func (d *DNS) Provider() *MemoryProvider { return &MemoryProvider{dns: d} }

// AppendRecords adds the TXT records recs to zone (record names relative to
// zone) and returns them as libdns.TXT values. Adding a value that already
// exists is a no-op. It fails, adding nothing, if ctx is done or a record is
// not TXT.
func (p *MemoryProvider) AppendRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("appending records: %w", err)
	}
	out := make([]libdns.Record, 0, len(recs))
	for _, rec := range recs {
		rr := rec.RR()
		if rr.Type != "TXT" {
			return nil, fmt.Errorf("appending %s record %q: only TXT records are supported", rr.Type, rr.Name)
		}
		out = append(out, libdns.TXT{Name: rr.Name, TTL: rr.TTL, Text: rr.Data})
	}
	p.dns.mu.Lock()
	defer p.dns.mu.Unlock()
	for _, rec := range out {
		rr := rec.RR()
		p.dns.addTXTLocked(canonicalName(libdns.AbsoluteName(rr.Name, zone)), rr.Data)
	}
	return out, nil
}

// DeleteRecords deletes recs from zone following libdns semantics: an empty
// type or value matches any; non-TXT types match nothing. It returns the TXT
// records actually deleted. It fails, deleting nothing, if ctx is done.
func (p *MemoryProvider) DeleteRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("deleting records: %w", err)
	}
	p.dns.mu.Lock()
	defer p.dns.mu.Unlock()
	var deleted []libdns.Record
	for _, rec := range recs {
		rr := rec.RR()
		if rr.Type != "" && rr.Type != "TXT" {
			continue
		}
		name := canonicalName(libdns.AbsoluteName(rr.Name, zone))
		if rr.Data == "" {
			for _, v := range p.dns.deleteTXTSetLocked(name) {
				deleted = append(deleted, libdns.TXT{Name: rr.Name, TTL: rr.TTL, Text: v})
			}
			continue
		}
		if p.dns.deleteTXTLocked(name, rr.Data) {
			deleted = append(deleted, libdns.TXT{Name: rr.Name, TTL: rr.TTL, Text: rr.Data})
		}
	}
	return deleted, nil
}

// Interface guards
var (
	_ libdns.RecordAppender = (*MemoryProvider)(nil)
	_ libdns.RecordDeleter  = (*MemoryProvider)(nil)
)
