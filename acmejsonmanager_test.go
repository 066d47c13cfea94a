package traefikacme

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
)

// TestAcmeJSONManagerCaddyfile checks the Caddyfile syntax, alone and
// adapted inside a tls block.
func TestAcmeJSONManagerCaddyfile(t *testing.T) {
	tests := []struct {
		desc    string
		input   string
		want    ACMEJSONManager
		wantErr string
	}{
		{
			desc:  "path only",
			input: "traefik_acme_json /etc/traefik/acme.json",
			want:  ACMEJSONManager{Path: "/etc/traefik/acme.json"},
		},
		{
			desc:  "resolvers",
			input: "traefik_acme_json /etc/traefik/acme.json le dns",
			want:  ACMEJSONManager{Path: "/etc/traefik/acme.json", Resolvers: []string{"le", "dns"}},
		},
		{
			desc:  "poll interval",
			input: "traefik_acme_json {env.ACME} le {\n\tpoll_interval 2s\n}",
			want:  ACMEJSONManager{Path: "{env.ACME}", Resolvers: []string{"le"}, PollInterval: caddy.Duration(2 * time.Second)},
		},
		{desc: "no path", input: "traefik_acme_json", wantErr: "missing path"},
		{desc: "unknown subdirective", input: "traefik_acme_json /a {\n\tfoo\n}", wantErr: `unknown subdirective "foo"`},
		{desc: "bad duration", input: "traefik_acme_json /a {\n\tpoll_interval soon\n}", wantErr: "poll_interval"},
		{desc: "duration without value", input: "traefik_acme_json /a {\n\tpoll_interval\n}", wantErr: "argument"},
		{desc: "two durations", input: "traefik_acme_json /a {\n\tpoll_interval 1s 2s\n}", wantErr: "argument"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			var got ACMEJSONManager
			err := got.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Path != tt.want.Path || strings.Join(got.Resolvers, ",") != strings.Join(tt.want.Resolvers, ",") || got.PollInterval != tt.want.PollInterval {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}

	t.Run("adapted", func(t *testing.T) {
		cfgJSON := adapt(t, `app.example.test {
	tls {
		get_certificate traefik_acme_json /etc/traefik/acme.json le dns
	}
	respond "ok"
}
`)
		var cfg struct {
			Apps struct {
				TLS struct {
					Automation struct {
						Policies []struct {
							Subjects []string          `json:"subjects"`
							Managers []json.RawMessage `json:"get_certificate"`
						} `json:"policies"`
					} `json:"automation"`
				} `json:"tls"`
			} `json:"apps"`
		}
		if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
			t.Fatal(err)
		}
		pols := cfg.Apps.TLS.Automation.Policies
		if len(pols) != 1 || len(pols[0].Managers) != 1 {
			t.Fatalf("policies: %s", cfgJSON)
		}
		var got map[string]any
		if err := json.Unmarshal(pols[0].Managers[0], &got); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"via": "traefik_acme_json", "path": "/etc/traefik/acme.json", "resolvers": []any{"le", "dns"}}
		gotJSON, _ := json.Marshal(got)
		wantJSON, _ := json.Marshal(want)
		if !bytes.Equal(gotJSON, wantJSON) {
			t.Fatalf("manager JSON %s, want %s", gotJSON, wantJSON)
		}
	})
}

