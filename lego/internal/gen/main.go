// Command gen generates the lego bridge's provider registry from lego's own
// metadata, the way lego generates its providers/dns registry: every
// provider directory of the lego module carries a <name>.toml with its code,
// aliases, display name and environment variables.
//
// lego's registry package (providers/dns) imports every provider at once
// and does not build when one provider's SDK module cannot be downloaded.
// gen instead tries every provider package on its own (go list, then go
// build, in a scratch copy of this module) and leaves out the ones that do
// not build here, recording the reason.
//
// It writes:
//
//	zz_providers_gen.go            the registry of this module (one import per provider)
//	../dnsbridge/lego_codes_gen.go every lego code with its display name and, for the
//	                               codes left out, why (so a Caddy without the bridge
//	                               can still explain every code)
//
// Run from the lego/ directory: go generate ./... (then go mod tidy).
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/format"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

const legoModule = "github.com/go-acme/lego/v5"

// deliberatelyOut are lego providers that cannot work inside a server.
var deliberatelyOut = map[string]string{
	"manual": "it prints the record and waits for Enter on standard input, which a server cannot do; " +
		"use exec or httpreq to hand the record to your own tooling",
}

type meta struct {
	Name    string
	URL     string
	Code    string
	Aliases []string
	Dir     string // directory (and import path element)

	Credentials []string
	Additional  []string

	LeftOut string
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("gen: ")
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	legoDir, legoVersion, err := moduleDir(legoModule)
	if err != nil {
		return err
	}
	provs, err := readMetadata(filepath.Join(legoDir, "providers", "dns"))
	if err != nil {
		return err
	}
	log.Printf("%s %s: %d providers", legoModule, legoVersion, len(provs))

	if err := probe(provs); err != nil {
		return err
	}

	var served, out int
	for _, p := range provs {
		if p.LeftOut == "" {
			served++
		} else {
			out++
			log.Printf("left out %s: %s", p.Code, p.LeftOut)
		}
	}
	log.Printf("%d providers served, %d left out", served, out)

	if err := writeGo("zz_providers_gen.go", registrySource(provs, legoVersion)); err != nil {
		return err
	}
	return writeGo(filepath.Join("..", "dnsbridge", "lego_codes_gen.go"), codesSource(provs, legoVersion))
}

// moduleDir returns the directory and version of a module in the build list
// of the current module.
func moduleDir(path string) (dir, version string, err error) {
	out, err := exec.Command("go", "list", "-m", "-json", path).Output()
	if err != nil {
		return "", "", fmt.Errorf("go list -m %s: %w", path, err)
	}
	var m struct{ Dir, Version string }
	if err := json.Unmarshal(out, &m); err != nil {
		return "", "", err
	}
	if m.Dir == "" {
		if out, err := exec.Command("go", "mod", "download", "-json", path+"@"+m.Version).Output(); err == nil {
			_ = json.Unmarshal(out, &m)
		}
	}
	if m.Dir == "" {
		return "", "", fmt.Errorf("module %s is not downloaded", path)
	}
	return m.Dir, m.Version, nil
}

// readMetadata parses every provider .toml, sorted by code.
func readMetadata(root string) ([]*meta, error) {
	dirs, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	var provs []*meta
	for _, d := range dirs {
		if !d.IsDir() || d.Name() == "internal" {
			continue
		}
		files, _ := filepath.Glob(filepath.Join(root, d.Name(), "*.toml"))
		if len(files) != 1 {
			continue
		}
		var raw struct {
			Name, URL, Code string
			Aliases         []string
			Configuration   struct {
				Credentials map[string]string
				Additional  map[string]string
			}
		}
		md, err := toml.DecodeFile(files[0], &raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", files[0], err)
		}
		p := &meta{Name: raw.Name, URL: raw.URL, Code: raw.Code, Aliases: raw.Aliases, Dir: d.Name()}
		// Keep lego's documentation order.
		for _, k := range md.Keys() {
			if len(k) != 3 || k[0] != "Configuration" {
				continue
			}
			if !envNameRE.MatchString(k[2]) {
				continue // prose such as "Application Default Credentials"
			}
			switch k[1] {
			case "Credentials":
				p.Credentials = append(p.Credentials, k[2])
			case "Additional":
				p.Additional = append(p.Additional, k[2])
			}
		}
		if p.Code == "" {
			return nil, fmt.Errorf("%s: no Code", files[0])
		}
		if r, ok := deliberatelyOut[p.Code]; ok {
			p.LeftOut = r
		}
		provs = append(provs, p)
	}
	sort.Slice(provs, func(i, j int) bool { return provs[i].Code < provs[j].Code })
	return provs, nil
}

