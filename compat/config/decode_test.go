package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// decodeSrc decodes a snippet in one of the sources, without defaults:
// "yaml", "toml", "flags" (one argument per line), "env" (one entry per
// line).
func decodeSrc(t *testing.T, kind, src string) (*Static, []Warning, error) {
	t.Helper()
	var s *Static
	var w []Warning
	var err error
	switch kind {
	case "yaml":
		s, w, err = decodeYAML([]byte(src))
	case "toml":
		s, w, err = decodeTOML([]byte(src))
	case "flags":
		s, w, err = decodeArgs(lines(src))
	case "env":
		s, w, err = decodeEnv(lines(src))
	default:
		t.Fatalf("unknown source %q", kind)
	}
	if s != nil && err != nil {
		t.Fatalf("got both a value and an error: %v", err)
	}
	return s, w, err
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func mustDecode(t *testing.T, kind, src string) (*Static, []Warning) {
	t.Helper()
	s, w, err := decodeSrc(t, kind, src)
	if err != nil {
		t.Fatalf("decoding %s: %v", kind, err)
	}
	return s, w
}

func acmeOf(t *testing.T, s *Static, name string) *ACME {
	t.Helper()
	r, ok := s.CertificatesResolvers[name]
	if !ok || r.ACME == nil {
		t.Fatalf("no resolver %q; have %v", name, keys(s.CertificatesResolvers))
	}
	return r.ACME
}

func hasWarning(ws []Warning, sub string) bool {
	for _, w := range ws {
		if strings.Contains(w.String(), sub) {
			return true
		}
	}
	return false
}

func TestFieldNamesAreCaseInsensitive(t *testing.T) {
	const ca = "https://ca.example/dir"
	for _, tc := range []struct {
		desc, kind, src string
	}{
		{"yaml camel", "yaml", "certificatesResolvers: {le: {acme: {caServer: " + ca + "}}}"},
		{"yaml lower", "yaml", "certificatesresolvers: {le: {acme: {caserver: " + ca + "}}}"},
		{"yaml upper", "yaml", "CERTIFICATESRESOLVERS: {le: {ACME: {CASERVER: " + ca + "}}}"},
		{"toml mixed", "toml", "[CertificatesResolvers.le.Acme]\nCaSeRvEr = \"" + ca + "\""},
		{"flags lower", "flags", "--certificatesresolvers.le.acme.caserver=" + ca},
		{"flags upper", "flags", "--CERTIFICATESRESOLVERS.le.ACME.CASERVER=" + ca},
		{"env", "env", "TRAEFIK_CERTIFICATESRESOLVERS_LE_ACME_CASERVER=" + ca},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			s, _ := mustDecode(t, tc.kind, tc.src)
			if got := acmeOf(t, s, "le").CAServer; got != ca {
				t.Errorf("caServer = %q, want %q", got, ca)
			}
		})
	}
}

func TestMapKeysKeepCase(t *testing.T) {
	for _, tc := range []struct {
		desc, kind, src string
		want            []string
	}{
		{"yaml", "yaml", "certificatesResolvers: {LeProd: {acme: {email: a}}, leprod: {acme: {email: b}}}\nentryPoints: {WebSecure: {address: ':443'}}", []string{"LeProd", "leprod"}},
		{"toml", "toml", "[certificatesResolvers.LeProd.acme]\nemail = \"a\"", []string{"LeProd"}},
		{"flags", "flags", "--certificatesresolvers.LeProd.acme.email=a\n--entrypoints.WebSecure.address=:443", []string{"LeProd"}},
		// Flags merge spellings of one name, like paerser's tree: the
		// first in sorted order names the resolver.
		{"flags merge spellings", "flags", "--certificatesresolvers.leprod.acme.storage=x.json\n--certificatesresolvers.LeProd.acme.email=a", []string{"LeProd"}},
		{"env lower-cases", "env", "TRAEFIK_CERTIFICATESRESOLVERS_LEPROD_ACME_EMAIL=a", []string{"leprod"}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			s, _ := mustDecode(t, tc.kind, tc.src)
			if got := keys(s.CertificatesResolvers); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("resolvers = %v, want %v", got, tc.want)
			}
			if tc.desc == "flags merge spellings" {
				a := acmeOf(t, s, "LeProd")
				if a.Email != "a" || a.Storage != "x.json" {
					t.Errorf("merged resolver = %+v", a)
				}
			}
			if strings.Contains(tc.src, "WebSecure") {
				if _, ok := s.EntryPoints["WebSecure"]; !ok {
					t.Errorf("entry points = %v, want WebSecure", keys(s.EntryPoints))
				}
			}
		})
	}
}

func TestSpellingsOfOneFieldLastSortedWins(t *testing.T) {
	s, w := mustDecode(t, "yaml", "certificatesResolvers: {le: {acme: {email: first, Email: second}}}")
	// Sorted order: "Email" < "email", so "email" is applied last.
	if got := acmeOf(t, s, "le").Email; got != "first" {
		t.Errorf("email = %q, want %q", got, "first")
	}
	if !hasWarning(w, "set twice") {
		t.Errorf("no warning about the two spellings: %v", w)
	}
}

