package config

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata (and the example inputs extracted from the seed doc)")

// The seed doc (testdata/seed/traefik-acme-docs.md, a copy of
// ../shared/seed/traefik-acme-docs.md) shows each example in three tabs:
// File (TOML), File (YAML) and CLI. seedExamples names its tab groups in
// order of appearance; "" marks the group that only includes other files
// (--8<-- "content/https/ref-acme.toml"), which has nothing to test.
var seedExamples = []string{
	"enabling-acme",
	"",
	"tls-challenge",
	"http-challenge",
	"dns-challenge-digitalocean",
	"dns-resolvers",
	"ca-server-staging",
	"storage",
}

var tabExt = map[string]string{"File (TOML)": ".toml", "File (YAML)": ".yaml", "CLI": ".sh"}

type seedTab struct {
	label string
	text  string
}

var tabStart = regexp.MustCompile("^(\\s*)```(toml|yaml|bash) tab=\"([^\"]+)\"\\s*$")

// extractTabs returns the tabbed code blocks of a mkdocs page, dedented.
func extractTabs(t *testing.T, doc string) []seedTab {
	t.Helper()
	lines := strings.Split(doc, "\n")
	var tabs []seedTab
	for i := 0; i < len(lines); i++ {
		m := tabStart.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		indent, label := m[1], m[3]
		var body []string
		closed := false
		for i++; i < len(lines); i++ {
			if strings.TrimRight(lines[i], " \t") == indent+"```" {
				closed = true
				break
			}
			body = append(body, strings.TrimRight(strings.TrimPrefix(lines[i], indent), " \t"))
		}
		if !closed {
			t.Fatalf("unterminated tab %q", label)
		}
		tabs = append(tabs, seedTab{label: label, text: strings.Join(body, "\n") + "\n"})
	}
	return tabs
}

// TestSeedExamplesExtracted checks that testdata/seed holds every tabbed
// example of the seed doc verbatim (-update writes them).
func TestSeedExamplesExtracted(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("testdata", "seed", "traefik-acme-docs.md"))
	if err != nil {
		t.Fatal(err)
	}
	tabs := extractTabs(t, string(doc))
	if len(tabs) != 3*len(seedExamples) {
		t.Fatalf("the seed doc has %d tabs, want %d (3 per example): update seedExamples", len(tabs), 3*len(seedExamples))
	}
	for g, name := range seedExamples {
		group := tabs[3*g : 3*g+3]
		for i, want := range []string{"File (TOML)", "File (YAML)", "CLI"} {
			if group[i].label != want {
				t.Fatalf("group %d tab %d is %q, want %q", g, i, group[i].label, want)
			}
		}
		if name == "" {
			for _, tab := range group {
				if !strings.HasPrefix(strings.TrimSpace(tab.text), "--8<--") {
					t.Fatalf("group %d is marked include-only but has %q", g, tab.text)
				}
			}
			continue
		}
		for _, tab := range group {
			path := filepath.Join("testdata", "seed", name+tabExt[tab.label])
			if *update {
				if err := os.WriteFile(path, []byte(tab.text), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("missing example %s (run go test -update): %v", path, err)
			}
			if string(got) != tab.text {
				t.Errorf("%s differs from the seed doc's %s tab of %s (run go test -update)", path, tab.label, name)
			}
		}
	}
}

// goldenResult is what a golden file records for one input.
type goldenResult struct {
	// Static is the decoded configuration after SetDefaults.
	Static *Static `json:"static"`
	// Warnings are the decoder's and SetDefaults' warnings.
	Warnings []string `json:"warnings,omitempty"`
	// Error is the decoding error, if any (then Static is null).
	Error string `json:"error,omitempty"`
	// ValidationError is what Validate reports on Static's resolvers (its
	// Problems), if anything.
	ValidationError string `json:"validation_error,omitempty"`
}

// shellArgs reads a CLI tab as the shell text it is: comment lines
// dropped, the rest split into words like a shell (which removes the
// quotes of --email="…"), lines continued with a backslash joined.
func shellArgs(text string) []string {
	var kept []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "#") {
			continue
		}
		kept = append(kept, l)
	}
	args, err := splitShellWords(strings.Join(kept, "\n"))
	if err != nil {
		panic(err)
	}
	return args
}

// envLines reads a .env example: one KEY=VALUE per line, taken literally;
// blank lines and # comments skipped.
func envLines(text string) []string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		out = append(out, l)
	}
	return out
}

// decodeInput decodes an input by its extension, without defaults.
func decodeInput(path string, data []byte) (*Static, []Warning, error) {
	switch filepath.Ext(path) {
	case ".toml":
		return decodeTOML(data)
	case ".yaml", ".yml":
		return decodeYAML(data)
	case ".sh":
		return decodeArgs(shellArgs(string(data)))
	case ".env":
		return decodeEnv(envLines(string(data)))
	}
	panic("unknown input " + path)
}

// parseInput runs the public parser for an input.
func parseInput(path string, data []byte) (*Static, []Warning, error) {
	switch filepath.Ext(path) {
	case ".toml":
		return ParseTOML(data)
	case ".yaml", ".yml":
		return ParseYAML(data)
	case ".sh":
		return ParseArgs(shellArgs(string(data)))
	case ".env":
		return ParseEnv(envLines(string(data)))
	}
	panic("unknown input " + path)
}

func warningStrings(ws []Warning) []string {
	out := make([]string, 0, len(ws))
	for _, w := range ws {
		out = append(out, w.String())
	}
	return out
}

