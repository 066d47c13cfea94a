package acmetest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// tsigKeyName is the TSIG key name every DNS server accepts.
const tsigKeyName = "acmetest-key."

// tsigAlgorithm is the TSIG algorithm advertised for the key. The server
// verifies whatever HMAC algorithm miekg/dns supports, but clients should use
// this one.
const tsigAlgorithm = "hmac-sha256"

// dnsTTL is the TTL of every answer; the server is authoritative and nothing
// caches it in tests.
const dnsTTL = 1

// DNS is an authoritative DNS server for every name, on one loopback port for
// both UDP and TCP. Create it with StartDNS (or get the CA's with CA.DNS).
//
// Queries (class IN) are answered authoritatively:
//   - A: 127.0.0.1 for every name.
//   - AAAA: no answer (NOERROR), so clients and Pebble use IPv4.
//   - TXT: the values set through SetTXT/AddTXT, RFC 2136 updates or Provider,
//     each value split into 255-byte character-strings.
//   - SOA and NS: answered only at a zone apex, which is the last two labels of
//     the name ("example.test." for "_acme-challenge.a.example.test."); a
//     one- or two-label name is its own apex.
//   - anything else, and every empty answer: NOERROR with the apex SOA in the
//     authority section. Names never NXDOMAIN.
//   - AXFR/IXFR: REFUSED.
//
// Dynamic updates (RFC 2136) must be signed with TSIG using TSIGKeyName and
// TSIGSecret: unsigned updates get REFUSED and a signature that does not
// verify gets NOTAUTH (both change nothing). The zone must be an apex (else
// NOTAUTH), every name must be inside it (else NOTZONE) and prerequisites are
// not supported (NOTIMP). The update section is checked first and applied
// atomically: class ANY type ANY deletes all records at the name, class ANY
// deletes the RRset, class NONE deletes one record, class IN adds a record
// (only TXT can be added: other types get NOTIMP). Replies to signed
// requests are signed with the same key, except NOTAUTH replies, which
// miekg/dns clients could not read otherwise.
//
// Names are compared case-insensitively with or without the trailing dot.
// TXT values are stored as given; values with a backslash, a double quote or
// non-printable bytes go through miekg/dns's presentation-format escaping and
// are not supported. TTLs are not stored. All methods are safe for concurrent
// use.
type DNS struct {
	addr   string
	secret string
	udp    *dns.Server
	tcp    *dns.Server

	mu     sync.RWMutex
	txt    map[string][]string // canonical fqdn → values in insertion order
	serial uint32

	logf      func(format string, args ...any) // slow shutdowns; nil: not logged
	closeOnce sync.Once
}

// StartDNS starts a DNS server for the test on 127.0.0.1 with a random port
// (the same port for UDP and TCP) and a fresh random TSIG secret, and stops it
// in t.Cleanup. It fails the test if the server cannot start.
func StartDNS(t TB) *DNS {
	t.Helper()
	d, err := NewDNS()
	if err != nil {
		t.Fatalf("%v", err)
	}
	d.logf = t.Logf
	t.Cleanup(d.Close)
	return d
}

// NewDNS starts a DNS server on 127.0.0.1 with a random port (the same port
// for UDP and TCP) and a fresh random TSIG secret. The caller stops it with
// Close.
func NewDNS() (*DNS, error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("acmetest: generating tsig secret: %w", err)
	}
	d := &DNS{
		secret: base64.StdEncoding.EncodeToString(secret),
		txt:    make(map[string][]string),
		serial: 1,
	}

	pc, ln, err := listenSamePort()
	if err != nil {
		return nil, err
	}
	d.addr = pc.LocalAddr().String()
	started := make(chan struct{}, 2)
	newServer := func() *dns.Server {
		return &dns.Server{
			Handler:           d,
			MsgAcceptFunc:     acceptQueriesAndUpdates,
			TsigSecret:        map[string]string{tsigKeyName: d.secret},
			NotifyStartedFunc: func() { started <- struct{}{} },
		}
	}
	d.udp, d.tcp = newServer(), newServer()
	d.udp.PacketConn = pc
	d.tcp.Listener = ln
	for _, srv := range []*dns.Server{d.udp, d.tcp} {
		go func() { _ = srv.ActivateAndServe() }()
	}
	timeout := time.NewTimer(stopTimeout)
	defer timeout.Stop()
	for range 2 {
		select {
		case <-started:
		case <-timeout.C:
			_ = pc.Close()
			_ = ln.Close()
			return nil, fmt.Errorf("acmetest: dns server on %s did not start within %v", d.addr, stopTimeout)
		}
	}
	return d, nil
}

// Close stops the DNS server, waiting at most a bounded time. It is
// idempotent.
func (d *DNS) Close() {
	d.closeOnce.Do(func() {
		for _, srv := range []*dns.Server{d.udp, d.tcp} {
			within(d.logf, "stopping dns server", func() {
				ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
				defer cancel()
				_ = srv.ShutdownContext(ctx)
			})
		}
	})
}

