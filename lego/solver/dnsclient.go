package solver

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// dnsClient is the part of lego's dns01 client the propagation check
// needs, bound to one resolver list (lego's own is process-wide).
type dnsClient struct {
	resolvers []string
	udp, tcp  *dns.Client
	// authPort is the port of authoritative name servers (53; tests).
	authPort string
}

const dnsTimeout = 10 * time.Second

func newDNSClient(resolvers []string) (*dnsClient, error) {
	var rs []string
	for _, r := range resolvers {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(r); err != nil {
			r = net.JoinHostPort(r, "53")
		}
		rs = append(rs, r)
	}
	if len(rs) == 0 {
		cfg, err := dns.ClientConfigFromFile("/etc/resolv.conf")
		if err == nil {
			for _, s := range cfg.Servers {
				rs = append(rs, net.JoinHostPort(s, cfg.Port))
			}
		}
	}
	if len(rs) == 0 {
		rs = []string{"1.1.1.1:53", "1.0.0.1:53"}
	}
	return &dnsClient{
		resolvers: rs,
		udp:       &dns.Client{Net: "udp", Timeout: dnsTimeout},
		tcp:       &dns.Client{Net: "tcp", Timeout: dnsTimeout},
		authPort:  "53",
	}, nil
}

func (c *dnsClient) exchange(ctx context.Context, ns, name string, qtype uint16, recursive bool) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.SetEdns0(4096, false)
	m.RecursionDesired = recursive
	r, _, err := c.udp.ExchangeContext(ctx, m, ns)
	if r != nil && r.Truncated {
		r, _, err = c.tcp.ExchangeContext(ctx, m, ns)
	}
	if err != nil {
		return nil, fmt.Errorf("querying %s for %s %s: %w", ns, name, dns.TypeToString[qtype], err)
	}
	return r, nil
}

// query asks the resolvers in order until one answers.
func (c *dnsClient) query(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	var last error
	for _, ns := range c.resolvers {
		r, err := c.exchange(ctx, ns, name, qtype, true)
		if err == nil {
			return r, nil
		}
		last = err
	}
	return nil, last
}

// followCNAME follows CNAMEs of fqdn (at most 50), like lego.
func (c *dnsClient) followCNAME(ctx context.Context, fqdn string) string {
	for range 50 {
		r, err := c.query(ctx, fqdn, dns.TypeCNAME)
		if err != nil || r.Rcode != dns.RcodeSuccess {
			return fqdn
		}
		next := ""
		for _, rr := range r.Answer {
			if cn, ok := rr.(*dns.CNAME); ok && strings.EqualFold(cn.Hdr.Name, fqdn) {
				next = cn.Target
			}
		}
		if next == "" || strings.EqualFold(next, fqdn) {
			return fqdn
		}
		fqdn = next
	}
	return fqdn
}

// zone finds the zone apex of fqdn: the closest name with an SOA in the
// answer, like lego's FindZoneByFqdn.
func (c *dnsClient) zone(ctx context.Context, fqdn string) (string, error) {
	labels := dns.Split(fqdn)
	for _, i := range labels {
		name := fqdn[i:]
		r, err := c.query(ctx, name, dns.TypeSOA)
		if err != nil {
			return "", err
		}
		if r.Rcode == dns.RcodeNameError || r.Rcode == dns.RcodeSuccess {
			for _, rr := range r.Answer {
				if soa, ok := rr.(*dns.SOA); ok {
					return soa.Hdr.Name, nil
				}
			}
		}
	}
	return "", fmt.Errorf("could not find the zone of %s", fqdn)
}

// authoritative returns the authoritative name servers of fqdn's zone, as
// host:port.
func (c *dnsClient) authoritative(ctx context.Context, fqdn string) ([]string, error) {
	zone, err := c.zone(ctx, fqdn)
	if err != nil {
		return nil, err
	}
	r, err := c.query(ctx, zone, dns.TypeNS)
	if err != nil {
		return nil, fmt.Errorf("NS call failed: %w", err)
	}
	var nss []string
	for _, rr := range r.Answer {
		if ns, ok := rr.(*dns.NS); ok {
			nss = append(nss, net.JoinHostPort(strings.TrimSuffix(strings.ToLower(ns.Ns), "."), c.authPort))
		}
	}
	if len(nss) == 0 {
		return nil, fmt.Errorf("[zone=%s] could not determine authoritative nameservers", zone)
	}
	return nss, nil
}

// hasTXT checks that ns returns value among the TXT records of fqdn.
func (c *dnsClient) hasTXT(ctx context.Context, ns, fqdn, value string, recursive bool) error {
	r, err := c.exchange(ctx, ns, fqdn, dns.TypeTXT, recursive)
	if err != nil {
		return err
	}
	if r.Rcode != dns.RcodeSuccess {
		return fmt.Errorf("NS %s returned %s for %s", ns, dns.RcodeToString[r.Rcode], fqdn)
	}
	var seen []string
	for _, rr := range r.Answer {
		if txt, ok := rr.(*dns.TXT); ok {
			v := strings.Join(txt.Txt, "")
			if v == value {
				return nil
			}
			seen = append(seen, v)
		}
	}
	return fmt.Errorf("NS %s did not return the expected TXT record [fqdn: %s, value: %s]: %s", ns, fqdn, value, strings.Join(seen, ", "))
}
