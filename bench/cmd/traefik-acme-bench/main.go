// Command traefik-acme-bench runs the performance scenarios of package
// bench against the in-process test CA on loopback and prints a markdown
// table with the machine description:
//
//	go run ./bench/cmd/traefik-acme-bench                  # everything (~4 min on 2 cores)
//	go run ./bench/cmd/traefik-acme-bench -only start,mirror
//
// Each scenario runs in its own child process (this program re-executed
// with -child), so that the peak RSS reported (VmHWM from
// /proc/self/status, which cannot be reset) belongs to that scenario alone.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/ac075510/caddy-traefik-acme/bench"
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
	{"start-first", "start with an M-certificate acme.json, empty storage (import)"},
	{"start-second", "start again on the imported storage"},
	{"start-plain", "plain Caddy without this module on that storage (baseline)"},
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
	flag.StringVar(&f.only, "only", "", "comma-separated scenario ids (obtain-ec256, obtain-rsa4096, obtain-ec256-default, start-first, start-second, start-plain, mirror) or groups (obtain, start, mirror)")
	flag.Parse()

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
	if f.cpuProfile != "" {
		stop, err := startCPUProfile(filepath.Join(f.cpuProfile, f.child+".cpu"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer stop()
	}
	err := func() error {
		switch f.child {
		case "obtain-ec256", "obtain-rsa4096", "obtain-ec256-default":
			opts := bench.ObtainOptions{Dir: f.dir, Names: f.names, KeyType: "EC256", RateLimit: 1000}
			if f.child == "obtain-rsa4096" {
				opts.KeyType = "RSA4096"
			}
			if f.child == "obtain-ec256-default" {
				opts.RateLimit = 0
			}
			r, err := bench.Obtain(ctx, opts)
			res.Obtain = &r
			return err
		case "start-first", "start-second", "start-plain":
			r, err := bench.Start(ctx, bench.StartOptions{Dir: f.dir, Certificates: f.certs, LeafKey: f.leafKey,
				Handshakes: f.handshakes, Plain: f.child == "start-plain"})
			res.Start = &r
			return err
		case "mirror":
			r, err := bench.Mirror(f.dir, f.certs, f.mirrors, f.leafKey)
			res.Mirror = &r
			return err
		}
		return fmt.Errorf("unknown scenario %q", f.child)
	}()
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

func selected(id, only string) bool {
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
	type row struct {
		s   scenario
		res childResult
		d   time.Duration
	}
	var rows []row
	var failed []string
	for _, s := range scenarios {
		if !selected(s.id, f.only) {
			continue
		}
		dir := filepath.Join(root, s.id)
		if strings.HasPrefix(s.id, "start-") {
			dir = startDir
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("creating %s: %w", dir, err)
		}
		fmt.Fprintf(os.Stderr, "running %s ...\n", s.id)
		args := []string{"-child", s.id, "-dir", dir,
			"-names", fmt.Sprint(f.names), "-certs", fmt.Sprint(f.certs),
			"-handshakes", fmt.Sprint(f.handshakes), "-mirrors", fmt.Sprint(f.mirrors), "-leaf-key", f.leafKey}
		if f.cpuProfile != "" {
			abs, err := filepath.Abs(f.cpuProfile)
			if err != nil {
				return fmt.Errorf("resolving -cpuprofile: %w", err)
			}
			args = append(args, "-cpuprofile", abs)
		}
		var stdout bytes.Buffer
		cmd := exec.CommandContext(ctx, self, args...)
		cmd.Stdout, cmd.Stderr = &stdout, os.Stderr
		t0 := time.Now()
		runErr := cmd.Run()
		var res childResult
		if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
			return fmt.Errorf("scenario %s: no result (%v): %w", s.id, runErr, err)
		}
		if res.Error != "" {
			failed = append(failed, fmt.Sprintf("%s: %s", s.id, res.Error))
		}
		rows = append(rows, row{s: s, res: res, d: time.Since(t0)})
	}

	fmt.Fprintf(out, "Machine: %s\n\n", bench.Machine())
	fmt.Fprintf(out, "N = %d certificates obtained, M = %d certificates (%s) in acme.json, %d handshakes per start, %d mirrors.\n\n", f.names, f.certs, f.leafKey, f.handshakes, f.mirrors)
	fmt.Fprintln(out, "| scenario | result | orders at the CA | peak RSS | steady RSS |")
	fmt.Fprintln(out, "|---|---|---|---|---|")
	for _, r := range rows {
		result, orders, steady := "", "", ""
		switch {
		case r.res.Error != "":
			result = "FAILED (see below)"
		case r.res.Obtain != nil:
			o := r.res.Obtain
			result = fmt.Sprintf("%s for %d certificates (first served after %s)", secs(o.Wall), o.Names, secs(o.FirstServed))
			orders = fmt.Sprintf("%d (%d accounts), each name once", o.Orders, o.NewAccounts)
		case r.res.Start != nil:
			st := r.res.Start
			result = fmt.Sprintf("first good handshake %s, all %d names served %s; %d handshakes p50 %s, p99 %s",
				secs(st.FirstHandshake), st.Certificates, secs(st.AllServed), st.Handshakes, ms(st.HandshakeP50), ms(st.HandshakeP99))
			orders = "none possible (CA unreachable)"
			steady = mib(st.Steady.RSS)
		case r.res.Mirror != nil:
			m := r.res.Mirror
			result = fmt.Sprintf("%s per certificate one at a time; %s per certificate when %d arrive together (%d writes); file %.1f MiB",
				ms(m.PerCertificate), ms(m.PerCertificateTogether), m.Mirrors, m.Writes, float64(m.FileBytes)/(1<<20))
		}
		fmt.Fprintf(out, "| %s | %s | %s | %s | %s |\n", r.s.desc, result, orders, mib(r.res.Memory.PeakRSS), steady)
	}
	if len(failed) > 0 {
		fmt.Fprintf(out, "\nFailures:\n")
		for _, f := range failed {
			fmt.Fprintf(out, "- %s\n", f)
		}
		return fmt.Errorf("%d scenario(s) failed", len(failed))
	}
	return nil
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