// TestAcmeJSONManagerValidate checks the configuration rules.
func TestAcmeJSONManagerValidate(t *testing.T) {
	tests := []struct {
		desc    string
		m       ACMEJSONManager
		wantErr string
	}{
		{"ok", ACMEJSONManager{Path: "/a", Resolvers: []string{"le", "dns"}}, ""},
		{"ok with interval", ACMEJSONManager{Path: "/a", PollInterval: caddy.Duration(time.Second)}, ""},
		{"no path", ACMEJSONManager{}, "missing path"},
		{"interval too small", ACMEJSONManager{Path: "/a", PollInterval: caddy.Duration(time.Millisecond)}, "below the minimum"},
		{"negative interval", ACMEJSONManager{Path: "/a", PollInterval: caddy.Duration(-time.Second)}, "below the minimum"},
		{"empty resolver", ACMEJSONManager{Path: "/a", Resolvers: []string{""}}, "empty resolver"},
		{"duplicate resolver", ACMEJSONManager{Path: "/a", Resolvers: []string{"le", "le"}}, "listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			err := tt.m.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestAcmeJSONManagerProvision checks Provision and Cleanup outside Caddy:
// placeholders, a missing file, a file that is not acme.json, and that the
// poller stops.
func TestAcmeJSONManagerProvision(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "acme.json")
	if err := os.WriteFile(good, marshalFile(t, loadFixture(t, "traefik-v3-acme.json")), 0o600); err != nil {
		t.Fatal(err)
	}
	backdate(t, good, time.Minute)
	broken := filepath.Join(dir, "broken.json")
	if err := os.WriteFile(broken, []byte(`{"le": {"Certificates": [`), 0o600); err != nil {
		t.Fatal(err)
	}
	backdate(t, broken, time.Minute)
	t.Setenv("GETCERT_TEST_DIR", dir)

	tests := []struct {
		desc    string
		path    string
		serves  string
		wantErr string
	}{
		{desc: "placeholder expanded", path: "{env.GETCERT_TEST_DIR}/acme.json", serves: "h1.example.test"},
		{desc: "missing file", path: filepath.Join(dir, "later.json")},
		{desc: "not acme.json", path: broken, wantErr: "parsing acme.json"},
		{desc: "unknown placeholder", path: "{nope}/acme.json", wantErr: "placeholders"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
			defer cancel()
			m := &ACMEJSONManager{Path: tt.path}
			err := m.Provision(ctx)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				if err := m.Cleanup(); err != nil {
					t.Fatal(err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.serves != "" {
				c, err := m.GetCertificate(t.Context(), &tls.ClientHelloInfo{ServerName: tt.serves})
				if err != nil || c == nil {
					t.Fatalf("%s not served: %v", tt.serves, err)
				}
			}
			done := m.done
			if err := m.Cleanup(); err != nil {
				t.Fatal(err)
			}
			select {
			case <-done:
			default:
				t.Fatal("poller still running after Cleanup")
			}
			if err := m.Cleanup(); err != nil {
				t.Fatalf("second Cleanup: %v", err)
			}
		})
	}
}

// getCertCaddyfile serves only what the manager finds: a catch-all HTTPS
// site whose on-demand issuance (which a get_certificate manager turns on)
// is refused by the ask endpoint, by default one that Caddy itself answers
// with 403 (the setup the README recommends), so that Caddy has no other
// certificate and obtains none. The manager logs at debug level.
const getCertCaddyfile = `{
{{template "preamble" .}}
	log traefik_acme_json {
		output file {{.Log}}
		format json
		level DEBUG
		include tls.get_certificate.traefik_acme_json
	}
	on_demand_tls {
		ask {{index .Extra "ask"}}
	}
}
http://127.0.0.1:{{index .Extra "askport"}} {
	respond 403
}
https:// {
	tls {
		get_certificate traefik_acme_json {{index .Extra "path"}} {{index .Extra "resolvers"}} {
			poll_interval {{index .Extra "poll"}}
		}
	}
	respond "ok"
}
`

// startGetCertCaddy copies data to a fresh acme.json and starts Caddy
// serving it; it returns the file's path.
func startGetCertCaddy(t *testing.T, env *caddyEnv, data []byte, resolvers string, poll string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "acme.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	env.Clock = pinnedClock
	env.Extra["path"] = path
	env.Extra["resolvers"] = resolvers
	if poll == "" {
		poll = defaultPollInterval.String()
	}
	env.Extra["poll"] = poll
	env.Extra["askport"] = strconv.Itoa(freeLoopbackPorts(t, 1)[0])
	if env.Extra["ask"] == "" {
		env.Extra["ask"] = "http://127.0.0.1:" + env.Extra["askport"] + "/"
	}
	env.startCaddy(t, getCertCaddyfile)
	return path
}

// expectLeaf returns an accept function for waitCert that wants leaf.
func expectLeaf(leaf *x509.Certificate) func([]*x509.Certificate) bool {
	return func(chain []*x509.Certificate) bool { return bytes.Equal(chain[0].Raw, leaf.Raw) }
}

// fixtureLeaves maps each name of the fixture's leaves to its leaf.
func fixtureLeaves(t *testing.T, f acmejson.File) map[string]*x509.Certificate {
	t.Helper()
	out := map[string]*x509.Certificate{}
	for _, r := range f.ResolverNames() {
		for _, c := range f[r].Certificates {
			p, err := c.Parse()
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range p.Leaf.Names {
				out[n] = p.Chain[0]
			}
		}
	}
	return out
}

// TestGetCertServesTraefikFixtures starts Caddy on each real Traefik file
// and checks, by real handshakes verified against the fixture's root at a
// pinned time, that every name gets its certificate (wildcards too) and
// that other names get none.
func TestGetCertServesTraefikFixtures(t *testing.T) {
	tests := []struct {
		file, root string
		sni        map[string]string // SNI → name of the leaf expected
		none       []string
	}{
		{
			file: "traefik-v3-acme.json", root: "pebble-root.pem",
			sni:  map[string]string{"d1.example.test": "d1.example.test", "h1.example.test": "h1.example.test", "T1.Example.Test": "t1.example.test"},
			none: []string{"x.d1.example.test", "example.test"},
		},
		{
			file: "traefik-v2-acme.json", root: "pebble-root.pem",
			sni:  map[string]string{"d1.example.test": "d1.example.test", "h1.example.test": "h1.example.test", "t1.example.test": "t1.example.test"},
			none: []string{"nothing.example.test"},
		},
		{
			file: "traefik-v3.6.21-rich-acme.json", root: "traefik-v3.6.21-rich-root.pem",
			sni: map[string]string{
				"a.example.test": "a.example.test", "b.example.test": "b.example.test", "c.example.test": "c.example.test",
				"plain.example.test": "plain.example.test", "tls1.example.test": "tls1.example.test",
				"wild.example.test": "wild.example.test", "anything.wild.example.test": "*.wild.example.test",
				"ANOTHER.wild.example.test": "*.wild.example.test",
			},
			none: []string{"a.b.wild.example.test", "unused.example.test"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f := loadFixture(t, tt.file)
			leaves := fixtureLeaves(t, f)
			roots := fixtureRoots(t, tt.root)
			env := newLocalCaddyEnv(t)
			raw, err := os.ReadFile(filepath.Join("testdata", "acmejson", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			path := startGetCertCaddy(t, env, raw, "", "")
			for sni, name := range tt.sni {
				leaf := leaves[name]
				if leaf == nil {
					t.Fatalf("fixture has no leaf for %s", name)
				}
				chain := env.waitCert(t, sni, roots, 5*time.Second, expectLeaf(leaf))
				if len(chain) < 3 {
					t.Errorf("%s: verified chain of %d certificates, want leaf, intermediate, root", sni, len(chain))
				}
			}
			for _, sni := range tt.none {
				if _, err := env.handshake(sni, roots); err == nil {
					t.Errorf("%s: handshake succeeded, want no certificate", sni)
				}
			}
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(after, raw) {
				t.Error("acme.json was modified")
			}
		})
	}
}

// TestGetCertResolverFilter serves only the listed resolvers' certificates.
func TestGetCertResolverFilter(t *testing.T) {
	f := loadFixture(t, "traefik-v3.6.21-rich-acme.json")
	leaves := fixtureLeaves(t, f)
	roots := fixtureRoots(t, "traefik-v3.6.21-rich-root.pem")
	env := newLocalCaddyEnv(t)
	startGetCertCaddy(t, env, marshalFile(t, f), "http-ec dns-wild", "")
	for _, sni := range []string{"a.example.test", "plain.example.test", "wild.example.test", "x.wild.example.test"} {
		name := sni
		if strings.HasPrefix(sni, "x.") {
			name = "*.wild.example.test"
		}
		env.waitCert(t, sni, roots, 5*time.Second, expectLeaf(leaves[name]))
	}
	if _, err := env.handshake("tls1.example.test", roots); err == nil {
		t.Error("tls1.example.test (resolver tls-rsa, not listed) was served")
	}
}

// TestGetCertFallsThrough checks that a name the file does not cover is
// left to Caddy: with nothing else configured the handshake fails; with an
// issuer on the site, Caddy serves its own certificate.
func TestGetCertFallsThrough(t *testing.T) {
	pebble := fixtureRoots(t, "pebble-root.pem")
	raw, err := os.ReadFile(filepath.Join("testdata", "acmejson", "traefik-v3-acme.json"))
	if err != nil {
		t.Fatal(err)
	}
	h1 := fixtureLeaves(t, loadFixture(t, "traefik-v3-acme.json"))["h1.example.test"]

	t.Run("nothing else", func(t *testing.T) {
		// An ask endpoint that refuses and records what it was asked:
		// Caddy asks only after every manager returned (nil, nil).
		var mu sync.Mutex
		var asked []string
		ask := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			asked = append(asked, r.URL.Query().Get("domain"))
			mu.Unlock()
			http.Error(w, "no", http.StatusForbidden)
		}))
		t.Cleanup(ask.Close)
		env := newLocalCaddyEnv(t)
		env.Extra["ask"] = ask.URL + "/ask"
		startGetCertCaddy(t, env, raw, "", "")
		env.waitCert(t, "h1.example.test", pebble, 5*time.Second, expectLeaf(h1))
		_, err := env.handshake("elsewhere.example.test", nil)
		if err == nil {
			t.Fatal("handshake for a name not in acme.json succeeded")
		}
		if !strings.Contains(err.Error(), "remote error") {
			t.Fatalf("handshake failed on the client side, want the server to refuse: %v", err)
		}
		mu.Lock()
		defer mu.Unlock()
		if strings.Join(asked, ",") != "elsewhere.example.test" {
			t.Fatalf("ask endpoint asked about %v, want only elsewhere.example.test", asked)
		}
	})

	t.Run("internal issuer", func(t *testing.T) {
		env := newLocalCaddyEnv(t)
		path := filepath.Join(t.TempDir(), "acme.json")
		if err := os.WriteFile(path, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		env.Clock = pinnedClock
		env.Extra["path"] = path
		env.startCaddy(t, `{
{{template "preamble" .}}
}
h1.example.test, other.example.test {
	tls {
		get_certificate traefik_acme_json {{index .Extra "path"}}
		issuer internal
	}
	respond "ok"
}
`)
		env.waitCert(t, "h1.example.test", pebble, 5*time.Second, expectLeaf(h1))
		rootFile := filepath.Join(env.Storage, "pki", "authorities", "local", "root.crt")
		var internal *x509.CertPool
		waitFor(t, "Caddy's internal CA root", 10*time.Second, func() bool {
			b, err := os.ReadFile(rootFile)
			if err != nil {
				return false
			}
			internal = x509.NewCertPool()
			return internal.AppendCertsFromPEM(b)
		})
		env.Clock = nil // the internal CA's certificates are fresh
		chain := env.waitCert(t, "other.example.test", internal, 30*time.Second, nil)
		if !strings.Contains(chain[len(chain)-1].Subject.CommonName, "Caddy Local Authority") {
			t.Errorf("other.example.test served by %q, want Caddy's internal CA", chain[len(chain)-1].Subject.CommonName)
		}
	})
}