var (
	envNameRE   = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)
	moduleErrRE = regexp.MustCompile(`([\w./\-~!]+)@(v[\w.\-+]+): (?:reading|verifying|.*?)(?::|$)`)
	statusRE    = regexp.MustCompile(`\b(40[0-9]|410) [A-Z][a-z]+`)
)

// probe sets LeftOut for every provider whose package does not build here:
// first go list (modules that cannot be downloaded), then go build of the
// rest (compile errors), in a scratch copy of this module.
func probe(provs []*meta) error {
	scratch, err := os.MkdirTemp("", "legogen-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	if err := copyModule(scratch); err != nil {
		return err
	}

	pkg := func(p *meta) string { return legoModule + "/providers/dns/" + p.Dir }
	byPkg := map[string]*meta{}
	var pkgs []string
	for _, p := range provs {
		if p.LeftOut != "" {
			continue
		}
		byPkg[pkg(p)] = p
		pkgs = append(pkgs, pkg(p))
	}

	// 1. go list: every package with an error or a dependency error.
	args := append([]string{"list", "-e", "-json=ImportPath,Error,DepsErrors", "-deps"}, pkgs...)
	out, stderr, err := goCmd(scratch, args...)
	if err != nil {
		return fmt.Errorf("go list: %w\n%s", err, stderr)
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var lp struct {
			ImportPath string
			Error      *struct{ Err string }
			DepsErrors []struct{ Err string }
		}
		if err := dec.Decode(&lp); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return err
		}
		p, ok := byPkg[lp.ImportPath]
		if !ok {
			continue
		}
		var msgs []string
		if lp.Error != nil {
			msgs = append(msgs, lp.Error.Err)
		}
		for _, e := range lp.DepsErrors {
			msgs = append(msgs, e.Err)
		}
		if len(msgs) > 0 {
			p.LeftOut = explain(msgs)
		}
	}

	// 2. go build the rest; leave out each package that fails, until the
	// remaining set builds.
	for round := 0; ; round++ {
		var ok []string
		for _, p := range provs {
			if p.LeftOut == "" {
				ok = append(ok, pkg(p))
			}
		}
		_, stderr, err := goCmd(scratch, append([]string{"build"}, ok...)...)
		if err == nil {
			return nil
		}
		failed := 0
		for _, block := range strings.Split(stderr, "# ")[1:] {
			head, body, _ := strings.Cut(block, "\n")
			head = strings.TrimSpace(head)
			for path, p := range byPkg {
				if p.LeftOut == "" && (head == path || strings.HasPrefix(head, path+"/")) {
					first, _, _ := strings.Cut(strings.TrimSpace(body), "\n")
					p.LeftOut = "its package does not compile against the dependency versions of this build: " + first
					failed++
				}
			}
		}
		if failed == 0 || round > 10 {
			return fmt.Errorf("go build of the provider packages failed and no provider could be blamed:\n%s", stderr)
		}
	}
}

// explain turns go list errors into one sentence.
func explain(msgs []string) string {
	var mods []string
	status := ""
	for _, m := range msgs {
		for _, sm := range moduleErrRE.FindAllStringSubmatch(m, -1) {
			mod := sm[1] + "@" + sm[2]
			if !slices.Contains(mods, mod) && !strings.HasPrefix(sm[1], "/") {
				mods = append(mods, mod)
			}
		}
		if s := statusRE.FindString(m); s != "" && status == "" {
			status = s
		}
	}
	if len(mods) > 0 {
		sort.Strings(mods)
		why := "the Go module proxy used for this build does not serve it"
		if status != "" {
			why += " (" + status + ")"
		}
		noun := "its SDK module"
		if len(mods) > 1 {
			noun = "its SDK modules"
		}
		return fmt.Sprintf("%s %s cannot be downloaded: %s", noun, strings.Join(mods, ", "), why)
	}
	first, _, _ := strings.Cut(msgs[0], "\n")
	return "its package does not load: " + first
}

