// The tests of this package link every lego provider; under -race that
// costs minutes of compilation for no gain (the providers are lego's code,
// the bridge's own concurrency lives in ./solver, tested with -race).
// .ci/run runs them without -race.

//go:build !race

package lego

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	legolog "github.com/go-acme/lego/v5/log"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/ac075510/caddy-traefik-acme/dnsbridge"
)

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// captureLego sends lego's own log output to a buffer for the test.
func captureLego(t *testing.T) *syncBuffer {
	t.Helper()
	buf := &syncBuffer{}
	prev := legolog.Default()
	legolog.SetDefault(slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() { legolog.SetDefault(prev) })
	return buf
}

// mapLookup is a LookupFunc over a map, so tests never read the process
// environment.
func mapLookup(m map[string]string) dnsbridge.LookupFunc {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// dummyEnv gives every credential variable of p a value shaped for its
// name (URLs point at a closed loopback port), and returns which of the
// values are secrets that must never be shown.
func dummyEnv(t *testing.T, p *provider) (env map[string]string, secretVals []string) {
	t.Helper()
	env = map[string]string{}
	dir := t.TempDir()
	for i, name := range p.credentials {
		if !envNameRE.MatchString(name) {
			continue
		}
		upper := name
		if v, ok := dummyValues[name]; ok {
			if v != "" {
				env[name] = strings.ReplaceAll(v, "DIR", dir)
			}
			continue
		}
		secret := fmt.Sprintf("Zq%02dsecret%sX", i, strings.ToLower(strings.ReplaceAll(name, "_", "")))
		var v string
		switch {
		case strings.HasSuffix(upper, "NAMESERVER"):
			v = "127.0.0.1:1"
		case regexp.MustCompile(`(URL|ENDPOINT|API_BASE|_HOST|SERVER|ADDRESS|_BASE)$`).MatchString(upper):
			v = "http://127.0.0.1:1/"
		case strings.HasSuffix(upper, "EMAIL"):
			v = "acme@example.test"
		case strings.HasSuffix(upper, "_FILE") || strings.HasSuffix(upper, "_PATH") || strings.HasSuffix(upper, "STORAGE_PATH"):
			f := filepath.Join(dir, strings.ToLower(name))
			if err := os.WriteFile(f, []byte("{}"), 0o600); err != nil {
				t.Fatal(err)
			}
			v = f
		case strings.HasSuffix(upper, "_PORT"):
			v = "8080"
		case strings.HasSuffix(upper, "REGION"), strings.HasSuffix(upper, "_ZONE"), strings.HasSuffix(upper, "ZONE_NAME"):
			v = "zone-a"
		case strings.Contains(upper, "SDK_LOAD_CONFIG"), strings.Contains(upper, "WAIT_FOR"):
			v = "false"
		default:
			v = secret
			secretVals = append(secretVals, secret)
		}
		env[name] = v
	}
	for k, v := range dummyExtra[p.code] {
		env[k] = strings.ReplaceAll(v, "DIR", dir)
		if strings.HasPrefix(v, "Zq") {
			secretVals = append(secretVals, v)
		}
	}
	if p.code == "hyperone" {
		passport := `{"subject_id":"/iam/project/proj1/sa/sa1","certificate_id":"c1","issuer":"https://api.hyperone.com/v2/iam/project/proj1/sa/sa1","private_key":"ZqHyperoneSecretX"}`
		if err := os.WriteFile(filepath.Join(dir, "passport.json"), []byte(passport), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return env, secretVals
}

var envNameRE = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

// dummyValues are values of a given shape for variables whose provider
// parses them ("" leaves the variable unset: alternative credential forms
// that cannot be combined).
var dummyValues = map[string]string{
	"ACME_DNS_STORAGE_BASE_URL":    "",
	"DNSHOMEDE_CREDENTIALS":        "example.test:ZqPairSecretX",
	"HURRICANE_TOKENS":             "example.test:ZqPairSecretX",
	"MYADDR_PRIVATE_KEYS_MAPPING":  "example.test:ZqPairSecretX",
	"SELFHOSTDEV2_API_KEYS":        "example.test:ZqPairSecretX",
	"SELFHOSTDEV2_RECORDS_MAPPING": "example.test:123",
	"SYSE_CREDENTIALS":             "example.test:ZqPairSecretX",
	"SELFHOSTDE_RECORDS_MAPPING":   "example.test:123:456",
	"GCE_SERVICE_ACCOUNT":          "",
	"GCE_SERVICE_ACCOUNT_FILE":     "",
	"OVH_CLIENT_ID":                "",
	"OVH_CLIENT_SECRET":            "",
	"OVH_ACCESS_TOKEN":             "",
	"OVH_ENDPOINT":                 "ovh-eu",
	"AWS_PROFILE":                  "",
	"AWS_SDK_LOAD_CONFIG":          "",
	"SCW_SECRET_KEY":               "11111111-2222-3333-4444-555555555555",
	"YANDEX360_ORG_ID":             "123456",
}

// dummyExtra adds variables lego's metadata does not list as credentials.
var dummyExtra = map[string]map[string]string{
	"exec":     {"EXEC_PATH": "/bin/true"},
	"webglobe": {"WEBGLOBE_TOKEN": "ZqWebglobeTokenX"},
	"hyperone": {"HYPERONE_PASSPORT_LOCATION": "DIR/passport.json"},
	"gcloud":   {"GCE_ACCESS_TOKEN": "ZqGceAccessTokenX"},
}

// TestEveryCode builds every provider of the bridge from lego's own
// variable names with dummy values: no network is needed, nothing panics,
// and no secret value appears in an error or a log line.
func TestEveryCode(t *testing.T) {
	if len(providers) < 190 {
		t.Fatalf("the bridge serves %d providers, want at least 190", len(providers))
	}
	logs := captureLego(t)
	core, zlogs := observer.New(zap.DebugLevel)
	logger := zap.New(core)

	var failed []string
	for i := range providers {
		p := &providers[i]
		t.Run(p.code, func(t *testing.T) {
			env, secretVals := dummyEnv(t, p)
			s, err := NewSolver(p.code, dnsbridge.SolverOptions{Options: dnsbridge.Options{Lookup: mapLookup(nil), Overrides: env, Logger: logger}})
			shown := logs.String()
			for _, e := range zlogs.All() {
				shown += e.Message + fmt.Sprint(e.ContextMap())
			}
			if err != nil {
				shown += err.Error()
				if !strings.HasPrefix(err.Error(), p.code+":") {
					t.Errorf("error not prefixed with the code: %v", err)
				}
				if expectedBuildFailure[p.code] == "" || !strings.Contains(err.Error(), expectedBuildFailure[p.code]) {
					failed = append(failed, p.code)
					t.Errorf("building with dummy credentials: %v", err)
				}
			} else if s.Code() != p.code {
				t.Errorf("Code() = %q", s.Code())
			}
			for _, v := range secretVals {
				if strings.Contains(shown, v) {
					t.Errorf("secret value of a credential variable shown: %q in %q", v, shown)
				}
			}
		})
	}
	if len(failed) > 0 {
		t.Logf("failed: %s", strings.Join(failed, " "))
	}
}

// expectedBuildFailure lists providers that refuse dummy credentials for
// a reason unrelated to the bridge (they validate the value's shape), with
// a fragment of lego's message.
var expectedBuildFailure = map[string]string{
	// The constructor asks a public service for the caller's IP address.
	"namecheap": "dynamicdns.park-your-domain.com",
	// The constructor logs in to Rackspace's identity API.
	"rackspace": "unable to communicate with the API server",
	// lego keeps the code but the service is gone.
	"stackpath": "provider has shut down",
}

// TestMissingVariables: with nothing set, a provider either needs nothing
// or fails with lego's message prefixed with the code.
func TestMissingVariables(t *testing.T) {
	captureLego(t)
	for i := range providers {
		p := &providers[i]
		if len(p.credentials) == 0 {
			continue
		}
		t.Run(p.code, func(t *testing.T) {
			_, err := NewSolver(p.code, dnsbridge.SolverOptions{Options: dnsbridge.Options{Lookup: mapLookup(nil)}})
			if err == nil {
				return // the provider has usable defaults (SDK credential chains, files)
			}
			if !strings.HasPrefix(err.Error(), p.code+":") {
				t.Errorf("error not prefixed with the code: %v", err)
			}
		})
	}
}

func TestMissingVariableMessage(t *testing.T) {
	captureLego(t)
	_, err := NewSolver("infomaniak", dnsbridge.SolverOptions{Options: dnsbridge.Options{Lookup: mapLookup(nil)}})
	if err == nil || err.Error() != "infomaniak: some credentials information are missing: INFOMANIAK_ACCESS_TOKEN" {
		t.Fatalf("got %v", err)
	}
}

var _ = time.Second
