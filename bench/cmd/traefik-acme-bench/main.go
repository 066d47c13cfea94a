// Command traefik-acme-bench runs the performance scenarios of package
// bench against the in-process test CA on loopback and prints a markdown
// table with the machine description:
//
//	go run ./bench/cmd/traefik-acme-bench                  # everything (~4 min on 2 cores)
//	go run ./bench/cmd/traefik-acme-bench -only start,mirror
//	go run ./bench/cmd/traefik-acme-bench -only start -rounds 3 -traefik /usr/local/bin/traefik
//
// With -traefik, the start group also runs Traefik itself on the same
// acme.json (one router per name, generated file-provider configuration).
// With -rounds R, the selected scenarios run R times, alternated (every
// scenario once per round, in order), and the table reports medians: on a
// shared machine a single run says little.
//
// Each scenario runs in its own child process (this program re-executed
// with -child), so that the peak RSS reported (VmHWM from
// /proc/self/status, which cannot be reset) belongs to that scenario alone.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ac075510/caddy-traefik-acme/bench"
	"github.com/ac075510/caddy-traefik-acme/internal/acmetest"
)

// scenario is one row of the table.
type scenario struct {
	id   string
	desc string
}

var scenarios = []scenario{
	{"obtain-ec256", "obtain N certificates, HTTP-01, EC256, limiter raised to 1000/10s"},
	{"obtain-rsa4096", "obtain N certificates, HTTP-01, RSA4096, limiter raised to 1000/10s"},
	{"obtain-ec256-default", "obtain N certificates, HTTP-01, EC256, certmagic's default limiter (10/10s)"},
	{"start-first", "start with an M-certificate acme.json, empty storage (read through, nothing imported)"},
	{"start-second", "start again on the same storage"},
	{"start-plain", "plain Caddy without this module on the same certificates, imported offline into its storage (baseline)"},
	{"start-traefik", "Traefik on the same acme.json, one router per name (needs -traefik)"},
	{"mirror", "mirror certificates into an M-certificate acme.json"},
}

// childResult is what a child prints on stdout.
type childResult struct {
	Obtain *bench.ObtainResult `json:"obtain,omitempty"`
	Start  *bench.StartResult  `json:"start,omitempty"`
	Mirror *bench.MirrorResult `json:"mirror,omitempty"`
	Memory bench.Memory        `json:"memory"`
	Error  string              `json:"error,omitempty"`
}

type flags struct {
	child      string
	dir        string
	names      int
	certs      int
	handshakes int
	mirrors    int
	leafKey    string
	cpuProfile string
	only       string
	traefik    string
	rounds     int
}

