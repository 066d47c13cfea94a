package config

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// The conformance suite reads Traefik's own static configurations, kept
// outside the project in ../shared/conformance-inputs (see its README):
// configs/ holds the inputs and MANIFEST.tsv where each came from;
// expected-traefik-v3.7.9/configs/ holds, for each input, what Traefik
// v3.7.9's own loader chain made of it (deprecation check, file, flag and
// env loaders, SetEffectiveConfiguration, ValidateConfiguration). The test
// loads each input with Load, renders the result in the same shape and
// compares: every input reads the same as in Traefik, or every field where
// it does not is listed in deliberateDifferences with the reason.
//
// The inputs are Traefik's, not ours: they are read in place and never
// copied into the project. The test skips when the folder is absent.

// conformanceDir is where the inputs are, relative to this package.
const conformanceDir = "../../../shared/conformance-inputs"

// deliberateDifference is one way the project reads some inputs
// differently from Traefik, on purpose.
type deliberateDifference struct {
	// Inputs are the paths, under configs/, of the inputs it applies to.
	Inputs []string
	// Fields are the rendered fields that differ, as in the diff, where
	// '*' stands for one segment (a resolver name):
	// certificatesResolvers.*.acme.keyType. "ok" means we refuse an input
	// Traefik loads, or load one it refuses.
	Fields []string
	// Reason says why, in words a Traefik user would accept.
	Reason string
}

// deliberateDifferences is the ONE table of the inputs that read
// differently here than in Traefik, on purpose. docs/differences.md
// explains each row to users; keep the two in step.
var deliberateDifferences = []deliberateDifference{
	{
		Inputs: []string{
			"derived/static/empty-keytype.toml",
			"files/integration/fixtures/acme/acme_domains_1712362990.toml",
			"rendered/integration/fixtures/acme/acme_base.TestHTTP01OnHostRule.toml",
			"rendered/integration/fixtures/acme/acme_base.TestNoValidLetsEncryptServer.toml",
			"rendered/integration/fixtures/acme/acme_base.TestTLSALPN01OnHostRule.toml",
			"rendered/integration/fixtures/acme/acme_domains.TestHTTP01Domains.toml",
			"rendered/integration/fixtures/acme/acme_domains.TestHTTP01DomainsInSAN.toml",
			"rendered/integration/fixtures/acme/acme_domains.TestTLSALPN01Domains.toml",
			"rendered/integration/fixtures/acme/acme_domains.TestTLSALPN01DomainsInSAN.toml",
			"rendered/integration/fixtures/acme/acme_multiple_resolvers.TestMultipleResolver.toml",
			"rendered/integration/fixtures/acme/acme_store_domains.TestHTTP01StoreDomains.toml",
			"rendered/integration/fixtures/acme/acme_tcp.TestTLSALPN01OnHostRuleTCP.toml",
			"rendered/integration/fixtures/acme/acme_tls.TestHTTP01OnHostRuleDefaultDynamicCertificatesWithWildcard.toml",
			"rendered/integration/fixtures/acme/acme_tls_dynamic.TestHTTP01OnHostRuleDynamicCertificatesWithWildcard.toml",
			"rendered/integration/fixtures/acme/acme_tls_multiple_entrypoints.TestWithTLSMultipleEntrypoints.toml",
		},
		Fields: []string{"certificatesResolvers.*.acme.keyType"},
		Reason: `keyType = "": Traefik keeps the empty string and uses RSA4096 when it makes a key ` +
			"(GetKeyType's fallback); we store RSA4096, Traefik's default, so the certificates are the same RSA-4096 ones",
	},
	{
		Inputs: []string{
			"derived/static/keytype-lowercase.yaml",
			"rendered/integration/fixtures/acme/acme_base.TestHTTP01OnHostRuleInvalidAlgo.toml",
		},
		Fields: []string{"certificatesResolvers.*.acme.keyType"},
		Reason: "an unknown keyType (ec256, INVALID): Traefik keeps the string and falls back to RSA4096 when it " +
			"makes a key, with an info log; we normalise it to RSA4096 when loading, with a warning naming the key, " +
			"so the certificates are the same RSA-4096 ones and the mistake is reported at start",
	},
	{
		Inputs: []string{
			"md/v3.7.9/docs/content/reference/install-configuration/tls/certificate-resolvers/tailscale.L0021.file-yaml.yaml",
			"md/v3.7.9/docs/content/reference/install-configuration/tls/certificate-resolvers/tailscale.L0034.file-toml.toml",
			"md/v3.7.9/docs/content/reference/install-configuration/tls/certificate-resolvers/tailscale.L0045.cli.args",
		},
		Fields: []string{"certificatesResolvers", "certificatesResolvers.*.tailscale"},
		Reason: "a tailscale resolver is skipped with a warning: this plugin brings Traefik's ACME resolvers; " +
			"Caddy gets Tailscale certificates natively (tls { get_certificate tailscale })",
	},
}

