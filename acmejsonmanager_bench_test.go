package traefikacme

import (
	"context"
	"crypto/tls"
	"fmt"
	"sync"
	"testing"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
)

// benchFile is a generated acme.json with n certificates, and SNIs that hit
// them (exact and wildcard) or miss.
type benchFile struct {
	data []byte
	ca   *testCA
	hits []string
	miss []string
}

var (
	benchFilesMu sync.Mutex
	benchFiles   = map[string]*benchFile{}
)

// genBenchFile returns (and caches for the process) a file of n
// certificates over four resolvers. Every tenth certificate is a wildcard;
// the others carry two names. Leaves share four ECDSA P-256 keys, so that
// generation is a signature per leaf.
func genBenchFile(b *testing.B, n int) *benchFile { return genBenchFileKeys(b, n, "EC256") }

// genBenchFileKeys is genBenchFile with leaf keys of keyType, "EC256" or
// "RSA4096" (Traefik's default).
func genBenchFileKeys(b *testing.B, n int, keyType string) *benchFile {
	b.Helper()
	benchFilesMu.Lock()
	defer benchFilesMu.Unlock()
	cacheKey := fmt.Sprintf("%d/%s", n, keyType)
	if bf := benchFiles[cacheKey]; bf != nil {
		return bf
	}
	ca := newTestCA(b, 4)
	if keyType == "RSA4096" {
		ca.useRSALeafKeys(b, 4, 4096)
	}
	f := acmejson.File{}
	bf := &benchFile{ca: ca}
	for i := range n {
		var names []string
		if i%10 == 0 {
			names = []string{fmt.Sprintf("*.w%d.bench.test", i), fmt.Sprintf("w%d.bench.test", i)}
			bf.hits = append(bf.hits, fmt.Sprintf("x%d.w%d.bench.test", i, i))
		} else {
			names = []string{fmt.Sprintf("host%d.bench.test", i), fmt.Sprintf("www.host%d.bench.test", i)}
			bf.hits = append(bf.hits, names[0])
		}
		bf.miss = append(bf.miss, fmt.Sprintf("absent%d.bench.test", i))
		r := f.Ensure(fmt.Sprintf("resolver%d", i%4))
		r.Certificates = append(r.Certificates, ca.issue(b, leafSpec{names: names, key: i % 4}))
	}
	bf.data = marshalFile(b, f)
	benchFiles[cacheKey] = bf
	return bf
}

func benchIndex(b *testing.B, bf *benchFile) *certIndex {
	b.Helper()
	ix, rep, err := buildCertIndex(bf.data, nil, nil, pinnedTime)
	if err != nil {
		b.Fatal(err)
	}
	if len(rep.skipped) > 0 {
		b.Fatalf("skipped %d entries", len(rep.skipped))
	}
	return ix
}

// BenchmarkLookup measures GetCertificate alone (normalization and the map
// lookups) against indexes of 500 and 5,000 certificates: the cost must not
// grow with the number of certificates. Each size cycles through the same
// number of names (lookupSample, spread evenly over its certificates, a
// tenth of them wildcard hits), so that only the index size differs.
// Misses try both tables.
func BenchmarkLookup(b *testing.B) {
	const lookupSample = 250
	for _, n := range []int{500, 5000} {
		bf := genBenchFile(b, n)
		m := managerFor(benchIndex(b, bf))
		var hits, misses []*tls.ClientHelloInfo
		for i := 0; i < n; i += n / lookupSample {
			hits = append(hits, &tls.ClientHelloInfo{ServerName: bf.hits[i]})
			misses = append(misses, &tls.ClientHelloInfo{ServerName: bf.miss[i]})
		}
		ctx := context.Background()
		b.Run(fmt.Sprintf("certs=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				c, _ := m.GetCertificate(ctx, hits[i%len(hits)])
				if c == nil {
					b.Fatal("no certificate for a hit")
				}
				i++
			}
		})
		b.Run(fmt.Sprintf("certs=%d/miss", n), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				c, _ := m.GetCertificate(ctx, misses[i%len(misses)])
				if c != nil {
					b.Fatal("certificate for a miss")
				}
				i++
			}
		})
	}
}

// BenchmarkHandshake5000 measures full TLS 1.3 handshakes over loopback
// (no resumption; the client verifies the chain) against a tls.Listener
// whose GetCertificate is the manager, with 5,000 certificates loaded.
func BenchmarkHandshake5000(b *testing.B) {
	bf := genBenchFile(b, 5000)
	m := managerFor(benchIndex(b, bf))
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			return m.GetCertificate(hello.Context(), hello)
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer conn.Close()
				if err := conn.(*tls.Conn).Handshake(); err != nil {
					return
				}
				_, _ = conn.Write([]byte{1})
			})
		}
	})
	defer func() {
		ln.Close()
		wg.Wait()
	}()
	addr := ln.Addr().String()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		name := bf.hits[i%len(bf.hits)]
		i++
		conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: name, RootCAs: bf.ca.pool, Time: pinnedClock})
		if err != nil {
			b.Fatal(err)
		}
		var one [1]byte
		if _, err := conn.Read(one[:]); err != nil {
			b.Fatal(err)
		}
		conn.Close()
	}
}

// BenchmarkReload5000 measures parsing and indexing a 5,000-certificate
// file: cold (every entry parsed) and after a change that left the entries
// alone (every entry reused from the previous index).
//
// "cold-RSA4096" is the cold load of a file of Traefik's default RSA-4096
// keys: keys are decoded at their first handshake (acmejson.ParseLazy), so
// it costs about what EC256 does instead of 5,000 RSA precomputations.
func BenchmarkReload5000(b *testing.B) {
	bf := genBenchFile(b, 5000)
	b.Run("cold", func(b *testing.B) {
		b.SetBytes(int64(len(bf.data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := buildCertIndex(bf.data, nil, nil, pinnedTime); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cold-RSA4096", func(b *testing.B) {
		bfRSA := genBenchFileKeys(b, 5000, "RSA4096")
		b.SetBytes(int64(len(bfRSA.data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := buildCertIndex(bfRSA.data, nil, nil, pinnedTime); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("unchanged-entries", func(b *testing.B) {
		prev := benchIndex(b, bf)
		b.SetBytes(int64(len(bf.data)))
		b.ReportAllocs()
		for b.Loop() {
			ix, rep, err := buildCertIndex(bf.data, nil, prev, pinnedTime)
			if err != nil {
				b.Fatal(err)
			}
			if rep.reused != ix.entries {
				b.Fatalf("reused %d of %d entries", rep.reused, ix.entries)
			}
		}
	})
}