func main() {
	var f flags
	flag.StringVar(&f.child, "child", "", "run one scenario and print its result as JSON (used internally)")
	flag.StringVar(&f.dir, "dir", "", "working directory (default: a new temporary directory, removed at the end)")
	flag.IntVar(&f.names, "names", 100, "N: certificates to obtain")
	flag.IntVar(&f.certs, "certs", 5000, "M: certificates in the generated acme.json")
	flag.IntVar(&f.handshakes, "handshakes", 1000, "sequential full handshakes timed after each start")
	flag.IntVar(&f.mirrors, "mirrors", 50, "certificates mirrored in the mirror scenario")
	flag.StringVar(&f.leafKey, "leaf-key", "RSA4096", "key type of the generated acme.json's certificates: RSA4096 (Traefik's default) or EC256")
	flag.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of each scenario to `dir`/<scenario>.cpu (read with go tool pprof)")
	flag.StringVar(&f.only, "only", "", "comma-separated scenario ids (obtain-ec256, obtain-rsa4096, obtain-ec256-default, start-first, start-second, start-plain, start-traefik, mirror) or groups (obtain, start, mirror)")
	flag.StringVar(&f.traefik, "traefik", "", "path of a Traefik binary: adds the start-traefik scenario (Traefik on the same acme.json)")
	flag.IntVar(&f.rounds, "rounds", 1, "run the selected scenarios this many times, alternated, and report medians")
	flag.Parse()
	if err := checkFlags(f); err != nil {
		fmt.Fprintln(os.Stderr, "traefik-acme-bench:", err)
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if f.child != "" {
		os.Exit(runChild(ctx, f))
	}
	if err := runParent(ctx, os.Stdout, f); err != nil {
		fmt.Fprintln(os.Stderr, "traefik-acme-bench:", err)
		os.Exit(1)
	}
}

func runChild(ctx context.Context, f flags) int {
	var res childResult
	stopProfile := func() {}
	if f.cpuProfile != "" {
		stop, err := startCPUProfile(filepath.Join(f.cpuProfile, f.child+".cpu"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		stopProfile = sync.OnceFunc(stop)
		defer stopProfile()
	}
	tb := acmetest.NewProgram(f.dir)
	err := tb.Run(func() error {
		switch f.child {
		case "obtain-ec256", "obtain-rsa4096", "obtain-ec256-default":
			opts := bench.ObtainOptions{Names: f.names, KeyType: "EC256", RateLimit: 1000}
			if f.child == "obtain-rsa4096" {
				opts.KeyType = "RSA4096"
			}
			if f.child == "obtain-ec256-default" {
				opts.RateLimit = 0
			}
			r, err := bench.Obtain(ctx, tb, opts)
			res.Obtain = &r
			return err
		case "start-traefik":
			r, err := bench.Traefik(ctx, bench.TraefikOptions{Binary: f.traefik, Dir: f.dir, Certificates: f.certs, LeafKey: f.leafKey, Timeout: 20 * time.Minute})
			res.Start = &r
			return err
		case "start-first", "start-second", "start-plain":
			// The profile of a start ends when the first, middle and last
			// names are served (not the per-name check that follows).
			r, err := bench.Start(ctx, bench.StartOptions{Dir: f.dir, Certificates: f.certs, LeafKey: f.leafKey,
				Handshakes: f.handshakes, Plain: f.child == "start-plain", Served: stopProfile,
				// Checking 5,000 RSA-4096 names one handshake each took over
				// 4 minutes on a loaded 2-core machine.
				Timeout: 20 * time.Minute})
			res.Start = &r
			return err
		case "mirror":
			r, err := bench.Mirror(f.dir, f.certs, f.mirrors, f.leafKey)
			res.Mirror = &r
			return err
		}
		return fmt.Errorf("unknown scenario %q", f.child)
	})
	res.Memory = bench.ReadMemory()
	if err != nil {
		res.Error = err.Error()
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		fmt.Fprintln(os.Stderr, "encoding the result:", err)
		return 1
	}
	if res.Error != "" {
		return 1
	}
	return 0
}

// checkFlags rejects flag values the run cannot use.
func checkFlags(f flags) error {
	if f.rounds < 1 {
		return fmt.Errorf("-rounds must be at least 1, not %d", f.rounds)
	}
	if f.traefik != "" && f.child == "" {
		fi, err := os.Stat(f.traefik)
		if err != nil {
			return fmt.Errorf("-traefik: %w", err)
		}
		if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
			return fmt.Errorf("-traefik: %s is not an executable file", f.traefik)
		}
	}
	if f.traefik == "" && f.only != "" {
		for _, o := range strings.Split(f.only, ",") {
			if strings.TrimSpace(o) == "start-traefik" {
				return errors.New("-only start-traefik needs -traefik <path of a Traefik binary>")
			}
		}
	}
	return nil
}

// selected reports whether scenario id runs: it is named by only (or its
// group is), and start-traefik only when a Traefik binary is given.
func selected(id, only, traefik string) bool {
	if id == "start-traefik" && traefik == "" {
		return false
	}
	if only == "" {
		return true
	}
	for _, o := range strings.Split(only, ",") {
		o = strings.TrimSpace(o)
		if id == o || (o != "" && !strings.Contains(o, "-") && strings.HasPrefix(id, o+"-")) {
			return true
		}
	}
	return false
}

func runParent(ctx context.Context, out io.Writer, f flags) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding this program: %w", err)
	}
	root := f.dir
	if root == "" {
		if root, err = os.MkdirTemp("", "traefik-acme-bench-"); err != nil {
			return fmt.Errorf("creating a working directory: %w", err)
		}
		defer os.RemoveAll(root)
	}
	startDir := filepath.Join(root, "start")
	var chosen []scenario
	for _, s := range scenarios {
		if selected(s.id, f.only, f.traefik) {
			chosen = append(chosen, s)
		}
	}
	if slices.ContainsFunc(chosen, func(s scenario) bool { return strings.HasPrefix(s.id, "start-") }) {
		// Generated here, so that no scenario's time, memory or profile
		// includes it.
		if err := os.MkdirAll(startDir, 0o700); err != nil {
			return fmt.Errorf("creating %s: %w", startDir, err)
		}
		if _, err := os.Stat(filepath.Join(startDir, "acme.json")); err != nil {
			fmt.Fprintf(os.Stderr, "generating an acme.json of %d certificates ...\n", f.certs)
			if err := bench.GenerateAcmeJSON(startDir, f.certs, f.leafKey); err != nil {
				return err
			}
		}
		if slices.ContainsFunc(chosen, func(s scenario) bool { return s.id == "start-plain" }) {
			fmt.Fprintln(os.Stderr, "importing it offline for plain Caddy ...")
			if err := bench.PreparePlain(ctx, startDir); err != nil {
				return err
			}
		}
	}
	results := map[string][]childResult{}
	var failed []string
	for round := 1; round <= f.rounds; round++ {
		for _, s := range chosen {
			dir := filepath.Join(root, s.id)
			if strings.HasPrefix(s.id, "start-") {
				dir = startDir
			}
			if s.id == "start-first" {
				// A first start: Caddy's storage is empty (acme.json and the
				// plain baseline's storage are kept across rounds).
				if err := os.RemoveAll(filepath.Join(dir, "storage")); err != nil {
					return fmt.Errorf("emptying the storage: %w", err)
				}
			}
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return fmt.Errorf("creating %s: %w", dir, err)
			}
			fmt.Fprintf(os.Stderr, "round %d/%d: running %s ...\n", round, f.rounds, s.id)
			args := []string{"-child", s.id, "-dir", dir,
				"-names", fmt.Sprint(f.names), "-certs", fmt.Sprint(f.certs),
				"-handshakes", fmt.Sprint(f.handshakes), "-mirrors", fmt.Sprint(f.mirrors), "-leaf-key", f.leafKey}
			if f.traefik != "" {
				args = append(args, "-traefik", f.traefik)
			}
			if f.cpuProfile != "" {
				abs, err := filepath.Abs(filepath.Join(f.cpuProfile, fmt.Sprintf("round%d", round)))
				if err != nil {
					return fmt.Errorf("resolving -cpuprofile: %w", err)
				}
				if f.rounds == 1 {
					abs = filepath.Dir(abs)
				}
				args = append(args, "-cpuprofile", abs)
			}
			var stdout bytes.Buffer
			cmd := exec.CommandContext(ctx, self, args...)
			cmd.Stdout, cmd.Stderr = &stdout, os.Stderr
			runErr := cmd.Run()
			var res childResult
			if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
				return fmt.Errorf("scenario %s: no result (%v): %w", s.id, runErr, err)
			}
			if res.Error != "" {
				failed = append(failed, fmt.Sprintf("round %d, %s: %s", round, s.id, res.Error))
				continue
			}
			results[s.id] = append(results[s.id], res)
		}
	}

	fmt.Fprintf(out, "Machine: %s\n\n", bench.Machine())
	fmt.Fprintf(out, "N = %d certificates obtained, M = %d certificates (%s) in acme.json, %d handshakes per start, %d mirrors; %d round(s), alternated, medians.\n\n", f.names, f.certs, f.leafKey, f.handshakes, f.mirrors, f.rounds)
	fmt.Fprintln(out, "| scenario | result | orders at the CA | peak RSS | steady RSS |")
	fmt.Fprintln(out, "|---|---|---|---|---|")
	for _, s := range chosen {
		rs := results[s.id]
		if len(rs) == 0 {
			fmt.Fprintf(out, "| %s | FAILED (see below) | | | |\n", s.desc)
			continue
		}
		result, orders, steady := "", "", ""
		switch {
		case rs[0].Obtain != nil:
			o := medianObtain(rs)
			result = fmt.Sprintf("%s for %d certificates (first served after %s)", secs(o.Wall), o.Names, secs(o.FirstServed))
			orders = fmt.Sprintf("%d (%d accounts), each name once", o.Orders, o.NewAccounts)
		case rs[0].Start != nil:
			st := medianStart(rs)
			result = fmt.Sprintf("first good handshake (middle name) %s; first name %s, last name %s; all %d names served %s",
				secs(st.FirstHandshake), secs(st.FirstNameServed), secs(st.LastNameServed), st.Certificates, secs(st.AllServed))
			if st.Handshakes > 0 {
				result += fmt.Sprintf("; %d handshakes p50 %s, p99 %s", st.Handshakes, ms(st.HandshakeP50), ms(st.HandshakeP99))
			}
			orders = "none possible (CA unreachable)"
			steady = mib(st.Steady.RSS)
		case rs[0].Mirror != nil:
			m := medianMirror(rs)
			result = fmt.Sprintf("%s per certificate one at a time; %s per certificate when %d arrive together (%d writes); file %.1f MiB",
				ms(m.PerCertificate), ms(m.PerCertificateTogether), m.Mirrors, m.Writes, float64(m.FileBytes)/(1<<20))
		}
		fmt.Fprintf(out, "| %s | %s | %s | %s | %s |\n", s.desc, result, orders, mib(peakRSS(s.id, rs)), steady)
	}
	writeStartComparison(out, results)
	if len(failed) > 0 {
		fmt.Fprintf(out, "\nFailures:\n")
		for _, f := range failed {
			fmt.Fprintf(out, "- %s\n", f)
		}
		return fmt.Errorf("%d scenario run(s) failed", len(failed))
	}
	return nil
}