func TestAllowEmpty(t *testing.T) {
	const y = "certificatesResolvers:\n  le:\n    acme:\n      tlsChallenge: %s\n"
	for _, tc := range []struct {
		desc, kind, src string
		enabled         bool
		warn            string
	}{
		{"yaml empty map", "yaml", strings.Replace(y, "%s", "{}", 1), true, ""},
		{"yaml true", "yaml", strings.Replace(y, "%s", "true", 1), true, ""},
		{"yaml TRUE string", "yaml", strings.Replace(y, "%s", `"TRUE"`, 1), true, ""},
		{"yaml empty string", "yaml", strings.Replace(y, "%s", `""`, 1), true, ""},
		{"yaml false", "yaml", strings.Replace(y, "%s", "false", 1), false, ""},
		{"yaml other scalar", "yaml", strings.Replace(y, "%s", "web", 1), false, `"web" does not enable tlsChallenge`},
		{"yaml null is ignored like Traefik does", "yaml", strings.Replace(y, "%s", "", 1), false, "write `tlsChallenge: {}`"},
		{"yaml with options", "yaml", strings.Replace(y, "%s", "{delay: 3s}", 1), true, ""},
		{"toml empty table", "toml", "[certificatesResolvers.le.acme.tlsChallenge]", true, ""},
		{"toml true", "toml", "[certificatesResolvers.le.acme]\ntlsChallenge = true", true, ""},
		{"toml false", "toml", "[certificatesResolvers.le.acme]\ntlsChallenge = false", false, ""},
		{"flag without value", "flags", "--certificatesresolvers.le.acme.tlschallenge", true, ""},
		{"flag true", "flags", "--certificatesresolvers.le.acme.tlschallenge=true", true, ""},
		{"flag empty", "flags", "--certificatesresolvers.le.acme.tlschallenge=", true, ""},
		{"flag false", "flags", "--certificatesresolvers.le.acme.tlschallenge=false", false, ""},
		{"flag false wins over sub-keys", "flags", "--certificatesresolvers.le.acme.tlschallenge=false\n--certificatesresolvers.le.acme.tlschallenge.delay=3s", false, "disables it"},
		{"flag true with sub-keys", "flags", "--certificatesresolvers.le.acme.tlschallenge\n--certificatesresolvers.le.acme.tlschallenge.delay=3s", true, ""},
		{"env true", "env", "TRAEFIK_CERTIFICATESRESOLVERS_LE_ACME_TLSCHALLENGE=true", true, ""},
		{"env empty", "env", "TRAEFIK_CERTIFICATESRESOLVERS_LE_ACME_TLSCHALLENGE=", true, ""},
		{"env false", "env", "TRAEFIK_CERTIFICATESRESOLVERS_LE_ACME_TLSCHALLENGE=false", false, ""},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			// A second option keeps the resolver from being empty.
			src := tc.src
			switch tc.kind {
			case "yaml":
				src += "      email: a@example.com\n"
			case "toml":
				if !strings.Contains(src, "[certificatesResolvers.le.acme]") {
					src = "[certificatesResolvers.le.acme]\nemail = \"a@example.com\"\n" + src
				} else {
					src += "\nemail = \"a@example.com\""
				}
			case "flags":
				src += "\n--certificatesresolvers.le.acme.email=a@example.com"
			case "env":
				src += "\nTRAEFIK_CERTIFICATESRESOLVERS_LE_ACME_EMAIL=a@example.com"
			}
			s, w := mustDecode(t, tc.kind, src)
			a := acmeOf(t, s, "le")
			if got := a.TLSChallenge != nil; got != tc.enabled {
				t.Errorf("tlsChallenge enabled = %v, want %v", got, tc.enabled)
			}
			if tc.warn != "" && !hasWarning(w, tc.warn) {
				t.Errorf("warnings %v, want one containing %q", w, tc.warn)
			}
			if tc.warn == "" && len(w) > 0 {
				t.Errorf("unexpected warnings %v", w)
			}
		})
	}
}

