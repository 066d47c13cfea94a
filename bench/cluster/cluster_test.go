package cluster

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
	"github.com/ac075510/caddy-traefik-acme/internal/acmetest"
	"github.com/ac075510/caddy-traefik-acme/internal/caddytest"
)

const (
	instances   = 3
	namesPerRun = 20
	// serveTimeout bounds waiting for every name on every instance. A lock
	// left by a killed instance expires within 5 s (Redis) or 10 s (file
	// system); certmagic's default limiter allows 10 orders per 10 s.
	serveTimeout = 3 * time.Minute
)

var (
	buildOnce sync.Once
	caddyBin  string
	buildErr  error
)

// caddyBinary builds ./caddy once per test binary run.
func caddyBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "cluster-caddy-")
		if err != nil {
			buildErr = err
			return
		}
		caddyBin = filepath.Join(dir, "caddy")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		args := []string{"build", "-o", caddyBin}
		if raceEnabled {
			// The same flags as this test binary's: under `go test -race
			// ./...` every dependency is already compiled in the build
			// cache, so this costs a link instead of a second cold build of
			// Caddy; and the instances run under the race detector.
			args = append(args, "-race")
		}
		cmd := exec.CommandContext(ctx, "go", append(args, "./caddy")...)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("building ./caddy: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return caddyBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if caddyBin != "" {
		os.RemoveAll(filepath.Dir(caddyBin))
	}
	os.Exit(code)
}

// freePort returns a TCP port that was free on 127.0.0.1.
func freePort(t *testing.T) int {
	t.Helper()
	ports, err := caddytest.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	return ports[0]
}

// startRedis runs a throwaway redis-server on a free loopback port with no
// persistence and returns its address. Without redis-server on the PATH
// the test is skipped, with the reason: .ci/run installs it, so CI always
// runs the redis backend.
func startRedis(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skipf("skipped: redis-server is not on the PATH (apt-get install -y redis-server; .ci/run does it): %v", err)
	}
	port := freePort(t)
	dir := t.TempDir()
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting redis-server: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("redis-server output:\n%s", out.String())
		}
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	waitFor(t, "redis-server to answer PING", 10*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(time.Second))
		if _, err := c.Write([]byte("PING\r\n")); err != nil {
			return false
		}
		buf := make([]byte, 16)
		n, _ := c.Read(buf)
		return strings.HasPrefix(string(buf[:n]), "+PONG")
	})
	return addr
}

// waitFor polls cond until it holds or fails the test after timeout.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	caddytest.WaitFor(t, what, timeout, cond)
}

// caddyfileTmpl is each instance's Caddyfile. It must not enable Caddy's
// local CA (skip_install_trust, local_certs, internal issuers): instances
// starting together on shared storage race creating its keys, and one exits
// with "loading intermediate key: no such file or directory".
const caddyfileTmpl = `{
	admin off
	{{.Storage}}
	http_port {{.HTTPPort}}
	https_port {{.HTTPSPort}}
	default_bind 127.0.0.1
	log {
		output file {{.Log}}
		format json
		level INFO
	}
	traefik_acme {
		resolver le {
			email cluster@example.test
			ca_server {{.CA.DirectoryURL}}
			ca_certificates {{.CA.ServerCertPEMFile}}
			storage {{.AcmeJSON}}
			key_type EC256
			dns_challenge rfc2136 {
				resolvers {{.CA.DNSAddr}}
				env RFC2136_NAMESERVER {{.CA.DNSAddr}}
				env RFC2136_TSIG_KEY {{.CA.TSIGKeyName}}
				env RFC2136_TSIG_SECRET {{.CA.TSIGSecret}}
				env RFC2136_TSIG_ALGORITHM hmac-sha256.
			}
		}
	}
}
{{.Sites}} {
	tls {
		issuer traefik le
	}
	respond "ok"
}
`

