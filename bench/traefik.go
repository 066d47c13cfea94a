package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ac075510/caddy-traefik-acme/internal/caddytest"
)

// TraefikOptions configures [Traefik].
type TraefikOptions struct {
	// Binary is the path of a Traefik v2 or v3 executable. Required.
	Binary string
	// Dir holds acme.json and root.pem (generated as [Start] does when
	// missing, so Traefik and Caddy read the same file) and the "traefik"
	// folder with Traefik's configuration, its copy of acme.json and its
	// log.
	Dir string
	// Certificates and LeafKey are as in [StartOptions].
	Certificates int
	LeafKey      string
	// Timeout bounds the run; 0 means 5 minutes.
	Timeout time.Duration
}

// Traefik runs the Traefik binary on the same acme.json as [Start] (a copy,
// since Traefik rewrites the file it is given), with one router per name
// from a generated file-provider configuration, all on one TLS entry point
// and the resolver StartResolver, whose CA is unreachable as in [Start]:
// nothing can be ordered, so every name served comes from acme.json. It
// measures the time from launching Traefik to the first verified handshake
// for the first, middle and last name of the file, checks that every name
// is then served, and reads Traefik's peak RSS (VmHWM of its process).
// Traefik is stopped before Traefik returns. The result is a [StartResult]
// (FirstHandshake is the middle name, as for Caddy) with PeakAfterStart
// and Steady describing the Traefik process.
func Traefik(ctx context.Context, opts TraefikOptions) (StartResult, error) {
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	res := StartResult{Certificates: opts.Certificates}
	if opts.Binary == "" {
		return res, errors.New("traefik scenario: no traefik binary given")
	}
	if _, err := os.Stat(opts.Binary); err != nil {
		return res, fmt.Errorf("traefik scenario: %w", err)
	}
	acmeFile, roots, err := prepareAcmeJSON(opts.Dir, opts.Certificates, opts.LeafKey)
	if err != nil {
		return res, err
	}
	ports, err := caddytest.FreePorts(1)
	if err != nil {
		return res, err
	}
	port := ports[0]
	dir := filepath.Join(opts.Dir, "traefik")
	names := StartNames(opts.Certificates)
	static, err := WriteTraefikConfig(dir, acmeFile, port, names)
	if err != nil {
		return res, err
	}
	logFile := filepath.Join(dir, "traefik.log")
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))

	cmd := exec.CommandContext(ctx, opts.Binary, "--configFile="+static)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return res, fmt.Errorf("starting traefik: %w", err)
	}
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()
	fail := func(err error) (StartResult, error) {
		return res, fmt.Errorf("%w\ntraefik output (tail):\n%s\ntraefik log (tail):\n%s", err, tailString(stderr.String(), 20), caddytest.LogTail(logFile, 20))
	}
	served, err := waitFirstMiddleLast(ctx, addr, names, roots, start)
	if err != nil {
		return fail(err)
	}
	res.FirstNameServed, res.FirstHandshake, res.LastNameServed = served[0], served[1], served[2]
	res.PeakAfterStart = processMemory(cmd.Process.Pid)
	if _, _, err := waitServed(ctx, addr, names, roots); err != nil {
		return fail(err)
	}
	res.AllServed = time.Since(start)
	res.Steady = processMemory(cmd.Process.Pid)
	_ = cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
	return res, nil
}

// WriteTraefikConfig writes, in dir (created 0700), Traefik's static
// configuration traefik.yml, its dynamic configuration dynamic.yml for the
// file provider, and acme.json, a copy of acmeFile with mode 0600 (Traefik
// refuses a more open one). The static configuration has one entry point,
// "websecure" on 127.0.0.1:port, and the resolver StartResolver with
// tlsChallenge against the unreachable CA [Start] uses; the dynamic one has
// one router per name (rule Host(`name`), TLS through that resolver, to
// Traefik's internal noop service). It returns the static file's path.
func WriteTraefikConfig(dir, acmeFile string, port int, names []string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("creating %s: %w", dir, err)
	}
	data, err := os.ReadFile(acmeFile)
	if err != nil {
		return "", fmt.Errorf("reading acme.json: %w", err)
	}
	copyPath := filepath.Join(dir, "acme.json")
	if err := os.WriteFile(copyPath, data, 0o600); err != nil {
		return "", fmt.Errorf("copying acme.json for traefik: %w", err)
	}
	if err := os.Chmod(copyPath, 0o600); err != nil {
		return "", fmt.Errorf("copying acme.json for traefik: %w", err)
	}
	dynamic := filepath.Join(dir, "dynamic.yml")
	if err := os.WriteFile(dynamic, traefikDynamic(names), 0o600); err != nil {
		return "", fmt.Errorf("writing the traefik dynamic configuration: %w", err)
	}
	static := filepath.Join(dir, "traefik.yml")
	text := fmt.Sprintf(`global:
  checkNewVersion: false
  sendAnonymousUsage: false
log:
  level: ERROR
  filePath: %q
entryPoints:
  websecure:
    address: %q
providers:
  file:
    filename: %q
    watch: false
certificatesResolvers:
  %s:
    acme:
      email: bench@example.test
      storage: %q
      caServer: %q
      tlsChallenge: {}
`, filepath.Join(dir, "traefik.log"), net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), dynamic, StartResolver, copyPath, deadCA)
	if err := os.WriteFile(static, []byte(text), 0o600); err != nil {
		return "", fmt.Errorf("writing the traefik static configuration: %w", err)
	}
	return static, nil
}

// traefikDynamic is the file-provider configuration with one router per
// name.
func traefikDynamic(names []string) []byte {
	var b bytes.Buffer
	b.WriteString("http:\n  routers:\n")
	for i, n := range names {
		fmt.Fprintf(&b, "    r%05d:\n      rule: \"Host(`%s`)\"\n      entryPoints: [websecure]\n      service: noop@internal\n      tls:\n        certResolver: %s\n", i, n, StartResolver)
	}
	return b.Bytes()
}

// processMemory reads the current and peak resident set size of process
// pid from /proc/<pid>/status; zero where that file does not exist.
func processMemory(pid int) Memory {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Memory{}
	}
	return parseStatus(b)
}

// parseStatus reads VmHWM and VmRSS from a /proc/<pid>/status file.
func parseStatus(b []byte) Memory {
	var m Memory
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			continue
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "VmHWM":
			m.PeakRSS = n * 1024
		case "VmRSS":
			m.RSS = n * 1024
		}
	}
	return m
}

// tailString returns the last n lines of s.
func tailString(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
