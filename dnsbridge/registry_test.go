package dnsbridge

import (
	"errors"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	envNameRE  = regexp.MustCompile(`^[A-Z][A-Z0-9_]*[A-Z0-9]$`)
	secretName = regexp.MustCompile(`SECRET|PASSWORD|TOKEN|_KEY$|KEY_ID$`)
)

// TestRegistry walks the provider table and enforces the same shape on
// every entry, the job lego's code generator does for lego.
func TestRegistry(t *testing.T) {
	isolateAWS(t) // route53 loads the AWS SDK configuration in New.

	all := specs()
	if len(all) < 25 {
		t.Fatalf("registry has %d codes, want at least 25", len(all))
	}
	codes := Codes()
	if !slices.IsSorted(codes) {
		t.Errorf("Codes() is not sorted: %v", codes)
	}

	for _, spec := range all {
		t.Run(spec.Code, func(t *testing.T) {
			if spec.Code == "" || spec.Code != strings.ToLower(spec.Code) {
				t.Errorf("code %q is not lower-case", spec.Code)
			}
			for _, name := range append([]string{spec.Code}, spec.Aliases...) {
				if name != strings.ToLower(name) {
					t.Errorf("alias %q is not lower-case", name)
				}
				got, ok := Lookup(name)
				if !ok || got.Code != spec.Code {
					t.Errorf("Lookup(%q) = %q, %v; want %q", name, got.Code, ok, spec.Code)
				}
				if !slices.Contains(codes, name) {
					t.Errorf("Codes() lacks %q", name)
				}
			}
			if len(spec.Namespaces) == 0 || spec.Namespace != spec.Namespaces[0] {
				t.Fatalf("namespace %q / %v: want a primary namespace first in Namespaces", spec.Namespace, spec.Namespaces)
			}
			for _, ns := range spec.Namespaces {
				if ns != strings.ToUpper(ns) || !strings.HasSuffix(ns, "_") {
					t.Errorf("namespace %q must be upper-case and end with _", ns)
				}
			}
			if spec.Module == "" && spec.Code != "exec" && spec.Code != "httpreq" && spec.Code != "vultr" {
				t.Errorf("no libdns module recorded")
			}
			if spec.Defaults.PropagationTimeout <= 0 || spec.Defaults.PollingInterval <= 0 {
				t.Errorf("defaults %+v lack a propagation timeout or polling interval", spec.Defaults)
			}

			seen := map[string]bool{}
			var all []string
			for _, g := range spec.Required {
				if len(g) == 0 {
					t.Errorf("empty requirement group")
				}
				all = append(all, g...)
			}
			all = append(all, spec.Optional...)
			for _, name := range all {
				if !envNameRE.MatchString(name) {
					t.Errorf("env name %q is not an upper-case identifier", name)
				}
				if !slices.ContainsFunc(spec.Namespaces, func(ns string) bool { return strings.HasPrefix(name, ns) }) {
					t.Errorf("env name %q is outside the namespaces %v", name, spec.Namespaces)
				}
				if seen[name] {
					t.Errorf("env name %q listed twice", name)
				}
				seen[name] = true
			}

			// Empty environment: one error, prefixed by the code, naming
			// every required variable with its alternatives.
			_, _, err := New(spec.Code, Options{Lookup: mapLookup(nil)})
			if len(spec.Required) == 0 {
				if err != nil {
					t.Errorf("New with empty env: %v (no variable is required)", err)
				}
			} else {
				if err == nil {
					t.Fatalf("New with empty env succeeded")
				}
				if !strings.HasPrefix(err.Error(), spec.Code+": ") {
					t.Errorf("error %q lacks the %q prefix", err, spec.Code+": ")
				}
				if !errors.Is(err, ErrMissingCredentials) {
					t.Errorf("error %q does not wrap ErrMissingCredentials", err)
				}
				for _, g := range spec.Required {
					for _, name := range g {
						if !strings.Contains(err.Error(), name) {
							t.Errorf("error %q does not name %s", err, name)
						}
					}
				}
			}

			// All required variables (first alternatives) set: success.
			env := map[string]string{}
			for _, g := range spec.Required {
				env[g[0]] = validDummy(t, g[0])
			}
			prov, timing, err := New(spec.Code, Options{Lookup: mapLookup(env)})
			if err != nil {
				t.Fatalf("New with required env: %v", err)
			}
			if prov == nil {
				t.Fatalf("New returned a nil provider")
			}
			if timing != (Timing{}) {
				t.Errorf("timing = %+v with no tuning variable set, want zero", timing)
			}

			// Every documented tuning variable parses integer seconds and
			// rejects anything else with an error naming it.
			for _, tv := range []struct {
				suffix string
				get    func(Timing) time.Duration
			}{
				{"TTL", func(t Timing) time.Duration { return t.TTL }},
				{"PROPAGATION_TIMEOUT", func(t Timing) time.Duration { return t.PropagationTimeout }},
				{"POLLING_INTERVAL", func(t Timing) time.Duration { return t.PollingInterval }},
			} {
				for _, ns := range spec.Namespaces {
					name := ns + tv.suffix
					if !slices.Contains(spec.Optional, name) {
						continue
					}
					good := clone(env)
					good[name] = "37"
					_, tm, err := New(spec.Code, Options{Lookup: mapLookup(good)})
					if err != nil {
						t.Errorf("%s=37: %v", name, err)
					} else if got := tv.get(tm); got != 37*time.Second {
						t.Errorf("%s=37 gave %v, want 37s", name, got)
					}

					bad := clone(env)
					bad[name] = "2m"
					_, _, err = New(spec.Code, Options{Lookup: mapLookup(bad)})
					if err == nil || !strings.Contains(err.Error(), name) || !strings.HasPrefix(err.Error(), spec.Code+": ") {
						t.Errorf("%s=2m: error %v, want one prefixed %q naming %s", name, err, spec.Code, name)
					}
				}
			}
		})
	}
}