// conformanceInput is one row of MANIFEST.tsv.
type conformanceInput struct {
	path, source, kind, tags string
}

func readManifest(t *testing.T, dir string) []conformanceInput {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "configs", "MANIFEST.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []conformanceInput
	sc := bufio.NewScanner(f)
	first := true
	for sc.Scan() {
		if first {
			first = false
			continue
		}
		cols := strings.Split(sc.Text(), "\t")
		if len(cols) < 3 {
			continue
		}
		in := conformanceInput{path: cols[0], source: cols[1], kind: cols[2]}
		if len(cols) > 3 {
			in.tags = cols[3]
		}
		out = append(out, in)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// loadConformanceInput loads one input the way a user points the project
// at it: a file or compose file by path, args as Traefik's command line,
// env as Traefik's environment. Compose ${VAR}s see an empty environment.
func loadConformanceInput(path, kind string) (*Loaded, error) {
	noEnv := func(string) (string, bool) { return "", false }
	switch kind {
	case "file", "compose":
		return Load(Sources{File: path, LookupEnv: noEnv})
	case "args", "env":
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		var lines []string
		for _, l := range strings.Split(string(data), "\n") {
			if l = strings.TrimRight(l, "\r"); l != "" {
				lines = append(lines, l)
			}
		}
		if kind == "args" {
			return Load(Sources{Args: lines, LookupEnv: noEnv})
		}
		return Load(Sources{Environ: lines, LookupEnv: noEnv})
	}
	return nil, fmt.Errorf("unknown input kind %q", kind)
}

// renderTraefik renders a load result in the shape of the expected files:
// ok, entryPoints (name → address) and certificatesResolvers in Traefik's
// JSON shape (Traefik's json tags, omitempty, durations as Go strings).
func renderTraefik(l *Loaded, err error) map[string]any {
	if err != nil {
		return map[string]any{"ok": false}
	}
	out := map[string]any{"ok": true}
	eps := map[string]any{}
	for name, ep := range l.Static.EntryPoints {
		eps[name] = ep.Address
	}
	out["entryPoints"] = eps
	if len(l.Static.CertificatesResolvers) == 0 {
		out["certificatesResolvers"] = nil
		return out
	}
	rs := map[string]any{}
	for name, r := range l.Static.CertificatesResolvers {
		rs[name] = map[string]any{"acme": renderACME(r.ACME)}
	}
	out["certificatesResolvers"] = rs
	return out
}

// renderACME renders a resolver with Traefik's json tags and omitempty.
func renderACME(a *ACME) map[string]any {
	m := map[string]any{}
	put := func(m map[string]any, key string, v any) {
		switch x := v.(type) {
		case string:
			if x != "" {
				m[key] = x
			}
		case bool:
			if x {
				m[key] = x
			}
		case int:
			if x != 0 {
				m[key] = float64(x)
			}
		case Duration:
			if x != 0 {
				m[key] = time.Duration(x).String()
			}
		case []string:
			if len(x) > 0 {
				l := make([]any, len(x))
				for i, s := range x {
					l[i] = s
				}
				m[key] = l
			}
		case map[string]any:
			if x != nil {
				m[key] = x
			}
		default:
			panic(fmt.Sprintf("renderACME: unhandled %T", v))
		}
	}
	put(m, "email", a.Email)
	put(m, "caServer", a.CAServer)
	put(m, "preferredChain", a.PreferredChain)
	put(m, "profile", a.Profile)
	put(m, "emailAddresses", a.EmailAddresses)
	put(m, "disableCommonName", a.DisableCommonName)
	put(m, "storage", a.Storage)
	put(m, "keyType", a.KeyType)
	if a.EAB != nil {
		e := map[string]any{}
		put(e, "kid", a.EAB.KID)
		put(e, "hmacEncoded", a.EAB.HMACEncoded)
		m["eab"] = e
	}
	put(m, "certificatesDuration", a.CertificatesDuration)
	put(m, "clientTimeout", a.ClientTimeout)
	put(m, "clientResponseHeaderTimeout", a.ClientResponseHeaderTimeout)
	put(m, "certificateTimeout", a.CertificateTimeout)
	put(m, "caCertificates", a.CACertificates)
	put(m, "caSystemCertPool", a.CASystemCertPool)
	put(m, "caServerName", a.CAServerName)
	if d := a.DNSChallenge; d != nil {
		dm := map[string]any{}
		put(dm, "provider", d.Provider)
		put(dm, "resolvers", d.Resolvers)
		if p := d.Propagation; p != nil {
			pm := map[string]any{}
			put(pm, "disableChecks", p.DisableChecks)
			put(pm, "disableANSChecks", p.DisableANSChecks)
			put(pm, "requireAllRNS", p.RequireAllRNS)
			put(pm, "delayBeforeChecks", p.DelayBeforeChecks)
			dm["propagation"] = pm
		}
		put(dm, "delayBeforeCheck", d.DelayBeforeCheck)
		put(dm, "disablePropagationCheck", d.DisablePropagationCheck)
		m["dnsChallenge"] = dm
	}
	if h := a.HTTPChallenge; h != nil {
		hm := map[string]any{}
		put(hm, "entryPoint", h.EntryPoint)
		put(hm, "delay", h.Delay)
		m["httpChallenge"] = hm
	}
	if t := a.TLSChallenge; t != nil {
		tm := map[string]any{}
		put(tm, "delay", t.Delay)
		m["tlsChallenge"] = tm
	}
	return m
}

// flatten turns a JSON tree into dotted path → JSON value text. Empty
// tables are kept as {} so an enabled challenge without options shows.
func flatten(prefix string, v any, out map[string]string) {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 && prefix != "" {
			out[prefix] = "{}"
			return
		}
		for k, e := range x {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			flatten(p, e, out)
		}
	default:
		b, _ := json.Marshal(x)
		out[prefix] = string(b)
	}
}

// fieldDiff compares two rendered trees and returns the differing paths,
// sorted, each with both values.
func fieldDiff(want, got map[string]any) (paths []string, lines []string) {
	fw, fg := map[string]string{}, map[string]string{}
	flatten("", want, fw)
	flatten("", got, fg)
	all := map[string]bool{}
	for k := range fw {
		all[k] = true
	}
	for k := range fg {
		all[k] = true
	}
	for k := range all {
		w, wok := fw[k]
		g, gok := fg[k]
		if wok && gok && w == g {
			continue
		}
		if !wok {
			w = "(absent)"
		}
		if !gok {
			g = "(absent)"
		}
		paths = append(paths, k)
	}
	sort.Strings(paths)
	for _, k := range paths {
		w, wok := fw[k]
		g, gok := fg[k]
		if !wok {
			w = "(absent)"
		}
		if !gok {
			g = "(absent)"
		}
		lines = append(lines, fmt.Sprintf("  %s: traefik %s, here %s", k, w, g))
	}
	return paths, lines
}

// expectedOutcomes reads the expected file of an input and its
// alternatives (.alt1.json …: Traefik's own flag typing depends on map
// order for some inputs, so it has several possible outcomes).
func expectedOutcomes(t *testing.T, dir, input string) []map[string]any {
	t.Helper()
	base := filepath.Join(dir, "expected-traefik-v3.7.9", "configs", input)
	files := []string{base + ".json"}
	alts, _ := filepath.Glob(base + ".alt*.json")
	files = append(files, alts...)
	var out []map[string]any
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatalf("%s: no expected outcome: %v", input, err)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		// Only the loader's verdict and the configuration are compared;
		// Traefik's error text and "loaded" are its own.
		delete(m, "error")
		delete(m, "loaded")
		if m["ok"] == false {
			m = map[string]any{"ok": false}
		}
		out = append(out, m)
	}
	return out
}