// instance is one Caddy process of the cluster.
type instance struct {
	idx       int
	caddyfile string
	log       string
	httpsPort int
	env       []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// cluster is three Caddy processes sharing storage and one acme.json.
type cluster struct {
	ca       *acmetest.CA
	names    []string
	acmeJSON string
	insts    []*instance
}

// newCluster writes the Caddyfiles of three instances that share storage
// (a Caddyfile storage directive) and one acme.json; it starts nothing.
func newCluster(t *testing.T, ca *acmetest.CA, storage, prefix string) *cluster {
	t.Helper()
	dir := t.TempDir()
	c := &cluster{ca: ca, acmeJSON: filepath.Join(dir, "acme.json")}
	for i := range namesPerRun {
		c.names = append(c.names, fmt.Sprintf("n%02d.%s.cluster.test", i, prefix))
	}
	home := filepath.Join(dir, "home")
	env := append(os.Environ(), "HOME="+home, "XDG_DATA_HOME="+filepath.Join(home, "data"), "XDG_CONFIG_HOME="+filepath.Join(home, "config"))
	for i := range instances {
		in := &instance{
			idx:       i,
			caddyfile: filepath.Join(dir, fmt.Sprintf("Caddyfile.%d", i)),
			log:       filepath.Join(dir, fmt.Sprintf("caddy.%d.log", i)),
			httpsPort: freePort(t),
			env:       env,
		}
		var buf bytes.Buffer
		err := template.Must(template.New("").Parse(caddyfileTmpl)).Execute(&buf, map[string]any{
			"Storage":   storage,
			"HTTPPort":  freePort(t),
			"HTTPSPort": in.httpsPort,
			"Log":       in.log,
			"CA":        ca,
			"AcmeJSON":  c.acmeJSON,
			"Sites":     strings.Join(c.names, ", "),
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(in.caddyfile, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		c.insts = append(c.insts, in)
	}
	t.Cleanup(func() {
		for _, in := range c.insts {
			if t.Failed() {
				// A goroutine dump of each instance shows where a stuck one waits.
				in.quit()
			}
			in.kill()
			if t.Failed() {
				t.Logf("instance %d log (tail):\n%s", in.idx, caddytest.LogTail(in.log, 15))
				t.Logf("instance %d stderr (tail):\n%s", in.idx, caddytest.LogTail(in.log+".stderr", 400))
			}
		}
	})
	return c
}

// start runs the instance's Caddy process.
func (in *instance) start(t *testing.T, bin string) {
	t.Helper()
	in.mu.Lock()
	defer in.mu.Unlock()
	cmd := exec.Command(bin, "run", "--config", in.caddyfile, "--adapter", "caddyfile")
	cmd.Env = append(in.env, "GOTRACEBACK=all")
	out, err := os.OpenFile(in.log+".stderr", os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		t.Fatalf("starting instance %d: %v", in.idx, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		out.Close()
		close(done)
	}()
	in.cmd, in.done = cmd, done
}

// quit sends SIGABRT to the instance's process, if running, so that the Go
// runtime writes every goroutine's stack to its stderr (Caddy traps
// SIGQUIT and exits quietly), and waits (at most 5 s) for it to exit.
func (in *instance) quit() {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.cmd == nil {
		return
	}
	_ = in.cmd.Process.Signal(syscall.SIGABRT)
	select {
	case <-in.done:
	case <-time.After(5 * time.Second):
	}
}

// kill sends SIGKILL to the instance's process, if running, and waits (at
// most 10 s) for it to exit.
func (in *instance) kill() {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.cmd == nil {
		return
	}
	_ = in.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-in.done:
	case <-time.After(10 * time.Second):
	}
	in.cmd = nil
}

// handshake makes a TLS handshake with the instance for name and returns
// the leaf, verified against roots.
func (in *instance) handshake(name string, roots *x509.CertPool) (*x509.Certificate, error) {
	st, err := caddytest.DialTLS(context.Background(), net.JoinHostPort("127.0.0.1", strconv.Itoa(in.httpsPort)),
		&tls.Config{ServerName: name, RootCAs: roots, MinVersion: tls.VersionTLS12})
	if err != nil {
		return nil, err
	}
	return st.PeerCertificates[0], nil
}

// waitServedBy waits until every name is served by every instance in insts
// and checks that all of them serve the same certificate for a name.
func (c *cluster) waitServedBy(t *testing.T, insts ...*instance) {
	t.Helper()
	roots := c.ca.RootPool()
	for _, name := range c.names {
		var serial string
		for _, in := range insts {
			var leaf *x509.Certificate
			var lastErr error
			waitFor(t, fmt.Sprintf("instance %d to serve %s", in.idx, name), serveTimeout, func() bool {
				leaf, lastErr = in.handshake(name, roots)
				return lastErr == nil
			})
			if serial == "" {
				serial = leaf.SerialNumber.String()
			} else if leaf.SerialNumber.String() != serial && !c.lockStolen(name) {
				t.Errorf("%s: instance %d serves serial %s, another instance %s", name, in.idx, leaf.SerialNumber, serial)
			}
		}
	}
}

// logEvents returns the identifiers of the log lines whose msg is msg.
func logEvents(path, msg string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		var e struct {
			Msg        string `json:"msg"`
			Identifier string `json:"identifier"`
			Domain     string `json:"domain"`
		}
		if json.Unmarshal([]byte(line), &e) != nil || e.Msg != msg {
			continue
		}
		if e.Identifier != "" {
			out = append(out, e.Identifier)
		} else if e.Domain != "" {
			out = append(out, e.Domain)
		}
	}
	return out
}

// lockStolen reports whether an instance logged that the storage lock it
// held for name was gone when it released it: certmagic's file storage
// takes over a lock whose holder has not refreshed it for 10 s (a holder
// starved of CPU on a loaded machine), and then two instances order the
// name. That is certmagic's documented stale-lock rule, not a fault of the
// plugin, so the checks below allow a second order (and a second serial)
// for such a name, and only for such a name: the log event is the evidence.
func (c *cluster) lockStolen(name string) bool {
	for _, in := range c.insts {
		if slices.Contains(logEvents(in.log, "unable to unlock"), name) {
			return true
		}
	}
	return false
}

// acmeJSONNames returns the names of resolver le's certificates in the
// shared acme.json and how many entries it has.
func (c *cluster) acmeJSONNames() ([]string, int) {
	f, err := acmejson.Load(c.acmeJSON)
	if err != nil || f["le"] == nil {
		return nil, 0
	}
	var names []string
	for _, cert := range f["le"].Certificates {
		names = append(names, cert.Names()...)
	}
	return names, len(f["le"].Certificates)
}

// backends are the shared storages under test: a Caddyfile storage
// directive for a test-unique location.
var backends = []struct {
	name    string
	storage func(t *testing.T, prefix string) string
}{
	{"redis", func(t *testing.T, prefix string) string {
		return fmt.Sprintf("storage redis {\n\t\taddress %s\n\t\tkey_prefix %s\n\t}", startRedis(t), prefix)
	}},
	{"file_system", func(t *testing.T, _ string) string {
		return "storage file_system " + filepath.Join(t.TempDir(), "shared")
	}},
}

// TestCluster runs three instances on one shared storage and one shared
// acme.json: every name is ordered exactly once at the CA, every instance
// serves every name (the same certificate), and all of them end up in the
// acme.json, each once, mirrored by whichever instance obtained it.
func TestCluster(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skipf("skipped: the cluster test runs only on linux (redis-server, SIGKILL), not GOOS=%s", runtime.GOOS)
	}
	bin := caddyBinary(t)
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			ca := acmetest.Start(t)
			c := newCluster(t, ca, be.storage(t, "steady"), "steady")
			for _, in := range c.insts {
				in.start(t, bin)
			}
			c.waitServedBy(t, c.insts...)
			stolen := 0
			for _, name := range c.names {
				want := 1
				if c.lockStolen(name) {
					want, stolen = 2, stolen+1
					t.Logf("%s: a lock was taken over as stale; a second order is allowed", name)
				}
				if got := ca.OrdersFor(name); got < 1 || got > want {
					t.Errorf("%s ordered %d times at the CA, want 1..%d", name, got, want)
				}
			}
			if got := ca.Orders(); got < namesPerRun || got > namesPerRun+stolen {
				t.Errorf("%d orders at the CA, want %d..%d", got, namesPerRun, namesPerRun+stolen)
			}
			obtainedBy := map[int]int{}
			var obtained []string
			for _, in := range c.insts {
				ids := logEvents(in.log, "certificate obtained successfully")
				obtainedBy[in.idx] = len(ids)
				obtained = append(obtained, ids...)
			}
			slices.Sort(obtained)
			// A name whose lock was taken over as stale is obtained twice.
			obtained = slices.CompactFunc(obtained, func(a, b string) bool { return a == b && c.lockStolen(a) })
			if want := slices.Sorted(slices.Values(c.names)); !slices.Equal(obtained, want) {
				t.Errorf("certificates obtained across the instances' logs: %v, want each name once: %v", obtained, want)
			}
			t.Logf("certificates obtained per instance: %v", obtainedBy)

			// Mirror: each instance mirrors what it obtained into the shared
			// file (acmejson.Update holds an flock), so all 20 end in it.
			var inFile []string
			var entries int
			waitFor(t, "all names in the shared acme.json", 30*time.Second, func() bool {
				inFile, entries = c.acmeJSONNames()
				return len(inFile) == namesPerRun
			})
			if entries != namesPerRun {
				t.Errorf("shared acme.json has %d entries, want %d", entries, namesPerRun)
			}
			slices.Sort(inFile)
			if want := slices.Sorted(slices.Values(c.names)); !slices.Equal(inFile, want) {
				t.Errorf("shared acme.json names: %v, want %v", inFile, want)
			}
		})
	}
}

