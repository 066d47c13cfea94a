package traefikacme

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
)

func TestInspectCommandFixtures(t *testing.T) {
	tests := []struct {
		desc, fixture, golden string
	}{
		{"traefik v2", "testdata/acmejson/traefik-v2-acme.json", "inspect-traefik-v2.txt"},
		{"traefik v3", cmdV3Fixture, "inspect-traefik-v3.txt"},
		{"traefik v3.6 rich", cmdRichFixture, "inspect-traefik-v3.6-rich.txt"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			dir := t.TempDir()
			path := cmdCopyFixture(t, tt.fixture, dir, "acme.json")
			f := cmdLoad(t, path)

			out, code, err := runTraefikCmd(t, "inspect", path, "--now", cmdTestNow.Format(time.RFC3339))
			if err != nil || code != 0 {
				t.Fatalf("inspect: code %d, %v", code, err)
			}
			assertNoKeyMaterial(t, out, f)
			cmdCompareGolden(t, tt.golden, strings.ReplaceAll(out, dir, "$TMP"))

			out, code, err = runTraefikCmd(t, "inspect", path, "--json", "--now", cmdTestNow.Format(time.RFC3339))
			if err != nil || code != 0 {
				t.Fatalf("inspect --json: code %d, %v", code, err)
			}
			assertNoKeyMaterial(t, out, f)
			var doc inspectReport
			dec := json.NewDecoder(strings.NewReader(out))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&doc); err != nil {
				t.Fatalf("decoding --json output: %v\n%s", err, out)
			}
			if doc.Path != path || doc.Format != "v2" || !doc.CheckedAt.Equal(cmdTestNow) || doc.ProblemCount != 0 || len(doc.Warnings) != 0 {
				t.Errorf("header: path %q format %q checked_at %v problems %d warnings %v", doc.Path, doc.Format, doc.CheckedAt, doc.ProblemCount, doc.Warnings)
			}
			var got []string
			for _, r := range doc.Resolvers {
				got = append(got, r.Name)
			}
			if want := f.ResolverNames(); !slices.Equal(got, want) {
				t.Fatalf("resolvers %v, want %v", got, want)
			}
			for _, r := range doc.Resolvers {
				entry := f[r.Name]
				if (entry.Account == nil) != (r.Account == nil) {
					t.Errorf("%s: account presence differs", r.Name)
				}
				if a := r.Account; a != nil {
					if a.Email != entry.Account.Email || a.RegistrationURI != entry.Account.Registration.URI || a.CAHost == "" || a.KeyType != "RSA4096" || a.Status != "valid" {
						t.Errorf("%s: account %+v", r.Name, *a)
					}
				}
				if len(r.Certificates) != len(entry.Certificates) {
					t.Fatalf("%s: %d certificates, want %d", r.Name, len(r.Certificates), len(entry.Certificates))
				}
				for i, c := range r.Certificates {
					p, err := entry.Certificates[i].Parse()
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(c.Names, entry.Certificates[i].Names()) || c.NotAfter == nil || !c.NotAfter.Equal(p.Leaf.NotAfter) ||
						c.KeyType != p.Leaf.KeyType || c.Issuer != p.Leaf.Issuer || c.DaysLeft == nil || *c.DaysLeft != 87 && *c.DaysLeft != 88 || len(c.Problems) != 0 {
						t.Errorf("%s[%d]: %+v", r.Name, i, c)
					}
				}
			}
		})
	}
}

// cmdProblemFile writes a file with one of each problem inspect reports.
func cmdProblemFile(t *testing.T, dir string) (string, acmejson.File) {
	t.Helper()
	f := cmdLoad(t, cmdRichFixture)
	// http-ec: the first entry gets the key of the second (mismatch).
	http := f["http-ec"]
	http.Certificates[0].Key = http.Certificates[1].Key
	// tls-rsa: the entry loses its certificate (empty entry).
	f["tls-rsa"].Certificates[0].Certificate = nil
	// dns-wild: an EC account key, which Traefik cannot read.
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	f["dns-wild"].Account.PrivateKey = der
	// broken: an undecodable certificate and an account never registered.
	f["broken"] = &acmejson.Resolver{
		Account: &acmejson.Account{Email: "broken@example.org"},
		Certificates: []*acmejson.Certificate{
			{Domain: acmejson.Domain{Main: "x.example.test"}, Certificate: []byte("not a pem"), Key: []byte("not a pem"), Store: "default"},
			nil,
		},
	}
	path := filepath.Join(dir, "acme.json")
	if err := acmejson.Save(path, f); err != nil {
		t.Fatal(err)
	}
	return path, f
}