// TestConformanceTraefikConfigs loads every conformance input and compares
// it with what Traefik v3.7.9 made of it.
func TestConformanceTraefikConfigs(t *testing.T) {
	dir := conformanceDir
	if _, err := os.Stat(filepath.Join(dir, "configs", "MANIFEST.tsv")); err != nil {
		t.Skipf("conformance inputs not available (%v): they are Traefik's files, kept outside the project in ../shared/conformance-inputs", err)
	}
	inputs := readManifest(t, dir)
	if len(inputs) == 0 {
		t.Fatal("MANIFEST.tsv lists no inputs")
	}
	// fieldsOf maps an input to the fields its rows of the table cover.
	fieldsOf := map[string][]string{}
	for _, d := range deliberateDifferences {
		if strings.TrimSpace(d.Reason) == "" || len(d.Fields) == 0 || len(d.Inputs) == 0 {
			t.Fatalf("a deliberateDifferences row needs inputs, fields and a reason: %+v", d)
		}
		for _, in := range d.Inputs {
			fieldsOf[in] = append(fieldsOf[in], d.Fields...)
		}
	}
	used := map[string]bool{}
	var ran, same, different, refused int
	start := time.Now()
	for _, in := range inputs {
		t.Run(in.path, func(t *testing.T) {
			ran++
			loaded, err := loadConformanceInput(filepath.Join(dir, "configs", in.path), in.kind)
			got := renderTraefik(loaded, err)
			var best []string
			var bestLines []string
			for i, want := range expectedOutcomes(t, dir, in.path) {
				paths, lines := fieldDiff(want, got)
				if i == 0 || len(paths) < len(best) {
					best, bestLines = paths, lines
				}
			}
			if len(best) == 0 {
				same++
				return
			}
			fields, listed := fieldsOf[in.path]
			if listed {
				used[in.path] = true
				if uncovered := notCovered(best, fields); len(uncovered) == 0 {
					different++
					if contains(best, "ok") {
						refused++
					}
					return
				}
			}
			if contains(best, "ok") && err != nil {
				refused++
			}
			msg := fmt.Sprintf("%s reads differently from Traefik v3.7.9\n  source: %s (%s%s)\n%s",
				in.path, in.source, in.kind, tagSuffix(in.tags), strings.Join(bestLines, "\n"))
			if err != nil {
				msg += "\n  load error: " + err.Error()
			}
			if listed {
				msg += "\n  (listed in deliberateDifferences, but not for every field above)"
			}
			t.Error(msg)
		})
	}
	t.Logf("%d inputs: %d read the same as Traefik, %d deliberately different, %d refused; took %s",
		ran, same, different, refused, time.Since(start).Round(time.Millisecond))
	if ran < len(inputs) {
		return // a -run filter left some out: the table cannot be checked for stale rows
	}
	for in := range fieldsOf {
		if !used[in] {
			t.Errorf("deliberateDifferences lists %s, which now reads the same as Traefik (or is not an input): remove it", in)
		}
	}
}

func tagSuffix(tags string) string {
	if tags == "" {
		return ""
	}
	return ", " + tags
}

// notCovered returns the paths not matched by any of the patterns, where
// '*' in a pattern stands for one dot-separated segment.
func notCovered(paths, patterns []string) []string {
	var out []string
	for _, p := range paths {
		ok := false
		for _, pat := range patterns {
			if fieldMatch(pat, p) {
				ok = true
				break
			}
		}
		if !ok {
			out = append(out, p)
		}
	}
	return out
}

func fieldMatch(pattern, field string) bool {
	ps, fs := strings.Split(pattern, "."), strings.Split(field, ".")
	if len(ps) != len(fs) {
		return false
	}
	for i := range ps {
		if ps[i] != "*" && ps[i] != fs[i] {
			return false
		}
	}
	return true
}
