package acmejson

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
)

// DefaultStore is the TLS store name Traefik records for every certificate it
// obtains.
const DefaultStore = "default"

// File is the content of a Traefik v2/v3 acme.json file: one [Resolver] per
// certificate resolver, keyed by the resolver's name. A nil *Resolver value
// is legal (it is written as null) and is preserved on round trip.
//
// A File loaded by [Load] or [Parse] is never nil.
type File map[string]*Resolver

// Resolver is what Traefik stores for one certificate resolver (Traefik's
// StoredData). Account and Certificates may each be nil: Traefik creates
// entries lazily and writes the account before any certificate exists, and
// both are then written as JSON null. A nil Certificates slice is written as
// null and an empty non-nil one as [], so a loaded file keeps its spelling.
type Resolver struct {
	// Account is the resolver's ACME account, or nil.
	Account *Account `json:"Account"`

	// Certificates holds the resolver's certificates, in file order.
	Certificates []*Certificate `json:"Certificates"`
}

// Account is a Traefik ACME account.
type Account struct {
	// Email is the account's contact address as configured in Traefik.
	Email string `json:"Email"`

	// Registration is the ACME account resource, or nil when the account was
	// never registered.
	Registration *Registration `json:"Registration"`

	// PrivateKey is the account key in DER PKCS#1 form (RSA only). Traefik
	// cannot read any other key type; see [DecodeAccountKey] and
	// [EncodeAccountKey]. It is secret.
	PrivateKey []byte `json:"PrivateKey"`

	// KeyType is the informational lego key type older Traefik builds
	// recorded ("4096", "P256", …). Newer builds neither read nor write it.
	// It is omitted when empty.
	KeyType string `json:"KeyType,omitempty"`
}

// Registration is the ACME account resource Traefik stores: the RFC 8555
// account object as the CA returned it, and the account URL.
type Registration struct {
	// Body is the account object (status, contact, orders, …), kept raw so
	// that fields this package does not know survive a round trip. An empty
	// Body is written as {}.
	Body json.RawMessage `json:"body"`

	// URI is the account URL (the "kid" used to sign ACME requests). Traefik
	// discards the account when this URL's host differs from the resolver's
	// caServer host.
	URI string `json:"uri,omitempty"`
}

// MarshalJSON encodes r as Traefik does, writing an empty Body as {}.
func (r Registration) MarshalJSON() ([]byte, error) {
	type plain Registration
	p := plain(r)
	if len(bytes.TrimSpace(p.Body)) == 0 {
		p.Body = json.RawMessage("{}")
	}
	return json.Marshal(p)
}

// Certificate is one certificate entry of a resolver (Traefik's CertAndStore).
type Certificate struct {
	// Domain holds the names that were requested for the certificate.
	Domain Domain `json:"domain,omitempty"`

	// Certificate is the PEM bundle: the leaf first, then the issuer chain.
	Certificate []byte `json:"certificate,omitempty"`

	// Key is the PEM private key: PKCS#1 ("RSA PRIVATE KEY"), SEC1
	// ("EC PRIVATE KEY") or PKCS#8 ("PRIVATE KEY"). It is secret.
	Key []byte `json:"key,omitempty"`

	// Store is the Traefik TLS store name; always [DefaultStore] in practice.
	// Traefik always writes it, even when empty.
	Store string `json:"Store"`
}

// Domain is the set of names requested for a certificate: Main is the first
// requested name and SANs the others. Wildcards appear literally
// ("*.example.com").
type Domain struct {
	// Main is the first requested name.
	Main string `json:"main,omitempty"`

	// SANs are the other requested names; omitted when empty.
	SANs []string `json:"sans,omitempty"`
}

// Names returns the requested names of c: Domain.Main followed by
// Domain.SANs, as stored (not normalized). It returns nil for a nil c.
func (c *Certificate) Names() []string {
	if c == nil {
		return nil
	}
	var names []string
	if c.Domain.Main != "" {
		names = append(names, c.Domain.Main)
	}
	for _, san := range c.Domain.SANs {
		if san != "" {
			names = append(names, san)
		}
	}
	return names
}

// NormalizeNames returns names lower-cased, trimmed of spaces and of a
// trailing dot, with empty names and duplicates removed, in their original
// order. This is how Traefik sanitizes requested domains.
func NormalizeNames(names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		n = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(n)), ".")
		if n == "" || slices.Contains(out, n) {
			continue
		}
		out = append(out, n)
	}
	return out
}

// Ensure returns the resolver called name, creating an empty one (or
// replacing a nil entry) first if needed.
func (f File) Ensure(name string) *Resolver {
	r := f[name]
	if r == nil {
		r = &Resolver{}
		f[name] = r
	}
	return r
}

// ResolverNames returns the names of the resolvers in f, sorted as Traefik
// writes them.
func (f File) ResolverNames() []string {
	names := make([]string, 0, len(f))
	for n := range f {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Upsert stores a certificate for names in r. The entry gets Domain.Main =
// the first name and Domain.SANs = the others (after [NormalizeNames]) and
// Store [DefaultStore]. It replaces, in place, the first entry whose
// requested names form the same set (compared after normalization), and
// appends the entry otherwise. It reports whether an entry was replaced.
// certPEM and keyPEM are stored as given; Upsert does not copy them.
func (r *Resolver) Upsert(names []string, certPEM, keyPEM []byte) (replaced bool) {
	norm := NormalizeNames(names)
	entry := &Certificate{Certificate: certPEM, Key: keyPEM, Store: DefaultStore}
	if len(norm) > 0 {
		entry.Domain.Main = norm[0]
	}
	if len(norm) > 1 {
		entry.Domain.SANs = slices.Clone(norm[1:])
	}
	want := sortedSet(norm)
	for i, c := range r.Certificates {
		if c == nil {
			continue
		}
		if slices.Equal(sortedSet(NormalizeNames(c.Names())), want) {
			r.Certificates[i] = entry
			return true
		}
	}
	r.Certificates = append(r.Certificates, entry)
	return false
}

// Find returns the index of the first certificate entry of r whose requested
// names (normalized) include name, or -1.
func (r *Resolver) Find(name string) int {
	n := NormalizeNames([]string{name})
	if r == nil || len(n) == 0 {
		return -1
	}
	for i, c := range r.Certificates {
		if slices.Contains(NormalizeNames(c.Names()), n[0]) {
			return i
		}
	}
	return -1
}

func sortedSet(names []string) []string {
	s := slices.Clone(names)
	slices.Sort(s)
	return slices.Compact(s)
}
