package dnsbridge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// unregisterBridgeForTest removes the linked bridge for the duration of
// the test (none is linked in this module's tests, but be explicit).
func unregisterBridgeForTest(t *testing.T) {
	t.Helper()
	bridgeMu.Lock()
	saved, savedCodes := bridge, bridgeCodes
	bridge, bridgeCodes = nil, nil
	bridgeMu.Unlock()
	t.Cleanup(func() {
		bridgeMu.Lock()
		bridge, bridgeCodes = saved, savedCodes
		bridgeMu.Unlock()
	})
}

// fakeSolver records which code the fake bridge built.
type fakeSolver struct{ code string }

func (fakeSolver) Present(context.Context, ChallengeInfo) error { return nil }
func (fakeSolver) Wait(context.Context, ChallengeInfo) error    { return nil }
func (fakeSolver) CleanUp(context.Context, ChallengeInfo) error { return nil }

// registerFakeBridge links a bridge that serves cloudflare (needing
// CF_API_EMAIL+CF_API_KEY or CF_DNS_API_TOKEN, like lego), infomaniak and
// exec.
func registerFakeBridge(t *testing.T) {
	t.Helper()
	unregisterBridgeForTest(t)
	RegisterBridge(Bridge{
		Module: BridgeModule,
		Specs: []BridgeSpec{
			{Code: "cloudflare", Name: "Cloudflare"},
			{Code: "infomaniak", Name: "Infomaniak"},
			{Code: "exec", Name: "External program"},
		},
		New: func(code string, opts SolverOptions) (Solver, error) {
			get := func(k string) string {
				if v, ok := opts.Overrides[k]; ok {
					return v
				}
				return ""
			}
			if code == "cloudflare" && get("CF_DNS_API_TOKEN") == "" && (get("CF_API_EMAIL") == "" || get("CF_API_KEY") == "") {
				return nil, fmt.Errorf("cloudflare: some credentials information are missing: CLOUDFLARE_EMAIL,CLOUDFLARE_API_KEY")
			}
			return fakeSolver{code: code}, nil
		},
	})
}

func TestSelect(t *testing.T) {
	token := map[string]string{"CF_DNS_API_TOKEN": "tok-123456"}
	global := map[string]string{"CF_API_EMAIL": "a@example.test", "CF_API_KEY": "key-123456"}
	with := func(m map[string]string, k, v string) map[string]string {
		out := map[string]string{k: v}
		for a, b := range m {
			out[a] = b
		}
		return out
	}
	for _, tc := range []struct {
		desc    string
		bridge  bool
		code    string
		env     map[string]string
		want    Backend
		wantErr []string
		noErr   []string
	}{
		{desc: "libdns keeps a token", bridge: true, code: "cloudflare", env: token, want: BackendLibdns},
		{desc: "global key goes to lego", bridge: true, code: "cloudflare", env: global, want: BackendLego},
		{desc: "missing credentials: lego's message", bridge: true, code: "cloudflare",
			wantErr: []string{"cloudflare: some credentials information are missing"}},
		{desc: "lego-only code", bridge: true, code: "Infomaniak", want: BackendLego},
		{desc: "native exec stays native", bridge: true, code: "exec", env: map[string]string{"EXEC_PATH": "/bin/true"}, want: BackendNative},
		{desc: "force lego", bridge: true, code: "cloudflare", env: with(token, BackendEnv, "lego"), want: BackendLego},
		{desc: "force libdns", bridge: true, code: "cloudflare", env: with(global, BackendEnv, "libdns"),
			wantErr: []string{"global API keys"}, noErr: []string{"key-123456"}},
		{desc: "bad backend value", bridge: true, code: "cloudflare", env: with(token, BackendEnv, "bind"),
			wantErr: []string{BackendEnv, "auto, lego or libdns"}},
		{desc: "force lego for a code lego lacks", bridge: true, code: "nosuchdns", env: map[string]string{BackendEnv: "lego"},
			wantErr: []string{"nosuchdns", "not available"}},

		{desc: "no bridge: token still libdns", code: "cloudflare", env: token, want: BackendLibdns},
		{desc: "no bridge: global key names the bridge", code: "cloudflare", env: global,
			wantErr: []string{"global API keys", BridgeBuildHint}, noErr: []string{"key-123456"}},
		{desc: "no bridge: lego-only code names the bridge", code: "infomaniak",
			wantErr: []string{"infomaniak:", BridgeBuildHint}, noErr: []string{"unsupported"}},
		{desc: "no bridge: force lego names the bridge", code: "cloudflare", env: with(token, BackendEnv, "lego"),
			wantErr: []string{BridgeBuildHint}},
		{desc: "left out", bridge: true, code: "manual", wantErr: []string{"manual:", "not in this build", "waits for Enter"}},
		{desc: "removed", code: "dnspod", wantErr: []string{"dnspod:", "removed from lego", "tencentcloud"}},
		{desc: "unknown", code: "nosuchdns", wantErr: []string{"unsupported DNS provider"}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			if tc.bridge {
				registerFakeBridge(t)
			} else {
				unregisterBridgeForTest(t)
			}
			sel, err := Select(tc.code, SolverOptions{Options: Options{Overrides: tc.env}})
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatalf("Select = %+v, want an error", sel)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				for _, w := range tc.noErr {
					if strings.Contains(err.Error(), w) {
						t.Errorf("error %q contains %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Select: %v", err)
			}
			if sel.Backend != tc.want {
				t.Fatalf("backend %q (%s), want %q", sel.Backend, sel.Reason, tc.want)
			}
			switch sel.Backend {
			case BackendLego:
				if fs, ok := sel.Solver.(fakeSolver); !ok || fs.code != strings.ToLower(tc.code) || sel.Provider != nil {
					t.Errorf("lego selection = %+v", sel)
				}
			default:
				if sel.Provider == nil || sel.Solver != nil {
					t.Errorf("libdns selection = %+v", sel)
				}
			}
			if sel.Reason == "" {
				t.Errorf("no reason given")
			}
		})
	}
}

func TestRegisterBridgeTwicePanics(t *testing.T) {
	registerFakeBridge(t)
	defer func() {
		if recover() == nil {
			t.Fatal("second RegisterBridge did not panic")
		}
	}()
	RegisterBridge(Bridge{Module: "x", Specs: []BridgeSpec{{Code: "x"}}, New: func(string, SolverOptions) (Solver, error) {
		return nil, errors.New("x")
	}})
}

// TestSeedCodesExplained: every code of the provider table of the Traefik
// page we implement is served by this build (libdns/native) or fails with
// an error saying why; none is "unsupported".
func TestSeedCodesExplained(t *testing.T) {
	unregisterBridgeForTest(t)
	for _, code := range seedCodes(t) {
		_, err := Select(code, SolverOptions{})
		if err == nil {
			continue // cannot happen without credentials, but would be fine
		}
		if errors.Is(err, ErrUnsupportedProvider) || strings.Contains(err.Error(), "unsupported") {
			t.Errorf("%s: %v", code, err)
		}
		if !strings.Contains(err.Error(), code) {
			t.Errorf("%s: error does not name the code: %v", code, err)
		}
	}
}