func TestDurations(t *testing.T) {
	for _, tc := range []struct {
		desc, kind, src string
		want            time.Duration
		err             string
	}{
		{"yaml int is seconds", "yaml", "delayBeforeCheck: 30", 30 * time.Second, ""},
		{"yaml string int is seconds", "yaml", "delayBeforeCheck: \"30\"", 30 * time.Second, ""},
		{"yaml go duration", "yaml", "delayBeforeCheck: 1m30s", 90 * time.Second, ""},
		{"yaml milliseconds", "yaml", "delayBeforeCheck: 500ms", 500 * time.Millisecond, ""},
		{"yaml float is not a duration", "yaml", "delayBeforeCheck: 1.5", 0, `expected a duration such as 10s or 2m (a bare number is seconds), got 1.5`},
		{"yaml word", "yaml", "delayBeforeCheck: soon", 0, `certificatesResolvers.le.acme.dnsChallenge.delayBeforeCheck: expected a duration`},
		{"toml int is seconds", "toml", "delayBeforeCheck = 30", 30 * time.Second, ""},
		{"toml string", "toml", "delayBeforeCheck = \"2m\"", 2 * time.Minute, ""},
		{"flag int is seconds", "flags", "--certificatesresolvers.le.acme.dnschallenge.delaybeforecheck=30", 30 * time.Second, ""},
		{"env duration", "env", "TRAEFIK_CERTIFICATESRESOLVERS_LE_ACME_DNSCHALLENGE_DELAYBEFORECHECK=2m", 2 * time.Minute, ""},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			src := tc.src
			switch tc.kind {
			case "yaml":
				src = "certificatesResolvers: {le: {acme: {dnsChallenge: {provider: x, " + strings.Replace(src, ": ", ": ", 1) + "}}}}"
			case "toml":
				src = "[certificatesResolvers.le.acme.dnsChallenge]\n" + src
			}
			s, _, err := decodeSrc(t, tc.kind, src)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := time.Duration(acmeOf(t, s, "le").DNSChallenge.DelayBeforeCheck); got != tc.want {
				t.Errorf("delayBeforeCheck = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestIntsAndBools(t *testing.T) {
	for _, tc := range []struct {
		desc, kind, src string
		check           func(*ACME) bool
		err             string
	}{
		{"yaml int", "yaml", "certificatesDuration: 720", func(a *ACME) bool { return a.CertificatesDuration == 720 }, ""},
		{"yaml string int", "yaml", "certificatesDuration: \"720\"", func(a *ACME) bool { return a.CertificatesDuration == 720 }, ""},
		{"yaml whole float", "yaml", "certificatesDuration: 720.0", func(a *ACME) bool { return a.CertificatesDuration == 720 }, ""},
		{"yaml word", "yaml", "certificatesDuration: month", nil, `certificatesResolvers.le.acme.certificatesDuration: expected a whole number, got "month"`},
		{"yaml bool", "yaml", "caSystemCertPool: true", func(a *ACME) bool { return a.CASystemCertPool }, ""},
		{"yaml bool string", "yaml", "caSystemCertPool: \"true\"", func(a *ACME) bool { return a.CASystemCertPool }, ""},
		{"yaml bad bool", "yaml", "caSystemCertPool: yes please", nil, `expected true or false, got "yes please"`},
		{"flag bool without value", "flags", "--certificatesresolvers.le.acme.casystemcertpool", func(a *ACME) bool { return a.CASystemCertPool }, ""},
		{"flag bool false", "flags", "--certificatesresolvers.le.acme.casystemcertpool=false", func(a *ACME) bool { return !a.CASystemCertPool }, ""},
		{"flag bool 1", "flags", "--certificatesresolvers.le.acme.casystemcertpool=1", func(a *ACME) bool { return a.CASystemCertPool }, ""},
		{"env bool", "env", "TRAEFIK_CERTIFICATESRESOLVERS_LE_ACME_DISABLECOMMONNAME=TRUE", func(a *ACME) bool { return a.DisableCommonName }, ""},
		{"env int", "env", "TRAEFIK_CERTIFICATESRESOLVERS_LE_ACME_CERTIFICATESDURATION=24", func(a *ACME) bool { return a.CertificatesDuration == 24 }, ""},
		{"string from number", "yaml", "email: 12345", func(a *ACME) bool { return a.Email == "12345" }, ""},
		{"string from list joins", "yaml", "email: [a, b]", func(a *ACME) bool { return a.Email == "a,b" }, ""},
		{"string from table", "yaml", "email: {a: b}", nil, "certificatesResolvers.le.acme.email: expected a string, got a table"},
		{"empty eab", "yaml", "eab: {}, tlsChallenge: {}", nil, "certificatesResolvers.le.acme.eab: needs its options (kid, hmacEncoded): an empty eab is not allowed"},
		{"eab flag without value", "flags", "--certificatesresolvers.le.acme.eab", nil, "certificatesResolvers.le.acme.eab (from --certificatesresolvers.le.acme.eab): needs its options"},
		{"empty acme", "yaml", "", nil, "certificatesResolvers.le.acme: needs its options (email, caServer"},
		{"struct from string", "yaml", "eab: abc", nil, `certificatesResolvers.le.acme.eab: expected a table of options (kid, hmacEncoded), got "abc"`},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			src := tc.src
			if tc.kind == "yaml" {
				src = "certificatesResolvers: {le: {acme: {" + src + "}}}"
			}
			s, _, err := decodeSrc(t, tc.kind, src)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a := acmeOf(t, s, "le"); !tc.check(a) {
				t.Errorf("unexpected result %+v", a)
			}
		})
	}
}

func TestSlices(t *testing.T) {
	for _, tc := range []struct {
		desc, kind, src string
		want            []string
	}{
		{"yaml list", "yaml", `resolvers: ["1.1.1.1:53", "8.8.8.8:53"]`, []string{"1.1.1.1:53", "8.8.8.8:53"}},
		{"yaml comma string", "yaml", `resolvers: "1.1.1.1:53,8.8.8.8:53"`, []string{"1.1.1.1:53", "8.8.8.8:53"}},
		// paerser joins file lists with ',' and splits them again.
		{"yaml list item with comma", "yaml", `resolvers: ["a:53,b:53", "c:53"]`, []string{"a:53", "b:53", "c:53"}},
		// paerser's setSlice trims each element (strings.TrimSpace).
		{"elements are trimmed", "yaml", `resolvers: "a:53, b:53 ,c:53"`, []string{"a:53", "b:53", "c:53"}},
		{"empty string leaves it unset", "yaml", `resolvers: ""`, nil},
		{"empty elements stay", "yaml", `resolvers: "a:53,,b:53"`, []string{"a:53", "", "b:53"}},
		{"toml list", "toml", `resolvers = ["a:53", "b:53"]`, []string{"a:53", "b:53"}},
		{"flag comma", "flags", "--certificatesresolvers.le.acme.dnschallenge.resolvers=a:53,b:53", []string{"a:53", "b:53"}},
		{"repeated flags append", "flags", "--certificatesresolvers.le.acme.dnschallenge.resolvers=a:53\n--certificatesresolvers.le.acme.dnschallenge.resolvers=b:53,c:53", []string{"a:53", "b:53", "c:53"}},
		{"repeated flags append across spellings", "flags", "--certificatesresolvers.le.acme.dnschallenge.resolvers=a:53\n--CertificatesResolvers.le.acme.dnsChallenge.Resolvers=b:53", []string{"a:53", "b:53"}},
		{"flag with separate value", "flags", "--certificatesresolvers.le.acme.dnschallenge.resolvers\na:53,b:53", []string{"a:53", "b:53"}},
		{"env comma", "env", "TRAEFIK_CERTIFICATESRESOLVERS_LE_ACME_DNSCHALLENGE_RESOLVERS=a:53, b:53", []string{"a:53", "b:53"}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			src := tc.src
			switch tc.kind {
			case "yaml":
				src = "certificatesResolvers: {le: {acme: {dnsChallenge: {provider: x, " + src + "}}}}"
			case "toml":
				src = "[certificatesResolvers.le.acme.dnsChallenge]\nprovider = \"x\"\n" + src
			}
			s, _ := mustDecode(t, tc.kind, src)
			if got := acmeOf(t, s, "le").DNSChallenge.Resolvers; !reflect.DeepEqual(got, tc.want) {
				t.Errorf("resolvers = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestOtherTraefikKeysAreIgnoredSilently(t *testing.T) {
	for _, tc := range []struct{ desc, kind, src string }{
		{"top-level sections yaml", "yaml", `
global: {checkNewVersion: false, sendAnonymousUsage: false}
serversTransport: {insecureSkipVerify: true}
tcpServersTransport: {dialTimeout: 30s}
providers: {docker: {exposedByDefault: false}, file: {directory: /etc/traefik/dynamic}}
api: {dashboard: true, insecure: true}
metrics: {prometheus: {}}
ping: {}
log: {level: DEBUG}
accessLog: {}
tracing: {}
hostResolver: {cnameFlattening: true}
experimental: {plugins: {x: {moduleName: y, version: v1}}}
core: {defaultRuleSyntax: v2}
spiffe: {workloadAPIAddr: x}
ocsp: {}
certificatesResolvers: {le: {acme: {email: a}}}
`},
		{"entry point keys yaml", "yaml", `
entryPoints:
  web:
    address: ":80"
    http: {redirections: {entryPoint: {to: websecure, scheme: https}}}
    transport: {respondingTimeouts: {readTimeout: 0}}
    forwardedHeaders: {insecure: true}
    proxyProtocol: {trustedIPs: [127.0.0.1]}
    asDefault: true
    http2: {maxConcurrentStreams: 250}
    http3: {}
    udp: {timeout: 3s}
    observability: {accessLogs: false}
    reusePort: true
    allowACMEByPass: true
`},
		{"flags of other sections", "flags", `
--providers.docker=true
--providers.docker.exposedbydefault=false
--log.level=DEBUG
--api.insecure
--accesslog
--entrypoints.websecure.address=:443
--entrypoints.websecure.http.tls
--entrypoints.websecure.http.tls.certresolver=le
--entrypoints.web.http.redirections.entrypoint.to=websecure
--configFile=/etc/traefik/traefik.yml
`},
		{"env of other sections", "env", `
TRAEFIK_LOG_LEVEL=DEBUG
TRAEFIK_PROVIDERS_DOCKER=true
TRAEFIK_API_INSECURE=true
TRAEFIK_ENTRYPOINTS_WEB_ADDRESS=:80
TRAEFIK_ENTRYPOINTS_WEB_HTTP_REDIRECTIONS_ENTRYPOINT_TO=websecure
PATH=/usr/bin
`},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			_, w := mustDecode(t, tc.kind, tc.src)
			for _, x := range w {
				if !strings.HasPrefix(x.Path, "configFile") {
					t.Errorf("unexpected warning %v", x)
				}
			}
		})
	}
}

func TestUnknownOutsideResolversWarns(t *testing.T) {
	for _, tc := range []struct{ desc, kind, src, warn string }{
		{"top-level typo", "yaml", "certificateResolvers: {le: {acme: {email: a}}}", `certificateResolvers: not a Traefik static configuration section; ignored (did you mean "certificatesResolvers"?)`},
		{"top-level unknown", "yaml", "foo: 1", "foo: not a Traefik static configuration section; ignored"},
		{"flag top-level typo", "flags", "--certificateresolvers.le.acme.email=a", `(did you mean "certificatesResolvers"?)`},
		{"entry point typo", "yaml", "entryPoints: {web: {adress: ':80'}}", `entryPoints.web.adress: not a Traefik entry point option; ignored (did you mean "address"?)`},
		{"v1 entry point option", "yaml", "entryPoints: {web: {address: ':80', redirect: {entryPoint: https}}}", "Traefik v1 entry point option"},
		{"env entry point name with underscore", "env", "TRAEFIK_ENTRYPOINTS_WEB_SECURE_ADDRESS=:443", "cannot contain '_'"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			_, w := mustDecode(t, tc.kind, tc.src)
			if !hasWarning(w, tc.warn) {
				t.Errorf("warnings %v, want one containing %q", w, tc.warn)
			}
		})
	}
}

func TestTailscaleResolvers(t *testing.T) {
	s, w := mustDecode(t, "yaml", "certificatesResolvers: {ts: {tailscale: {}}, le: {acme: {email: a}}}")
	if got := keys(s.CertificatesResolvers); !reflect.DeepEqual(got, []string{"le"}) {
		t.Errorf("resolvers = %v, want [le]", got)
	}
	if !hasWarning(w, "certificatesResolvers.ts: tailscale resolver skipped") {
		t.Errorf("warnings %v", w)
	}
	s, _ = mustDecode(t, "flags", "--certificatesresolvers.ts.tailscale\n--certificatesresolvers.le.acme.email=a")
	if got := keys(s.CertificatesResolvers); !reflect.DeepEqual(got, []string{"le"}) {
		t.Errorf("flags: resolvers = %v, want [le]", got)
	}
	s, _ = mustDecode(t, "yaml", "certificatesResolvers: {ts: {tailscale: false, acme: {email: a}}}")
	if _, ok := s.CertificatesResolvers["ts"]; !ok {
		t.Errorf("tailscale: false should keep the acme resolver")
	}
	_, _, err := decodeSrc(t, "yaml", "certificatesResolvers: {both: {tailscale: {}, acme: {email: a}}}")
	if err == nil || !strings.Contains(err.Error(), "certificatesResolvers.both: acme and tailscale are mutually exclusive") {
		t.Errorf("error %v", err)
	}
	s, w = mustDecode(t, "yaml", "certificatesResolvers: {empty: {}}")
	if len(s.CertificatesResolvers) != 0 || !hasWarning(w, "resolver without acme options skipped") {
		t.Errorf("empty resolver: %v %v", keys(s.CertificatesResolvers), w)
	}
}

func TestUnknownKeysInResolversAreErrors(t *testing.T) {
	for _, tc := range []struct {
		desc, kind, src string
		want            []string
		notWant         string
	}{
		{"typo in acme", "yaml", "certificatesResolvers: {le: {acme: {emial: a}}}",
			[]string{`certificatesResolvers.le.acme.emial: unknown option (did you mean "email"?)`}, ""},
		{"typo in a camel key", "yaml", "certificatesResolvers: {le: {acme: {caservr: x}}}",
			[]string{`certificatesResolvers.le.acme.caservr: unknown option (did you mean "caServer"?)`}, ""},
		{"typo of a challenge", "toml", "[certificatesResolvers.le.acme.dnsChalenge]\nprovider = \"x\"",
			[]string{`certificatesResolvers.le.acme.dnsChalenge: unknown option (did you mean "dnsChallenge"?)`}, ""},
		{"misplaced option", "yaml", "certificatesResolvers: {le: {acme: {provider: cloudflare}}}",
			[]string{`certificatesResolvers.le.acme.provider: unknown option (did you mean dnsChallenge.provider?)`}, ""},
		{"option of a sub-block", "yaml", "certificatesResolvers: {le: {acme: {dnsChallenge: {provider: x, delayBeforeChecks: 10}}}}",
			[]string{`certificatesResolvers.le.acme.dnsChallenge.delayBeforeChecks: unknown option (did you mean propagation.delayBeforeChecks?)`}, ""},
		{"nested typo", "yaml", "certificatesResolvers: {le: {acme: {dnsChallenge: {provider: x, propagaton: {}}}}}",
			[]string{`certificatesResolvers.le.acme.dnsChallenge.propagaton: unknown option (did you mean "propagation"?)`}, ""},
		{"far from everything", "yaml", "certificatesResolvers: {le: {acme: {zzzzzz: x}}}",
			[]string{`certificatesResolvers.le.acme.zzzzzz: unknown option`}, "did you mean"},
		{"resolver level", "yaml", "certificatesResolvers: {le: {acm: {email: a}}}",
			[]string{`certificatesResolvers.le.acm: unknown resolver option: only acme (and tailscale) are allowed here (did you mean "acme"?)`}, ""},
		{"every error is reported", "yaml", "certificatesResolvers: {le: {acme: {emial: a, storag: b}}}",
			[]string{"acme.emial", "acme.storag"}, ""},
		{"flag names its origin", "flags", "--certificatesresolvers.le.acme.emial=a",
			[]string{`certificatesResolvers.le.acme.emial (from --certificatesresolvers.le.acme.emial): unknown option (did you mean "email"?)`}, ""},
		{"env names its origin", "env", "TRAEFIK_CERTIFICATESRESOLVERS_LE_ACME_EMIAL=a",
			[]string{`(from TRAEFIK_CERTIFICATESRESOLVERS_LE_ACME_EMIAL): unknown option`}, ""},
		{"env name with underscore", "env", "TRAEFIK_CERTIFICATESRESOLVERS_MY_RESOLVER_ACME_EMAIL=a",
			[]string{"certificatesResolvers.my.resolver (from TRAEFIK_CERTIFICATESRESOLVERS_MY_RESOLVER_ACME_EMAIL)", "cannot contain '_'", "myresolver"}, ""},
		{"flag with an empty segment", "flags", "--certificatesresolvers.le..acme.email=a",
			[]string{"empty segment"}, ""},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			_, _, err := decodeSrc(t, tc.kind, tc.src)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if tc.notWant != "" && strings.Contains(err.Error(), tc.notWant) {
				t.Errorf("error %q contains %q", err, tc.notWant)
			}
		})
	}
}