// peakRSS is the median peak RSS of a scenario's runs: the child process's,
// or, for Traefik, the Traefik process's.
func peakRSS(id string, rs []childResult) int64 {
	v := make([]int64, len(rs))
	for i, r := range rs {
		v[i] = r.Memory.PeakRSS
		if id == "start-traefik" && r.Start != nil {
			v[i] = max(r.Start.PeakAfterStart.PeakRSS, r.Start.Steady.PeakRSS)
		}
	}
	return median(v)
}

// writeStartComparison prints the table: the start scenarios side
// by side, medians, with the ratios the targets are stated in.
func writeStartComparison(out io.Writer, results map[string][]childResult) {
	cols := []struct{ id, title string }{
		{"start-traefik", "Traefik"},
		{"start-first", "plugin, first start"},
		{"start-second", "plugin, later start"},
		{"start-plain", "plain Caddy on the imported storage"},
	}
	var present []int
	med := map[string]bench.StartResult{}
	for i, c := range cols {
		if rs := results[c.id]; len(rs) > 0 && rs[0].Start != nil {
			present = append(present, i)
			med[c.id] = medianStart(rs)
		}
	}
	if len(present) < 2 {
		return
	}
	fmt.Fprintf(out, "\n|")
	for _, i := range present {
		fmt.Fprintf(out, " | %s", cols[i].title)
	}
	fmt.Fprintf(out, " |\n|---|")
	for range present {
		fmt.Fprintf(out, "---|")
	}
	fmt.Fprintln(out)
	row := func(label string, cell func(id string) string) {
		fmt.Fprintf(out, "| %s |", label)
		for _, i := range present {
			fmt.Fprintf(out, " %s |", cell(cols[i].id))
		}
		fmt.Fprintln(out)
	}
	row("first good handshake, middle name", func(id string) string { return secs(med[id].FirstHandshake) })
	row("first good handshake, first name", func(id string) string { return secs(med[id].FirstNameServed) })
	row("first good handshake, last name", func(id string) string { return secs(med[id].LastNameServed) })
	row("all names served", func(id string) string { return secs(med[id].AllServed) })
	row("peak RSS", func(id string) string { return mib(peakRSS(id, results[id])) })
	row("orders at the CA", func(string) string { return "0 (CA unreachable)" })
	ratio := func(a, b string) string {
		x, y := med[a].FirstHandshake, med[b].FirstHandshake
		if x == 0 || y == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.2f×", x.Seconds()/y.Seconds())
	}
	fmt.Fprintf(out, "\nRatios of the medians (middle name): first start / later start %s (target ≤ 1.1); later start / plain Caddy %s (target ≤ 1.1); first start / Traefik %s (target ≤ 0.8).\n",
		ratio("start-first", "start-second"), ratio("start-second", "start-plain"), ratio("start-first", "start-traefik"))
}