// TestClusterKillMidIssuance SIGKILLs one instance while it is obtaining
// certificates: the two others take over its names once its locks expire,
// every name is served, and no name is ordered twice except one whose
// order was in flight in the killed instance (its result died with it).
// Restarted, the killed instance serves every name without a new order.
func TestClusterKillMidIssuance(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skipf("skipped: the cluster test runs only on linux (redis-server, SIGKILL), not GOOS=%s", runtime.GOOS)
	}
	bin := caddyBinary(t)
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			ca := acmetest.Start(t)
			c := newCluster(t, ca, be.storage(t, "kill"), "kill")
			for _, in := range c.insts {
				in.start(t, bin)
			}
			// The victim is whichever instance is first seen with an order in
			// flight: which instance wins each name's lock is up to the race.
			var victim *instance
			var survivors []*instance
			// A name is in flight while its instance holds the name's storage
			// lock: between certmagic's "lock acquired" and "releasing lock".
			waitFor(t, "an instance to be obtaining a certificate", 60*time.Second, func() bool {
				for _, in := range c.insts {
					started := logEvents(in.log, "lock acquired")
					done := logEvents(in.log, "releasing lock")
					if len(started) > len(done) {
						victim = in
						return true
					}
				}
				return false
			})
			victim.kill()
			for _, in := range c.insts {
				if in != victim {
					survivors = append(survivors, in)
				}
			}
			started := logEvents(victim.log, "lock acquired")
			released := logEvents(victim.log, "releasing lock")
			done := logEvents(victim.log, "certificate obtained successfully")
			var inFlight []string
			for _, n := range started {
				if !slices.Contains(released, n) {
					inFlight = append(inFlight, n)
				}
			}
			t.Logf("instance %d killed with %d certificate(s) obtained and %d in flight: %v", victim.idx, len(done), len(inFlight), inFlight)

			c.waitServedBy(t, survivors...)
			total := 0
			for _, name := range c.names {
				got := ca.OrdersFor(name)
				total += got
				want := 1
				if slices.Contains(inFlight, name) {
					want = 2 // the killed instance's order, then the survivor's
				} else if c.lockStolen(name) {
					want = 2
					inFlight = append(inFlight, name) // counted in the total below
					t.Logf("%s: a lock was taken over as stale; a second order is allowed", name)
				}
				if got < 1 || got > want {
					t.Errorf("%s ordered %d times at the CA, want 1..%d", name, got, want)
				}
			}
			if max := namesPerRun + len(inFlight); total > max {
				t.Errorf("%d orders at the CA, want at most %d", total, max)
			}

			// Certificates the survivors obtained are all mirrored into the
			// shared acme.json; so is every one the victim logged mirroring.
			var mirroredBy []string
			for _, in := range survivors {
				mirroredBy = append(mirroredBy, logEvents(in.log, "certificate obtained successfully")...)
			}
			mirroredBy = append(mirroredBy, logEvents(victim.log, "certificate mirrored into acme.json")...)
			waitFor(t, "the obtained certificates in the shared acme.json", 30*time.Second, func() bool {
				inFile, _ := c.acmeJSONNames()
				for _, n := range mirroredBy {
					if !slices.Contains(inFile, n) {
						return false
					}
				}
				return true
			})

			// The restarted instance loads everything from the shared storage.
			before := ca.Orders()
			victim.start(t, bin)
			c.waitServedBy(t, c.insts...)
			if got := ca.Orders(); got != before {
				t.Errorf("orders went from %d to %d after restarting instance %d", before, got, victim.idx)
			}
		})
	}
}
