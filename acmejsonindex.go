package traefikacme

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
)

// servedCert is a parsed, ready-to-serve certificate entry. It is
// immutable once built and may be shared by successive indexes.
type servedCert struct {
	tls      tls.Certificate // chain, key and Leaf
	names    []string        // from the leaf: CN, DNS SANs, IP SANs, lower-cased
	notAfter time.Time
	key      [32]byte // entryHash of the certificate and key bytes it was parsed from
}

// indexEntry is a servedCert at its place in the file.
type indexEntry struct {
	cert     *servedCert
	resolver string
	position int // index in the resolver's Certificates
}

// preferred reports whether a should be served rather than b for a name
// both cover: the later NotAfter, then the resolver name that sorts first,
// then the earlier position in the file.
func (a *indexEntry) preferred(b *indexEntry) bool {
	if !a.cert.notAfter.Equal(b.cert.notAfter) {
		return a.cert.notAfter.After(b.cert.notAfter)
	}
	if a.resolver != b.resolver {
		return a.resolver < b.resolver
	}
	return a.position < b.position
}

// certIndex is an immutable lookup table built from one version of the
// file. Lookups are two map accesses at most.
type certIndex struct {
	exact    map[string]*indexEntry // names without wildcard
	wildcard map[string]*indexEntry // "*.example.com" stored as "example.com"
	byHash   map[[32]byte]*servedCert
	entries  int // indexed certificate entries
}

func newCertIndex(capacity int) *certIndex {
	return &certIndex{
		exact:    make(map[string]*indexEntry, capacity),
		wildcard: make(map[string]*indexEntry),
		byHash:   make(map[[32]byte]*servedCert, capacity),
	}
}

// lookup returns the entry for a normalized server name, or nil: an exact
// match first, then the name with its first label replaced by "*".
func (ix *certIndex) lookup(name string) *indexEntry {
	if name == "" {
		return nil
	}
	if e := ix.exact[name]; e != nil {
		return e
	}
	if i := strings.IndexByte(name, '.'); i > 0 && i < len(name)-1 {
		return ix.wildcard[name[i+1:]]
	}
	return nil
}

// add indexes e under every name of its leaf, keeping the preferred entry
// for names already present. Names with a "*" anywhere but as the whole
// first label ("*.*", "a*.example.com", "*.*.example.com") are not indexed:
// they can never match under Traefik's rule either.
func (ix *certIndex) add(e *indexEntry) {
	for _, name := range e.cert.names {
		table, key := ix.exact, name
		if rest, ok := strings.CutPrefix(name, "*."); ok {
			table, key = ix.wildcard, rest
		}
		if key == "" || strings.Contains(key, "*") {
			continue
		}
		if cur := table[key]; cur == nil || e.preferred(cur) {
			table[key] = e
		}
	}
	ix.byHash[e.cert.key] = e.cert
	ix.entries++
}

// skippedEntry is a certificate entry that could not be indexed.
type skippedEntry struct {
	resolver string
	position int
	domain   []string // requested names, as stored
	err      error
}

// buildReport says what buildCertIndex found besides the index.
type buildReport struct {
	format   acmejson.Format
	skipped  []skippedEntry
	missing  []string // requested resolvers absent from the file
	reused   int      // entries taken from the previous index unparsed
	expired  int      // indexed entries whose leaf has expired
	resolved []string // resolvers whose entries were considered
}

// buildCertIndex parses the content of an acme.json file into an index of
// the certificates of resolvers (all when nil). Entries whose certificate
// and key bytes are unchanged since prev are reused from prev without
// parsing them again. It fails only when the file as a whole does not
// parse; broken entries are skipped and reported.
func buildCertIndex(data []byte, resolvers []string, prev *certIndex, now time.Time) (*certIndex, buildReport, error) {
	var rep buildReport
	f, format, err := acmejson.Parse(data, "")
	if err != nil {
		return nil, rep, fmt.Errorf("parsing acme.json: %w", err)
	}
	rep.format = format
	names := resolvers
	if names == nil {
		names = f.ResolverNames()
	} else {
		for _, r := range names {
			if _, ok := f[r]; !ok {
				rep.missing = append(rep.missing, r)
			}
		}
	}
	total := 0
	for _, r := range names {
		if res := f[r]; res != nil {
			total += len(res.Certificates)
		}
	}
	ix := newCertIndex(total)
	for _, r := range names {
		res := f[r]
		if res == nil {
			continue
		}
		rep.resolved = append(rep.resolved, r)
		for i, c := range res.Certificates {
			sc, reused, err := servedCertFor(c, prev)
			if err != nil {
				rep.skipped = append(rep.skipped, skippedEntry{resolver: r, position: i, domain: c.Names(), err: err})
				continue
			}
			if reused {
				rep.reused++
			}
			if now.After(sc.notAfter) {
				rep.expired++
			}
			ix.add(&indexEntry{cert: sc, resolver: r, position: i})
		}
	}
	return ix, rep, nil
}

// servedCertFor returns the parsed form of c, from prev when it holds the
// same certificate and key bytes.
func servedCertFor(c *acmejson.Certificate, prev *certIndex) (*servedCert, bool, error) {
	if c == nil {
		return nil, false, errors.New("certificate entry is null")
	}
	key := entryHash(c)
	if prev != nil {
		if sc := prev.byHash[key]; sc != nil {
			return sc, true, nil
		}
	}
	// The key is decoded at its first handshake: a file of 5,000
	// RSA-4096 entries loads without 5,000 RSA precomputations (~7 s of
	// CPU), and a reload pays only for entries that changed.
	p, err := c.ParseLazy()
	if err != nil {
		return nil, false, err
	}
	chain := make([][]byte, len(p.Chain))
	for i, crt := range p.Chain {
		chain[i] = crt.Raw
	}
	names := make([]string, len(p.Leaf.Names))
	for i, n := range p.Leaf.Names {
		names[i] = strings.ToLower(n)
	}
	return &servedCert{
		tls:      tls.Certificate{Certificate: chain, PrivateKey: p.Key, Leaf: p.Chain[0]},
		names:    names,
		notAfter: p.Leaf.NotAfter,
		key:      key,
	}, false, nil
}

// entryHash identifies an entry's certificate and key bytes.
func entryHash(c *acmejson.Certificate) [32]byte {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(c.Certificate)))
	h.Write(n[:])
	h.Write(c.Certificate)
	h.Write(c.Key)
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}