func TestInspectCommandProblems(t *testing.T) {
	dir := t.TempDir()
	path, f := cmdProblemFile(t, dir)
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	after := "2027-03-01T00:00:00Z" // every leaf has expired

	out, code, err := runTraefikCmd(t, "inspect", path, "--now", after)
	if err != nil || code != 0 {
		t.Fatalf("inspect of a file with problems: code %d, %v (problems must not be fatal)", code, err)
	}
	assertNoKeyMaterial(t, out, f)
	cmdCompareGolden(t, "inspect-problems.txt", strings.ReplaceAll(out, dir, "$TMP"))

	out, _, err = runTraefikCmd(t, "inspect", path, "--json", "--now", after)
	if err != nil {
		t.Fatal(err)
	}
	var doc inspectReport
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	byName := map[string]inspectResolver{}
	for _, r := range doc.Resolvers {
		byName[r.Name] = r
	}
	tests := []struct {
		desc     string
		problems func() []string
		want     string
	}{
		{"key does not match", func() []string { return byName["http-ec"].Certificates[0].Problems }, "does not match"},
		{"expired", func() []string { return byName["http-ec"].Certificates[1].Problems }, "expired at 2027-02-27"},
		{"empty entry", func() []string { return byName["tls-rsa"].Certificates[0].Problems }, "empty certificate"},
		{"undecodable certificate", func() []string { return byName["broken"].Certificates[0].Problems }, "no PEM CERTIFICATE"},
		{"null entry", func() []string { return byName["broken"].Certificates[1].Problems }, "null"},
		{"EC account key", func() []string { return byName["dns-wild"].Account.Problems }, "must be RSA"},
		{"empty account key", func() []string { return byName["broken"].Account.Problems }, "key is empty"},
		{"unregistered account", func() []string { return byName["broken"].Account.Problems }, "no registration uri"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			got := tt.problems()
			if !slices.ContainsFunc(got, func(p string) bool { return strings.Contains(p, tt.want) }) {
				t.Errorf("problems %q do not mention %q", got, tt.want)
			}
		})
	}
	if got := byName["dns-wild"].Account.KeyType; got != "EC256" {
		t.Errorf("EC account key type %q, want EC256", got)
	}
	if c := byName["http-ec"].Certificates[0]; c.NotAfter == nil || c.Issuer == "" {
		t.Errorf("a mismatched entry still describes its leaf: %+v", c)
	}
	// The README lists a mode Traefik refuses among the problems: it is
	// one, and counted.
	if len(doc.Problems) != 1 || !strings.Contains(doc.Problems[0], "0644") || len(doc.Warnings) != 0 {
		t.Errorf("file problems %q, warnings %q; want one problem about mode 0644", doc.Problems, doc.Warnings)
	}
	if doc.ProblemCount != 9+1 {
		t.Errorf("problem_count %d, want 10 (9 in entries and accounts, the mode)", doc.ProblemCount)
	}
}

func TestInspectCommandLayouts(t *testing.T) {
	dir := t.TempDir()
	v1 := cmdCopyFixture(t, "testdata/commands/traefik-v1-acme.json", dir, "v1.json")
	v1Bytes, err := os.ReadFile(v1)
	if err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.json")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("traefik v1", func(t *testing.T) {
		out, code, err := runTraefikCmd(t, "inspect", v1, "--now", cmdTestNow.Format(time.RFC3339))
		if err != nil || code != 0 {
			t.Fatalf("inspect: code %d, %v", code, err)
		}
		cmdCompareGolden(t, "inspect-traefik-v1.txt", strings.ReplaceAll(out, dir, "$TMP"))
		if got, _ := os.ReadFile(v1); !bytes.Equal(got, v1Bytes) {
			t.Error("inspect changed the file")
		}
		if _, err := os.Stat(v1 + ".v1.bak"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("inspect wrote a backup: %v", err)
		}
	})
	t.Run("empty file", func(t *testing.T) {
		out, code, err := runTraefikCmd(t, "inspect", empty, "--json")
		if err != nil || code != 0 {
			t.Fatalf("inspect: code %d, %v", code, err)
		}
		var doc inspectReport
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatal(err)
		}
		if doc.Format != "empty" || len(doc.Resolvers) != 0 || len(doc.Warnings) != 1 || !strings.Contains(out, `"resolvers": []`) {
			t.Errorf("document for an empty file:\n%s", out)
		}
	})
}

func TestInspectCommandErrors(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile(cmdV3Fixture)
	if err != nil {
		t.Fatal(err)
	}
	corrupt := filepath.Join(dir, "corrupt.json")
	if err := os.WriteFile(corrupt, data[:len(data)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.json")
	tests := []struct {
		desc string
		args []string
		want []string
		is   error
	}{
		{"corrupted file", []string{corrupt}, []string{corrupt, "offset"}, nil},
		{"missing file", []string{missing}, []string{missing}, fs.ErrNotExist},
		{"a directory", []string{dir}, []string{dir, "is a directory"}, nil},
		{"no path", nil, []string{"missing the acme.json path"}, nil},
		{"two paths", []string{corrupt, missing}, []string{"expected one acme.json path"}, nil},
		{"bad --now", []string{cmdV3Fixture, "--now", "yesterday"}, []string{"--now"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			out, code, err := runTraefikCmd(t, "inspect", tt.args...)
			if err == nil || code == 0 {
				t.Fatalf("got code %d, error %v; want a failure", code, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
			if out != "" {
				t.Errorf("printed %q on failure", out)
			}
		})
	}
}