// copyModule copies go.mod and go.sum of the current module into dir,
// making relative replacements absolute.
func copyModule(dir string) error {
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	mod, err := os.ReadFile("go.mod")
	if err != nil {
		return fmt.Errorf("run gen from the lego/ module directory: %w", err)
	}
	abs := filepath.Dir(wd) // the repository root, target of "=> ../"
	mod = bytes.ReplaceAll(mod, []byte("=> ../\n"), []byte("=> "+abs+"\n"))
	mod = bytes.ReplaceAll(mod, []byte("=> ..\n"), []byte("=> "+abs+"\n"))
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), mod, 0o644); err != nil {
		return err
	}
	if sum, err := os.ReadFile("go.sum"); err == nil {
		return os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644)
	}
	return nil
}

func goCmd(dir string, args ...string) (stdout []byte, stderr string, err error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err = cmd.Run()
	return so.Bytes(), se.String(), err
}

func writeGo(path string, src []byte) error {
	out, err := format.Source(src)
	if err != nil {
		return fmt.Errorf("formatting %s: %w\n%s", path, err, src)
	}
	return os.WriteFile(path, out, 0o644)
}

func alias(p *meta) string { return "p" + strings.ReplaceAll(p.Dir, "-", "_") }

func registrySource(provs []*meta, version string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code generated by internal/gen from the .toml metadata of %s %s; DO NOT EDIT.\n\n", legoModule, version)
	b.WriteString("package lego\n\nimport (\n\t\"github.com/go-acme/lego/v5/challenge\"\n\n")
	for _, p := range provs {
		if p.LeftOut == "" {
			fmt.Fprintf(&b, "\t%s %q\n", alias(p), legoModule+"/providers/dns/"+p.Dir)
		}
	}
	b.WriteString(")\n\n")
	fmt.Fprintf(&b, "// legoVersion is the lego release the providers come from.\nconst legoVersion = %q\n\n", version)
	b.WriteString("// providers are lego's DNS providers that build here, sorted by code.\nvar providers = []provider{\n")
	for _, p := range provs {
		if p.LeftOut != "" {
			continue
		}
		fmt.Fprintf(&b, "\t{\n\t\tcode: %q,\n", p.Code)
		if len(p.Aliases) > 0 {
			fmt.Fprintf(&b, "\t\taliases: %#v,\n", p.Aliases)
		}
		fmt.Fprintf(&b, "\t\tname: %q,\n\t\turl: %q,\n", p.Name, p.URL)
		if len(p.Credentials) > 0 {
			fmt.Fprintf(&b, "\t\tcredentials: %#v,\n", p.Credentials)
		}
		if len(p.Additional) > 0 {
			fmt.Fprintf(&b, "\t\tadditional: %#v,\n", p.Additional)
		}
		fmt.Fprintf(&b, "\t\tnew: func() (challenge.Provider, error) { return %s.NewDNSProvider() },\n\t},\n", alias(p))
	}
	b.WriteString("}\n\n")
	b.WriteString("// leftOut are lego's codes that this build does not serve, with the reason.\nvar leftOut = map[string]string{\n")
	for _, p := range provs {
		if p.LeftOut != "" {
			fmt.Fprintf(&b, "\t%q: %q,\n", p.Code, p.LeftOut)
		}
	}
	b.WriteString("}\n")
	return b.Bytes()
}

func codesSource(provs []*meta, version string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code generated by lego/internal/gen from the .toml metadata of %s %s; DO NOT EDIT.\n\n", legoModule, version)
	b.WriteString("package dnsbridge\n\n")
	fmt.Fprintf(&b, "// legoVersion is the lego release the lego bridge serves.\nconst legoVersion = %q\n\n", version)
	b.WriteString("// legoCodes are every code and alias of lego's DNS provider registry.\nvar legoCodes = map[string]legoCodeInfo{\n")
	for _, p := range provs {
		for _, c := range append([]string{p.Code}, p.Aliases...) {
			if p.LeftOut != "" {
				fmt.Fprintf(&b, "\t%q: {name: %q, leftOut: %q},\n", c, p.Name, p.LeftOut)
			} else {
				fmt.Fprintf(&b, "\t%q: {name: %q},\n", c, p.Name)
			}
		}
	}
	b.WriteString("}\n")
	return b.Bytes()
}