// median returns the median of v (the lower middle for an even count).
func median[T int64 | time.Duration](v []T) T {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

// medianOf applies median to one field of each result.
func medianOf[R any, T int64 | time.Duration](rs []R, field func(R) T) T {
	v := make([]T, len(rs))
	for i, r := range rs {
		v[i] = field(r)
	}
	return median(v)
}

// medianStart is the field-wise median of the start results in rs.
func medianStart(rs []childResult) bench.StartResult {
	var st []bench.StartResult
	for _, r := range rs {
		if r.Start != nil {
			st = append(st, *r.Start)
		}
	}
	m := st[0]
	m.FirstHandshake = medianOf(st, func(s bench.StartResult) time.Duration { return s.FirstHandshake })
	m.FirstNameServed = medianOf(st, func(s bench.StartResult) time.Duration { return s.FirstNameServed })
	m.LastNameServed = medianOf(st, func(s bench.StartResult) time.Duration { return s.LastNameServed })
	m.AllServed = medianOf(st, func(s bench.StartResult) time.Duration { return s.AllServed })
	m.HandshakeP50 = medianOf(st, func(s bench.StartResult) time.Duration { return s.HandshakeP50 })
	m.HandshakeP99 = medianOf(st, func(s bench.StartResult) time.Duration { return s.HandshakeP99 })
	m.Steady.RSS = medianOf(st, func(s bench.StartResult) int64 { return s.Steady.RSS })
	return m
}

// medianObtain is the field-wise median of the obtain results in rs.
func medianObtain(rs []childResult) bench.ObtainResult {
	var o []bench.ObtainResult
	for _, r := range rs {
		o = append(o, *r.Obtain)
	}
	m := o[0]
	m.Wall = medianOf(o, func(x bench.ObtainResult) time.Duration { return x.Wall })
	m.FirstServed = medianOf(o, func(x bench.ObtainResult) time.Duration { return x.FirstServed })
	return m
}

// medianMirror is the field-wise median of the mirror results in rs.
func medianMirror(rs []childResult) bench.MirrorResult {
	var o []bench.MirrorResult
	for _, r := range rs {
		o = append(o, *r.Mirror)
	}
	m := o[0]
	m.PerCertificate = medianOf(o, func(x bench.MirrorResult) time.Duration { return x.PerCertificate })
	m.PerCertificateTogether = medianOf(o, func(x bench.MirrorResult) time.Duration { return x.PerCertificateTogether })
	return m
}

// startCPUProfile writes a CPU profile to path until the returned function
// is called.
func startCPUProfile(path string) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("creating the profile directory: %w", err)
	}
	out, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("creating the CPU profile: %w", err)
	}
	if err := pprof.StartCPUProfile(out); err != nil {
		out.Close()
		return nil, fmt.Errorf("starting the CPU profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		out.Close()
	}, nil
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }
func ms(d time.Duration) string   { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }
func mib(n int64) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
}
