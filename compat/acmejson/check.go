package acmejson

import (
	"fmt"
	"net/url"
	"time"
)

// Problem is something wrong with one part of a [File].
type Problem struct {
	// Resolver is the resolver the problem belongs to.
	Resolver string
	// Index is the position of the certificate entry in the resolver's
	// Certificates, or -1 for a problem with the account.
	Index int
	// Names are the requested names of the entry, if any.
	Names []string
	// Reason says what is wrong, in lowercase words; it never contains key
	// material.
	Reason string
}

// String formats p as "resolver[index] names: reason".
func (p Problem) String() string {
	if p.Index < 0 {
		return fmt.Sprintf("%s account: %s", p.Resolver, p.Reason)
	}
	return fmt.Sprintf("%s[%d] %v: %s", p.Resolver, p.Index, p.Names, p.Reason)
}

// EmptyEntries returns the certificate entries Traefik would drop on load:
// null entries and entries with an empty certificate or key. It is cheap
// (nothing is decoded). Resolvers are visited in sorted order.
func (f File) EmptyEntries() []Problem {
	var out []Problem
	for _, name := range f.ResolverNames() {
		r := f[name]
		if r == nil {
			continue
		}
		for i, c := range r.Certificates {
			switch {
			case c == nil:
				out = append(out, Problem{Resolver: name, Index: i, Reason: "certificate entry is null"})
			case len(c.Certificate) == 0:
				out = append(out, Problem{Resolver: name, Index: i, Names: c.Names(), Reason: "certificate entry has an empty certificate"})
			case len(c.Key) == 0:
				out = append(out, Problem{Resolver: name, Index: i, Names: c.Names(), Reason: "certificate entry has an empty key"})
			}
		}
	}
	return out
}

// Problems decodes every account key and certificate entry of f and returns
// what is wrong: undecodable or non-RSA account keys, registration URIs that
// do not parse, empty or undecodable certificates and keys, mismatched
// pairs, requested names the leaf does not cover, and leaves expired at now.
// Resolvers are visited in sorted order.
func (f File) Problems(now time.Time) []Problem {
	var out []Problem
	for _, name := range f.ResolverNames() {
		r := f[name]
		if r == nil {
			continue
		}
		if a := r.Account; a != nil {
			if _, err := a.Key(); err != nil {
				out = append(out, Problem{Resolver: name, Index: -1, Reason: err.Error()})
			}
			if a.Registration != nil && a.Registration.URI != "" {
				if _, err := url.Parse(a.Registration.URI); err != nil {
					out = append(out, Problem{Resolver: name, Index: -1, Reason: "registration uri does not parse"})
				}
			}
		}
		for i, c := range r.Certificates {
			p, err := c.Parse()
			if err != nil {
				out = append(out, Problem{Resolver: name, Index: i, Names: c.Names(), Reason: err.Error()})
				continue
			}
			for _, n := range NormalizeNames(c.Names()) {
				if !p.Leaf.Covers(n) {
					out = append(out, Problem{Resolver: name, Index: i, Names: c.Names(), Reason: fmt.Sprintf("requested name %q is not in the certificate", n)})
				}
			}
			if p.Leaf.Expired(now) {
				out = append(out, Problem{Resolver: name, Index: i, Names: c.Names(), Reason: "certificate expired at " + p.Leaf.NotAfter.UTC().Format(time.RFC3339)})
			}
		}
	}
	return out
}