func TestSecretsAreRedacted(t *testing.T) {
	const secret = "s3cr3t-hmac-value"
	t.Run("type error under a secret field", func(t *testing.T) {
		type holder struct {
			Token  int `traefik:"token,secret"`
			Nested *struct {
				Delay Duration `traefik:"delay"`
			} `traefik:"nested,secret"`
		}
		var h holder
		d := newDecoder(srcFile, nil)
		d.decodeStruct(reflect.ValueOf(&h).Elem(), map[string]any{
			"token":  secret,
			"nested": map[string]any{"delay": secret},
		}, keyPath{})
		err := d.err()
		if err == nil {
			t.Fatal("no error")
		}
		if strings.Contains(err.Error(), secret) || strings.Count(err.Error(), "(redacted)") != 2 {
			t.Errorf("error %q shows the secret or misses (redacted)", err)
		}
		if !strings.Contains(err.Error(), "token: expected a whole number, got (redacted)") {
			t.Errorf("error %q", err)
		}
	})
	t.Run("validation error about eab", func(t *testing.T) {
		s, _, err := ParseYAML([]byte("certificatesResolvers: {le: {acme: {tlsChallenge: {}, eab: {hmacEncoded: " + secret + "}}}}"))
		if err != nil {
			t.Fatal(err)
		}
		perr := s.ResolverProblem("le")
		if perr == nil || strings.Contains(perr.Error(), secret) || !strings.Contains(perr.Error(), "eab.kid") {
			t.Errorf("problem %v", perr)
		}
	})
	t.Run("quoted flag value warning", func(t *testing.T) {
		_, w, _ := ParseArgs([]string{`--certificatesresolvers.le.acme.eab.hmacencoded="` + secret + `"`})
		if !hasWarning(w, "wrapped in quotes") {
			t.Fatalf("no warning: %v", w)
		}
		for _, x := range w {
			if strings.Contains(x.String(), secret) {
				t.Errorf("warning %q shows the secret", x)
			}
		}
	})
	t.Run("bad flag syntax", func(t *testing.T) {
		_, _, err := ParseArgs([]string{"---certificatesresolvers.le.acme.eab.hmacencoded=" + secret})
		if err == nil || strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "bad flag syntax") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("hmac as a table", func(t *testing.T) {
		_, _, err := decodeYAML([]byte("certificatesResolvers: {le: {acme: {eab: {hmacEncoded: {" + secret + ": x}}}}}"))
		if err == nil || strings.Contains(err.Error(), secret) {
			t.Errorf("error %v", err)
		}
	})
}

func TestV1Options(t *testing.T) {
	const v1 = `
defaultEntryPoints = ["http", "https"]
[entryPoints]
  [entryPoints.http]
  address = ":80"
    [entryPoints.http.redirect]
    entryPoint = "https"
  [entryPoints.https]
  address = ":443"
    [entryPoints.https.tls]
[acme]
email = "test@example.com"
storage = "acme.json"
entryPoint = "https"
onHostRule = true
onDemand = false
acmeLogging = true
caServer = "https://acme-v01.api.letsencrypt.org/directory"
[acme.httpChallenge]
  entryPoint = "http"
[acme.dnsChallenge]
  provider = "digitalocean"
  delayBeforeCheck = 0
[[acme.domains]]
  main = "example.com"
  sans = ["www.example.com"]
`
	for _, tc := range []struct {
		desc, kind, src string
		want            []string
	}{
		{"v1 toml file", "toml", v1, []string{
			"acme: a top-level acme section is Traefik v1 configuration",
			"certificatesResolvers.<name>.acme",
			"tls.certResolver=<name>",
			"acme.entryPoint: the HTTPS entry point of v1",
			"acme.onHostRule: in v2+ a router with tls.certResolver=<name> gets certificates for the names of its Host() rule",
			"acme.onDemand: on-demand issuance was removed in v2",
			"acme.domains: in v2+ the names come from routers: tls.domains[n].main and tls.domains[n].sans",
			"acme.acmeLogging: removed in v2",
			"acme.httpChallenge: certificatesResolvers.<name>.acme.httpChallenge",
			"acme.dnsChallenge: certificatesResolvers.<name>.acme.dnsChallenge (its delayBeforeCheck is dnsChallenge.propagation.delayBeforeChecks since v3.3)",
			"acme.email: certificatesResolvers.<name>.acme.email",
			"acme.caServer: certificatesResolvers.<name>.acme.caServer",
		}},
		{"v1 KV storage", "toml", "[consul]\nendpoint = \"127.0.0.1:8500\"\n[acme]\nstorage = \"traefik/acme/account\"\n", []string{
			"acme.storage: KV storage was removed in v2",
		}},
		{"KV storage in a resolver next to a v1 KV section", "yaml", "consul: {endpoint: '127.0.0.1:8500'}\ncertificatesResolvers: {le: {acme: {storage: traefik/acme/account, tlsChallenge: {}}}}", []string{
			`certificatesResolvers.le.acme.storage: "traefik/acme/account" looks like a Traefik v1 KV store key; KV storage was removed in v2`,
		}},
		{"v1 flags", "flags", "--acme.email=a@example.com\n--acme.entrypoint=https", []string{"top-level acme section is Traefik v1 configuration", "acme.entrypoint: the HTTPS entry point of v1"}},
		{"entryPoint in a resolver", "yaml", "certificatesResolvers: {le: {acme: {entryPoint: https}}}", []string{
			"certificatesResolvers.le.acme.entryPoint: Traefik v1 option, not read by Traefik v2+: the HTTPS entry point of v1; in v2+ a router on that entry point selects the resolver with tls.certResolver=<name> (the HTTP-01 entry point is httpChallenge.entryPoint)",
		}},
		{"onHostRule in a resolver", "yaml", "certificatesResolvers: {le: {acme: {onHostRule: true}}}", []string{"acme.onHostRule: Traefik v1 option", "Host() rule"}},
		{"onDemand in a resolver", "flags", "--certificatesresolvers.le.acme.ondemand=true", []string{"acme.ondemand (from --certificatesresolvers.le.acme.ondemand): Traefik v1 option"}},
		{"domains in a resolver", "yaml", "certificatesResolvers: {le: {acme: {domains: [{main: example.com}]}}}", []string{"acme.domains: Traefik v1 option", "tls.domains[n].main"}},
		{"acmeLogging in a resolver", "toml", "[certificatesResolvers.le.acme]\nacmeLogging = true", []string{"acme.acmeLogging: Traefik v1 option", "log.level"}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			_, _, err := decodeSrc(t, tc.kind, tc.src)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestDidYouMean(t *testing.T) {
	for _, tc := range []struct {
		key  string
		want string
	}{
		{"emial", "email"},
		{"EMAIL", "email"},
		{"storag", "storage"},
		{"keytpye", "keyType"},
		{"x", ""},
		{"certificatesduration", "certificatesDuration"},
		{"completelydifferent", ""},
	} {
		t.Run(tc.key, func(t *testing.T) {
			got := didYouMean(tc.key, []string{"email", "storage", "keyType", "certificatesDuration", "caServer"})
			if tc.want == "" && got != "" || tc.want != "" && got != ` (did you mean "`+tc.want+`"?)` {
				t.Errorf("didYouMean(%q) = %q, want %q", tc.key, got, tc.want)
			}
		})
	}
	if d := editDistance(strings.Repeat("a", 100), strings.Repeat("b", 100)); d < 100 {
		t.Errorf("long strings: distance %d", d)
	}
}

func TestModelFixes(t *testing.T) {
	for addr, want := range map[string]int{":80": 80, "127.0.0.1:8443": 8443, ":443/tcp": 443, ":80abc": 0, ":+80": 0, "[::]:8080": 8080, "nope": 0} {
		if got := (&EntryPoint{Address: addr}).Port(); got != want {
			t.Errorf("Port(%q) = %d, want %d", addr, got, want)
		}
	}
	// Resolvers are kept as written, as in Traefik; lego and certmagic
	// add port 53 to one without a port when they use it.
	resolvers := []string{"1.1.1.1", "8.8.8.8:5353", "2001:db8::1", "[2001:db8::2]:53", "ns.example.com", ""}
	a := &ACME{DNSChallenge: &DNSChallenge{Provider: "x", Resolvers: append([]string(nil), resolvers...)}}
	a.SetDefaults("p")
	if !reflect.DeepEqual(a.DNSChallenge.Resolvers, resolvers) {
		t.Errorf("resolvers = %q, want %q", a.DNSChallenge.Resolvers, resolvers)
	}
	if err := a.Validate("r", nil); err != nil {
		t.Errorf("validate: %v", err)
	}
	for _, bad := range []string{"1.1.1.1:0", "1.1.1.1:99999", "host:port", "a b", ":53"} {
		a := &ACME{DNSChallenge: &DNSChallenge{Provider: "x", Resolvers: []string{bad}}}
		a.SetDefaults("p")
		if err := a.Validate("r", nil); err == nil || !strings.Contains(err.Error(), "dnsChallenge.resolvers[0]") {
			t.Errorf("resolver %q: %v, want an error naming dnsChallenge.resolvers[0]", bad, err)
		}
	}
}

func TestDefaultsWarningsAreCollected(t *testing.T) {
	s, w, err := ParseYAML([]byte(`
certificatesResolvers:
  old:
    acme:
      caServer: https://acme-v01.api.letsencrypt.org/directory
      dnsChallenge: {provider: cloudflare, delayBeforeCheck: 20, disablePropagationCheck: true}
  staging:
    acme:
      caServer: https://acme-staging.api.letsencrypt.org/directory
      tlsChallenge: {}
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := acmeOf(t, s, "old").CAServer; got != LetsEncryptProduction {
		t.Errorf("caServer %q", got)
	}
	if got := acmeOf(t, s, "staging").CAServer; got != LetsEncryptStaging {
		t.Errorf("caServer %q", got)
	}
	p := acmeOf(t, s, "old").DNSChallenge.Propagation
	if p == nil || time.Duration(p.DelayBeforeChecks) != 20*time.Second || !p.DisableChecks {
		t.Errorf("propagation %+v", p)
	}
	for _, want := range []string{
		"certificatesResolvers.old.acme.caServer: https://acme-v01.api.letsencrypt.org/directory refers to a v01 endpoint",
		"certificatesResolvers.staging.acme.caServer: https://acme-staging.api.letsencrypt.org/directory refers to a v01 endpoint",
		"certificatesResolvers.old.acme.dnsChallenge.delayBeforeCheck: deprecated since Traefik v3.3",
		"certificatesResolvers.old.acme.dnsChallenge.disablePropagationCheck: deprecated since Traefik v3.3",
	} {
		if !hasWarning(w, want) {
			t.Errorf("warnings %v, want %q", w, want)
		}
	}
}

func TestErrorsAreCapped(t *testing.T) {
	var b strings.Builder
	b.WriteString("certificatesResolvers:\n")
	for i := range 50 {
		b.WriteString("  r" + strings.Repeat("x", i) + ": {acme: {emial: a}}\n")
	}
	_, _, err := ParseYAML([]byte(b.String()))
	if err == nil {
		t.Fatal("no error")
	}
	if n := strings.Count(err.Error(), "unknown option"); n != maxErrors {
		t.Errorf("%d errors reported, want %d", n, maxErrors)
	}
	if !strings.Contains(err.Error(), "too many errors; stopping here") {
		t.Errorf("error %q does not say it stopped", err)
	}
}

func TestOrderRateLimitValidate(t *testing.T) {
	tests := []struct {
		desc  string
		limit *RateLimit
		want  string // substring of the error; "" for none
	}{
		{"unset", nil, ""},
		{"raised", &RateLimit{Events: 100, Window: Duration(10 * time.Second)}, ""},
		{"zero orders", &RateLimit{Events: 0, Window: Duration(10 * time.Second)}, `resolver "r": order_rate_limit: needs at least 1 event`},
		{"zero window", &RateLimit{Events: 5}, "order_rate_limit"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			a := &ACME{TLSChallenge: &TLSChallenge{}, OrderRateLimit: tt.limit}
			a.SetDefaults("certificatesResolvers.r.acme")
			err := a.Validate("r", nil)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}
