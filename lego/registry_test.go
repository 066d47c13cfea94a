// The tests of this package link every lego provider; under -race that
// costs minutes of compilation for no gain (the providers are lego's code,
// the bridge's own concurrency lives in ./solver, tested with -race).
// .ci/run runs them without -race.

//go:build !race

package lego

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ac075510/caddy-traefik-acme/dnsbridge"
	"github.com/ac075510/caddy-traefik-acme/lego/internal/dnstest"
)

// TestCloudflareGlobalKeyFromFile: the credential form only lego accepts
// (CF_API_EMAIL + CF_API_KEY), the key given as CF_API_KEY_FILE, reaches
// Cloudflare's API as lego sends it, and the key appears in no error.
func TestCloudflareGlobalKeyFromFile(t *testing.T) {
	f := dnstest.Start(t)
	const key = "global-key-0123456789abcdef"
	keyFile := filepath.Join(t.TempDir(), "cf_key")
	if err := os.WriteFile(keyFile, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var (
		mu      sync.Mutex
		headers []http.Header
	)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		headers = append(headers, r.Header.Clone())
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(`{"success":false,"errors":[{"code":9103,"message":"Unknown X-Auth-Key ` + r.Header.Get("X-Auth-Key") + `"}],"messages":[],"result":null}`))
	}))
	defer api.Close()

	env := map[string]string{
		"CF_API_EMAIL":        "ops@example.test",
		"CF_API_KEY_FILE":     keyFile,
		"CLOUDFLARE_BASE_URL": api.URL,
	}
	sel, err := dnsbridge.Select("cloudflare", dnsbridge.SolverOptions{
		Options:   dnsbridge.Options{Lookup: mapLookup(env)},
		Resolvers: []string{f.Addr},
	})
	if err != nil {
		t.Fatal(err)
	}
	if sel.Backend != dnsbridge.BackendLego {
		t.Fatalf("backend %s (%s), want lego", sel.Backend, sel.Reason)
	}
	err = sel.Solver.Present(t.Context(), dnsbridge.ChallengeInfo{Domain: "www.example.test", Token: "t", KeyAuth: "t.k"})
	if err == nil {
		t.Fatal("Present succeeded against a server that refuses everything")
	}
	if strings.Contains(err.Error(), key) {
		t.Fatalf("error shows the API key: %v", err)
	}
	if !strings.HasPrefix(err.Error(), "cloudflare:") {
		t.Errorf("error not prefixed with the code: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(headers) == 0 {
		t.Fatal("lego's provider never called the API")
	}
	if got := headers[0].Get("X-Auth-Key"); got != key {
		t.Errorf("X-Auth-Key = %q, want the file's content without the newline", got)
	}
	if got := headers[0].Get("X-Auth-Email"); got != "ops@example.test" {
		t.Errorf("X-Auth-Email = %q", got)
	}
}

// TestBridgeRegistered: importing the package links the bridge into
// dnsbridge with every provider, and lego-only codes select lego.
func TestBridgeRegistered(t *testing.T) {
	b, ok := dnsbridge.LinkedBridge()
	if !ok || b.Module != dnsbridge.BridgeModule || len(b.Specs) != len(providers) {
		t.Fatalf("LinkedBridge = %+v, %v", b.Module, ok)
	}
	sel, err := dnsbridge.Select("infomaniak", dnsbridge.SolverOptions{Options: dnsbridge.Options{
		Lookup: mapLookup(map[string]string{"INFOMANIAK_ACCESS_TOKEN": "tok-" + strconv.Itoa(42)})}})
	if err != nil {
		t.Fatal(err)
	}
	if _, isLego := sel.Solver.(*Solver); sel.Backend != dnsbridge.BackendLego || !isLego {
		t.Fatalf("selection %+v", sel)
	}
	if len(Codes()) < 190 {
		t.Fatalf("%d codes, want at least 190", len(Codes()))
	}
}

// TestSeedCodesWithBridge: with the bridge linked, every code of the
// provider table of the Traefik page we implement builds a provider from
// lego's variables (dummy values), or fails with an error that names the
// code and says why (left out of this build, removed from lego); none says
// "unsupported".
func TestSeedCodesWithBridge(t *testing.T) {
	data, err := os.ReadFile("../../shared/seed/traefik-acme-docs.md")
	if err != nil {
		t.Skipf("seed page not available: %v", err)
	}
	re := regexp.MustCompile("^\\|[^|]+\\|\\s*`([a-z0-9-]+)`\\s*\\|")
	var codes []string
	for _, line := range strings.Split(string(data), "\n") {
		if m := re.FindStringSubmatch(line); m != nil {
			codes = append(codes, m[1])
		}
	}
	if len(codes) < 50 {
		t.Fatalf("found %d codes in the seed page", len(codes))
	}
	captureLego(t)
	built := 0
	for _, code := range codes {
		env := map[string]string{}
		if p, ok := byCode[code]; ok {
			env, _ = dummyEnv(t, p)
		}
		_, err := dnsbridge.Select(code, dnsbridge.SolverOptions{Options: dnsbridge.Options{Lookup: mapLookup(nil), Overrides: env}})
		if err == nil {
			built++
			continue
		}
		t.Logf("%s: %v", code, err)
		if strings.Contains(err.Error(), "unsupported") || !strings.Contains(err.Error(), code) {
			t.Errorf("%s: %v", code, err)
		}
		if _, served := byCode[code]; served && expectedBuildFailure[code] == "" {
			t.Errorf("%s: lego serves it but it did not build: %v", code, err)
		}
	}
	t.Logf("%d of %d seed codes build a provider", built, len(codes))
}