// runInput decodes one input and checks that the public parser agrees.
func runInput(t *testing.T, path string, data []byte) goldenResult {
	t.Helper()
	var res goldenResult
	s, warns, err := decodeInput(path, data)
	if err != nil {
		if s != nil {
			t.Fatalf("decoding returned both a value and an error")
		}
		res.Error = err.Error()
	} else {
		s, warns, _ = finish(s, warns)
		res.Static = s
		res.ValidationError = problemsText(s)
	}
	res.Warnings = warningStrings(warns)

	pub, pwarns, perr := parseInput(path, data)
	if (pub == nil) == (perr == nil) {
		t.Fatalf("public parser returned value %v and error %v: want exactly one", pub != nil, perr)
	}
	switch {
	case res.Error == "":
		if !reflect.DeepEqual(pub, res.Static) {
			t.Errorf("public parser result differs from decode+finish")
		}
		if !reflect.DeepEqual(warningStrings(pwarns), res.Warnings) {
			t.Errorf("public parser warnings %q, want %q", warningStrings(pwarns), res.Warnings)
		}
	default:
		if !strings.Contains(perr.Error(), res.Error) {
			t.Errorf("public parser error %q does not contain %q", perr, res.Error)
		}
	}
	return res
}

// problemsText joins the resolver problems of s in name order.
func problemsText(s *Static) string {
	var out []string
	for _, name := range keys(s.Problems) {
		out = append(out, s.Problems[name].Error())
	}
	return strings.Join(out, "\n")
}

// goldenInputs lists the example inputs under testdata.
func goldenInputs(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, dir := range []string{"seed", "examples", "fixtures"} {
		entries, err := os.ReadDir(filepath.Join("testdata", dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			switch filepath.Ext(e.Name()) {
			case ".toml", ".yaml", ".yml", ".sh", ".env":
				out = append(out, filepath.Join("testdata", dir, e.Name()))
			}
		}
	}
	sort.Strings(out)
	return out
}

// TestGolden decodes every example input (the seed doc's tabs, the
// all-options examples and configurations real Traefik ran with) and
// compares the result after SetDefaults, the warnings and the validation
// result with its .golden.json file (-update rewrites them).
func TestGolden(t *testing.T) {
	for _, path := range goldenInputs(t) {
		t.Run(path, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			res := runInput(t, path, data)
			got, err := json.MarshalIndent(res, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := path + ".golden.json"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("missing golden (run go test -update): %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("result differs from %s (run go test -update and review the diff):\n%s", golden, got)
			}
		})
	}
}

// seedFixes lists, per seed example, the differences between the tabs
// that are mistakes of the doc itself; the spellings must agree once they
// are fixed, and each fix must apply (so it is removed when the doc is
// fixed).
var seedFixes = map[string]func(t *testing.T, ext string, data []byte) []byte{
	// The CLI tab names the second entry point "websecure", the file tabs
	// "web-secure".
	"enabling-acme":  renameCLIEntryPoint,
	"http-challenge": renameCLIEntryPoint,
	// The CLI tab writes "resolvers:=" (a typo Traefik itself rejects:
	// the option "resolvers:" does not exist; its golden records that
	// error with a did-you-mean).
	"dns-resolvers": func(t *testing.T, ext string, data []byte) []byte {
		if ext != ".sh" {
			return data
		}
		if bytes.Count(data, []byte("resolvers:=")) != 1 {
			t.Fatalf("the dns-resolvers CLI tab no longer has the resolvers:= typo; drop this fix")
		}
		return bytes.Replace(data, []byte("resolvers:="), []byte("resolvers="), 1)
	},
}

func renameCLIEntryPoint(t *testing.T, ext string, data []byte) []byte {
	if ext != ".sh" {
		return data
	}
	if !bytes.Contains(data, []byte("--entryPoints.websecure.address")) {
		t.Fatalf("the CLI tab no longer names the entry point websecure; drop this fix")
	}
	return bytes.Replace(data, []byte("--entryPoints.websecure.address"), []byte("--entryPoints.web-secure.address"), 1)
}

// TestSpellingsAgree checks that the spellings of one example (TOML, YAML,
// CLI and, for the all-options example, env) decode to identical values,
// warnings aside, and validate the same way.
func TestSpellingsAgree(t *testing.T) {
	groups := map[string][]string{}
	for _, path := range goldenInputs(t) {
		if strings.Contains(path, "fixtures") {
			continue
		}
		stem := strings.TrimSuffix(path, filepath.Ext(path))
		groups[stem] = append(groups[stem], path)
	}
	if len(groups) < 8 {
		t.Fatalf("found %d example groups, want at least 8", len(groups))
	}
	for stem, paths := range groups {
		t.Run(stem, func(t *testing.T) {
			if len(paths) < 3 {
				t.Fatalf("only %d spellings: %v", len(paths), paths)
			}
			fix := seedFixes[filepath.Base(stem)]
			var first string
			for _, path := range paths {
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if fix != nil {
					data = fix(t, filepath.Ext(path), data)
				}
				res := runInput(t, path, data)
				if res.Error != "" {
					t.Fatalf("%s: %s", path, res.Error)
				}
				res.Warnings = nil
				b, err := json.MarshalIndent(res, "", "  ")
				if err != nil {
					t.Fatal(err)
				}
				if first == "" {
					first = string(b)
					continue
				}
				if string(b) != first {
					t.Errorf("%s decodes differently from %s:\n%s\nwant:\n%s", path, paths[0], b, first)
				}
			}
		})
	}
}