// listenSamePort binds UDP on a random loopback port, then TCP on the same
// port, retrying with another port if TCP's is taken.
func listenSamePort() (net.PacketConn, net.Listener, error) {
	var lastErr error
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return nil, nil, fmt.Errorf("acmetest: listening on udp: %w", err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln, nil
		}
		lastErr = err
		_ = pc.Close()
	}
	return nil, nil, fmt.Errorf("acmetest: no loopback port free for both udp and tcp: %w", lastErr)
}

// acceptQueriesAndUpdates is miekg/dns's default accept policy for queries,
// extended to accept UPDATE messages (which the default answers NOTIMP).
func acceptQueriesAndUpdates(dh dns.Header) dns.MsgAcceptAction {
	const qr = 1 << 15
	if dh.Bits&qr != 0 {
		return dns.MsgIgnore
	}
	if opcode := int(dh.Bits>>11) & 0xF; opcode == dns.OpcodeUpdate {
		return dns.MsgAccept
	}
	return dns.DefaultMsgAcceptFunc(dh)
}

// Addr returns the server address, "127.0.0.1:<port>", for UDP and TCP.
func (d *DNS) Addr() string { return d.addr }

// TSIGKeyName returns the fully qualified name of the TSIG key that signs
// updates ("acmetest-key.").
func (d *DNS) TSIGKeyName() string { return tsigKeyName }

// TSIGAlgorithm returns the TSIG algorithm clients should use,
// "hmac-sha256".
func (d *DNS) TSIGAlgorithm() string { return tsigAlgorithm }

// TSIGSecret returns the TSIG secret, standard base64 of 32 random bytes,
// fresh for each server.
func (d *DNS) TSIGSecret() string { return d.secret }

// SetTXT replaces all TXT values at fqdn with the single value.
func (d *DNS) SetTXT(fqdn, value string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.txt[canonicalName(fqdn)] = []string{value}
	d.serial++
}

// AddTXT adds value to the TXT values at fqdn, unless it is already there.
func (d *DNS) AddTXT(fqdn, value string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.addTXTLocked(canonicalName(fqdn), value)
}

// DeleteTXT removes value from the TXT values at fqdn; an empty value removes
// all of them.
func (d *DNS) DeleteTXT(fqdn, value string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	name := canonicalName(fqdn)
	if value == "" {
		d.deleteTXTSetLocked(name)
		return
	}
	d.deleteTXTLocked(name, value)
}

// TXT returns a copy of the TXT values at fqdn, in insertion order, or nil.
func (d *DNS) TXT(fqdn string) []string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return slices.Clone(d.txt[canonicalName(fqdn)])
}

func (d *DNS) addTXTLocked(name, value string) bool {
	if slices.Contains(d.txt[name], value) {
		return false
	}
	d.txt[name] = append(d.txt[name], value)
	d.serial++
	return true
}

func (d *DNS) deleteTXTLocked(name, value string) bool {
	vals := d.txt[name]
	i := slices.Index(vals, value)
	if i < 0 {
		return false
	}
	vals = slices.Delete(slices.Clone(vals), i, i+1)
	if len(vals) == 0 {
		delete(d.txt, name)
	} else {
		d.txt[name] = vals
	}
	d.serial++
	return true
}

func (d *DNS) deleteTXTSetLocked(name string) []string {
	vals, ok := d.txt[name]
	if !ok {
		return nil
	}
	delete(d.txt, name)
	d.serial++
	return vals
}

// ServeDNS implements dns.Handler.
func (d *DNS) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	tsig := r.IsTsig()
	if tsig != nil && w.TsigStatus() != nil {
		// RFC 8945 §5.2: unverifiable requests get an unsigned NOTAUTH.
		m.SetRcode(r, dns.RcodeNotAuth)
		_ = w.WriteMsg(m)
		return
	}
	switch r.Opcode {
	case dns.OpcodeQuery:
		d.answer(m, r)
	case dns.OpcodeUpdate:
		d.update(m, r)
	default:
		m.SetRcode(r, dns.RcodeNotImplemented)
	}
	// miekg/dns clients refuse to verify a signed NOTAUTH reply ("bad
	// authentication") instead of reporting the rcode, so NOTAUTH stays
	// unsigned.
	if tsig != nil && m.Rcode != dns.RcodeNotAuth {
		m.SetTsig(tsig.Hdr.Name, tsig.Algorithm, 300, time.Now().Unix())
	}
	_ = w.WriteMsg(m)
}

