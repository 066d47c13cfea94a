package bench

import (
	"fmt"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
)

// TestScenarios runs every scenario at a small size, so that plain
// `go test` proves the suite works without paying for the full runs
// (those belong to `go test -bench` and cmd/traefik-acme-bench).
func TestScenarios(t *testing.T) {
	t.Run("obtain", func(t *testing.T) {
		res, err := Obtain(t.Context(), t, ObtainOptions{Names: 3, KeyType: "EC256", RateLimit: 1000, Timeout: 2 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if res.Orders != 3 || res.NewAccounts != 1 {
			t.Errorf("orders %d, new accounts %d; want 3 and 1", res.Orders, res.NewAccounts)
		}
		if res.Wall <= 0 || res.FirstServed > res.Wall {
			t.Errorf("wall %v, first served %v", res.Wall, res.FirstServed)
		}
	})
	t.Run("start", func(t *testing.T) {
		dir := t.TempDir()
		tests := []struct {
			name     string
			plain    bool
			imported bool
		}{
			{"first start, empty storage", false, true},
			{"second start", false, false},
			{"plain Caddy on an offline import", true, false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res, err := Start(t.Context(), StartOptions{Dir: dir, Certificates: 40, LeafKey: "EC256", Plain: tt.plain, Handshakes: 20, Timeout: 2 * time.Minute})
				if err != nil {
					t.Fatal(err)
				}
				if res.Imported != tt.imported {
					t.Errorf("imported %v, want %v", res.Imported, tt.imported)
				}
				if res.Handshakes != 20 || res.HandshakeP50 <= 0 || res.HandshakeP99 < res.HandshakeP50 {
					t.Errorf("handshakes %d, p50 %v, p99 %v", res.Handshakes, res.HandshakeP50, res.HandshakeP99)
				}
				if res.FirstHandshake <= 0 || res.AllServed < res.FirstHandshake {
					t.Errorf("first handshake %v, all served %v", res.FirstHandshake, res.AllServed)
				}
			})
		}
	})
	t.Run("mirror", func(t *testing.T) {
		res, err := Mirror(t.TempDir(), 100, 3, "EC256")
		if err != nil {
			t.Fatal(err)
		}
		if res.PerCertificate <= 0 || res.PerCertificateTogether <= 0 || res.FileBytes == 0 {
			t.Errorf("per certificate %v / %v together, file %d bytes", res.PerCertificate, res.PerCertificateTogether, res.FileBytes)
		}
		if res.Writes < 1 || res.Writes > 3 {
			t.Errorf("3 certificates arriving together took %d writes", res.Writes)
		}
	})
}

func TestReadMemory(t *testing.T) {
	m := ReadMemory()
	if runtime.GOOS == "linux" && (m.RSS <= 0 || m.PeakRSS < m.RSS) {
		t.Errorf("ReadMemory() = %+v; want 0 < RSS <= PeakRSS on linux", m)
	}
}

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 1000; i++ {
		ds = append(ds, time.Duration(i))
	}
	tests := []struct {
		p    int
		in   []time.Duration
		want time.Duration
	}{
		{50, ds, 500},
		{99, ds, 990},
		{100, ds, 1000},
		{50, ds[:1], 1},
		{99, nil, 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("p%d_of_%d", tt.p, len(tt.in)), func(t *testing.T) {
			if got := percentile(tt.in, tt.p); got != tt.want {
				t.Errorf("percentile = %v, want %v", got, tt.want)
			}
		})
	}
}

// BenchmarkObtain100 obtains 100 certificates over HTTP-01 from an empty
// storage through a real Caddy; each iteration is a whole run against a
// fresh CA. Run with -benchtime=1x.
func BenchmarkObtain100(b *testing.B) {
	cases := []struct {
		name      string
		keyType   string
		rateLimit int
	}{
		{"EC256", "EC256", 1000},
		{"RSA4096", "RSA4096", 1000},
		{"EC256-default-limiter", "EC256", 0},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				res, err := Obtain(b.Context(), b, ObtainOptions{Names: 100, KeyType: c.keyType, RateLimit: c.rateLimit})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(res.Wall.Seconds(), "wall-s")
				b.ReportMetric(float64(res.Orders), "orders")
			}
		})
	}
}

// BenchmarkStart5000 starts Caddy with a 5,000-certificate acme.json
// (RSA-4096 leaves, Traefik's default): "first" imports it into an empty
// storage, "second" starts again on the imported storage, "plain" is plain
// Caddy without this module on that storage, the baseline. Each reports the
// time to the first verified handshake and the p50/p99 of 1,000 sequential
// full handshakes. Run with -benchtime=1x; peak RSS per start is only
// meaningful from the driver, which runs each start in its own process.
func BenchmarkStart5000(b *testing.B) {
	for b.Loop() {
		dir := b.TempDir()
		for _, phase := range []string{"first", "second", "plain"} {
			res, err := Start(b.Context(), StartOptions{Dir: dir, Certificates: 5000, Handshakes: 1000, Plain: phase == "plain"})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(res.FirstHandshake.Seconds(), phase+"-handshake-s")
			b.ReportMetric(float64(res.HandshakeP50.Microseconds()), phase+"-p50-µs")
			b.ReportMetric(float64(res.HandshakeP99.Microseconds()), phase+"-p99-µs")
		}
	}
}

// BenchmarkMirror5000 measures mirroring obtained certificates into an
// acme.json that already holds 5,000 (RSA-4096, ~30 MB), one op per
// certificate, through an acmejson.Batcher as the cert_obtained handler
// does: "one-at-a-time" is one write per certificate (renewals trickling
// in); "together" has 50 goroutines mirroring at once (many names obtained
// together), which the Batcher writes in batches.
func BenchmarkMirror5000(b *testing.B) {
	dir := b.TempDir()
	if err := GenerateAcmeJSON(dir, 5000, "RSA4096"); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, "acme.json")
	f, err := acmejson.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	sample := f[StartResolver].Certificates[0]
	w := acmejson.NewBatcher(path, acmejson.LoadOptions{Resolver: StartResolver, TightenPermissions: true})
	var n atomic.Int64
	mirror := func(b *testing.B) {
		name := fmt.Sprintf("mirrored%d.start.test", n.Add(1))
		err := w.Update(func(f *acmejson.File) error {
			f.Ensure(StartResolver).Upsert([]string{name}, sample.Certificate, sample.Key)
			return nil
		})
		if err != nil {
			b.Error(err)
		}
	}
	b.Run("one-at-a-time", func(b *testing.B) {
		for b.Loop() {
			mirror(b)
		}
	})
	b.Run("together", func(b *testing.B) {
		b.SetParallelism(25) // 50 goroutines on 2 CPUs
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				mirror(b)
			}
		})
	})
}