// TestSecretsNeverInErrors sets every required variable to a recognisable
// secret, breaks the configuration in two ways (a missing requirement, a
// malformed tuning variable) and greps the error text for the secrets.
func TestSecretsNeverInErrors(t *testing.T) {
	isolateAWS(t)
	for _, spec := range specs() {
		t.Run(spec.Code, func(t *testing.T) {
			env := map[string]string{}
			var secrets []string
			for i, g := range spec.Required {
				v := validDummy(t, g[0])
				if strings.HasPrefix(v, "dummy-") {
					v = "s3cr3t-" + spec.Code + "-" + string(rune('a'+i)) + "-VALUE"
					secrets = append(secrets, v)
				}
				env[g[0]] = v
			}
			for i, o := range spec.Optional {
				if secretName.MatchString(o) {
					v := "s3cr3t-" + spec.Code + "-opt" + strconv.Itoa(i) + "-VALUE"
					secrets = append(secrets, v)
					env[o] = v
				}
			}
			var broken []map[string]string
			if len(spec.Required) > 1 {
				m := clone(env)
				delete(m, spec.Required[len(spec.Required)-1][0])
				broken = append(broken, m)
			}
			for _, o := range spec.Optional {
				if strings.HasSuffix(o, "_TTL") || strings.HasSuffix(o, "PROPAGATION_TIMEOUT") {
					m := clone(env)
					m[o] = "ten"
					broken = append(broken, m)
					break
				}
			}
			if len(broken) == 0 {
				t.Fatalf("%s has no way to fail with secrets set; add a tuning variable or a second requirement", spec.Code)
			}
			for _, m := range broken {
				_, _, err := New(spec.Code, Options{Lookup: mapLookup(m)})
				if err == nil {
					t.Fatalf("New succeeded with a broken configuration")
				}
				for _, s := range secrets {
					if strings.Contains(err.Error(), s) {
						t.Errorf("error %q contains the secret %q", err, s)
					}
				}
			}
		})
	}
}

func TestUnsupportedCode(t *testing.T) {
	unregisterBridgeForTest(t)
	for _, tc := range []struct {
		desc, code, want string
		sentinel         error
	}{
		{desc: "unknown", code: "nosuchdns", want: `unsupported DNS provider "nosuchdns"`, sentinel: ErrUnsupportedProvider},
		{desc: "manual is explained", code: "manual", want: "waits for Enter", sentinel: ErrNotInThisBuild},
		{desc: "lego-only gandi names the bridge", code: "gandi", want: "--with " + BridgeModule, sentinel: ErrNotInThisBuild},
		{desc: "removed code is explained", code: "dnspod", want: "removed from lego", sentinel: ErrNotInThisBuild},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			_, _, err := New(tc.code, Options{})
			if !errors.Is(err, tc.sentinel) {
				t.Fatalf("error %v does not wrap %v", err, tc.sentinel)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
			if tc.sentinel != ErrUnsupportedProvider {
				return
			}
			for _, c := range Codes() {
				if !strings.Contains(err.Error(), c) {
					t.Errorf("error does not list supported code %q", c)
				}
			}
		})
	}
}

func TestAliasesAndCase(t *testing.T) {
	for _, tc := range []struct {
		desc, code, wantPrefix string
	}{
		{desc: "alias keeps its own name in errors", code: "dnsupdate", wantPrefix: "dnsupdate: "},
		{desc: "acmedns alias", code: "acmedns", wantPrefix: "acmedns: "},
		{desc: "azure alias", code: "azure", wantPrefix: "azure: "},
		{desc: "linodev4 alias", code: "linodev4", wantPrefix: "linodev4: "},
		{desc: "upper case and spaces", code: " Cloudflare ", wantPrefix: "cloudflare: "},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			_, _, err := New(tc.code, Options{})
			if err == nil || !strings.HasPrefix(err.Error(), tc.wantPrefix) {
				t.Errorf("New(%q) error = %v, want prefix %q", tc.code, err, tc.wantPrefix)
			}
		})
	}
}

func TestTimingWithDefaults(t *testing.T) {
	spec, _ := Lookup("cloudflare")
	got := Timing{PollingInterval: time.Second}.WithDefaults(spec.Defaults)
	want := Timing{TTL: 120 * time.Second, PropagationTimeout: 120 * time.Second, PollingInterval: time.Second}
	if got != want {
		t.Errorf("WithDefaults = %+v, want %+v", got, want)
	}
}

func clone(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