// answer fills m with the reply to the query r.
func (d *DNS) answer(m, r *dns.Msg) {
	m.SetReply(r)
	m.Authoritative = true
	m.RecursionAvailable = true
	if opt := r.IsEdns0(); opt != nil {
		m.SetEdns0(1232, false)
	}
	if len(r.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		return
	}
	q := r.Question[0]
	if q.Qclass != dns.ClassINET {
		m.Rcode = dns.RcodeRefused
		return
	}
	name := canonicalName(q.Name)
	apex := apexOf(name)
	hdr := func(t uint16) dns.RR_Header {
		return dns.RR_Header{Name: q.Name, Rrtype: t, Class: dns.ClassINET, Ttl: dnsTTL}
	}
	switch q.Qtype {
	case dns.TypeA:
		m.Answer = append(m.Answer, &dns.A{Hdr: hdr(dns.TypeA), A: net.IPv4(127, 0, 0, 1)})
	case dns.TypeTXT:
		for _, v := range d.TXT(name) {
			m.Answer = append(m.Answer, &dns.TXT{Hdr: hdr(dns.TypeTXT), Txt: splitTXT(v)})
		}
	case dns.TypeSOA:
		if name == apex {
			m.Answer = append(m.Answer, d.soa(apex))
		}
	case dns.TypeNS:
		if name == apex {
			m.Answer = append(m.Answer, &dns.NS{Hdr: hdr(dns.TypeNS), Ns: nsName(apex)})
		}
	case dns.TypeAXFR, dns.TypeIXFR:
		m.Rcode = dns.RcodeRefused
		return
	}
	if len(m.Answer) == 0 && apex != "" {
		m.Ns = append(m.Ns, d.soa(apex))
	}
}

// update applies the RFC 2136 UPDATE r and fills m with the reply.
func (d *DNS) update(m, r *dns.Msg) {
	m.SetReply(r)
	fail := func(rcode int) { m.Rcode = rcode }
	if r.IsTsig() == nil {
		fail(dns.RcodeRefused)
		return
	}
	if len(r.Question) != 1 || r.Question[0].Qtype != dns.TypeSOA || r.Question[0].Qclass != dns.ClassINET {
		fail(dns.RcodeFormatError)
		return
	}
	zone := canonicalName(r.Question[0].Name)
	if apexOf(zone) != zone {
		fail(dns.RcodeNotAuth)
		return
	}
	if len(r.Answer) > 0 {
		fail(dns.RcodeNotImplemented) // prerequisites
		return
	}

	// RFC 2136 §3.4.1: check the whole update section before changing anything.
	for _, rr := range r.Ns {
		h := rr.Header()
		if !dns.IsSubDomain(zone, canonicalName(h.Name)) {
			fail(dns.RcodeNotZone)
			return
		}
		switch h.Class {
		case dns.ClassINET:
			if _, ok := rr.(*dns.TXT); !ok || h.Rrtype != dns.TypeTXT {
				fail(dns.RcodeNotImplemented)
				return
			}
		case dns.ClassANY:
			if h.Ttl != 0 || h.Rdlength != 0 {
				fail(dns.RcodeFormatError)
				return
			}
		case dns.ClassNONE:
			if h.Ttl != 0 || h.Rrtype == dns.TypeANY {
				fail(dns.RcodeFormatError)
				return
			}
		default:
			fail(dns.RcodeFormatError)
			return
		}
	}

	// RFC 2136 §3.4.2: apply in order.
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, rr := range r.Ns {
		h := rr.Header()
		name := canonicalName(h.Name)
		switch h.Class {
		case dns.ClassINET:
			d.addTXTLocked(name, strings.Join(rr.(*dns.TXT).Txt, ""))
		case dns.ClassANY:
			if h.Rrtype == dns.TypeANY || h.Rrtype == dns.TypeTXT {
				d.deleteTXTSetLocked(name)
			}
		case dns.ClassNONE:
			if txt, ok := rr.(*dns.TXT); ok {
				d.deleteTXTLocked(name, strings.Join(txt.Txt, ""))
			}
		}
	}
}

// soa returns the SOA record of apex.
func (d *DNS) soa(apex string) *dns.SOA {
	d.mu.RLock()
	serial := d.serial
	d.mu.RUnlock()
	return &dns.SOA{
		Hdr:     dns.RR_Header{Name: apex, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: dnsTTL},
		Ns:      nsName(apex),
		Mbox:    "hostmaster." + apex,
		Serial:  serial,
		Refresh: 3600,
		Retry:   600,
		Expire:  86400,
		Minttl:  dnsTTL,
	}
}

// nsName returns the name server name of apex.
func nsName(apex string) string { return "ns." + apex }

// canonicalName lower-cases name and makes it fully qualified.
func canonicalName(name string) string {
	return strings.ToLower(dns.Fqdn(strings.TrimSpace(name)))
}

// apexOf returns the zone apex of the canonical name: its last two labels,
// or the name itself if it has one or two labels; "" for the root.
func apexOf(name string) string {
	labels := dns.SplitDomainName(name)
	switch {
	case len(labels) == 0:
		return ""
	case len(labels) <= 2:
		return name
	}
	return strings.Join(labels[len(labels)-2:], ".") + "."
}

// splitTXT splits v into character-strings of at most 255 bytes.
func splitTXT(v string) []string {
	if v == "" {
		return []string{""}
	}
	var parts []string
	for len(v) > 255 {
		parts = append(parts, v[:255])
		v = v[255:]
	}
	return append(parts, v)
}

// String describes the server for test logs, without the secret.
func (d *DNS) String() string {
	return fmt.Sprintf("acmetest dns server %s (tsig key %s, secret (redacted))", d.addr, tsigKeyName)
}
