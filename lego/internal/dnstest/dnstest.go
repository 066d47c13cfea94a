// Package dnstest is a loopback DNS server for the bridge's tests.
package dnstest

import (
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// Server is a loopback DNS server for example.test: SOA and NS
// (localhost.) at the apex, and the TXT values in txt.
type Server struct {
	// Addr is host:port (UDP); Port is the port alone.
	Addr string
	Port string
	mu   sync.Mutex
	txt  map[string][]string
}

// Start starts a server for the test.
func Start(t *testing.T) *Server {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &Server{Addr: pc.LocalAddr().String(), txt: map[string][]string{}}
	_, f.Port, _ = net.SplitHostPort(f.Addr)
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(f.serve)}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return f
}

// Set sets the TXT values of name.
func (f *Server) Set(name string, vals ...string) {
	f.mu.Lock()
	f.txt[strings.ToLower(name)] = vals
	f.mu.Unlock()
}

func (f *Server) serve(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	q := r.Question[0]
	name := strings.ToLower(q.Name)
	hdr := func(t uint16) dns.RR_Header {
		return dns.RR_Header{Name: q.Name, Rrtype: t, Class: dns.ClassINET, Ttl: 60}
	}
	soa := &dns.SOA{Hdr: dns.RR_Header{Name: "example.test.", Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 60},
		Ns: "localhost.", Mbox: "hostmaster.example.test.", Serial: 1, Refresh: 60, Retry: 60, Expire: 60, Minttl: 60}
	switch {
	case !strings.HasSuffix(name, "example.test."):
		m.Rcode = dns.RcodeRefused
	case q.Qtype == dns.TypeSOA && name == "example.test.":
		m.Answer = append(m.Answer, soa)
	case q.Qtype == dns.TypeNS && name == "example.test.":
		m.Answer = append(m.Answer, &dns.NS{Hdr: hdr(dns.TypeNS), Ns: "localhost."})
	case q.Qtype == dns.TypeTXT:
		f.mu.Lock()
		for _, v := range f.txt[name] {
			m.Answer = append(m.Answer, &dns.TXT{Hdr: hdr(dns.TypeTXT), Txt: []string{v}})
		}
		f.mu.Unlock()
		m.Ns = append(m.Ns, soa)
	default:
		m.Ns = append(m.Ns, soa)
	}
	w.WriteMsg(m)
}
