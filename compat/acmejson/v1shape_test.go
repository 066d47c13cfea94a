package acmejson

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// traefikReadV1File builds the file Traefik v2/v3 writes when its storage is
// a Traefik v1 acme.json: it decodes the v1 object as a map of resolvers
// (encoding/json skips what does not fit and keeps the entries), so the v1
// top-level keys Account, Certificates, HTTPChallenges and TLSChallenges
// become resolvers holding {"Account": null, "Certificates": null}, and it
// writes them back next to its real resolvers (here the three of a file
// real Traefik v3 wrote).
func traefikReadV1File(t testing.TB) []byte {
	t.Helper()
	var top map[string]json.RawMessage
	if err := json.Unmarshal(readTestdata(t, "traefik-v3-acme.json"), &top); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"Account", "Certificates", "HTTPChallenges", "TLSChallenges"} {
		top[k] = json.RawMessage(`{"Account": null, "Certificates": null}`)
	}
	b, err := json.MarshalIndent(top, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestV1KeyNamesAreNotV1 is the regression test for a file Traefik v2/v3
// wrote from a v1 file (see traefikReadV1File): it is a v2 file, its real
// resolvers load with their accounts and certificates, and the leftover
// v1 keys are reported.
func TestV1KeyNamesAreNotV1(t *testing.T) {
	data := traefikReadV1File(t)
	f, format, err := Parse(data, "")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if format != FormatV2 {
		t.Fatalf("format = %v, want v2", format)
	}
	want := mustParse(t, readTestdata(t, "traefik-v3-acme.json"))
	for _, name := range want.ResolverNames() {
		if !reflect.DeepEqual(f[name], want[name]) {
			t.Errorf("resolver %q differs from the one Traefik wrote", name)
		}
	}
	if got, wantOdd := f.LeftoverV1Keys(), []string{"Account", "Certificates", "HTTPChallenges", "TLSChallenges"}; !reflect.DeepEqual(got, wantOdd) {
		t.Errorf("LeftoverV1Keys = %v, want %v", got, wantOdd)
	}
	if len(f.Problems(pinnedNow)) != 0 {
		t.Errorf("Problems = %v, want none", f.Problems(pinnedNow))
	}

	// Load neither converts nor backs it up, and a save keeps every resolver.
	p := filepath.Join(t.TempDir(), "acme.json")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	lf, info, err := LoadDetailed(p, LoadOptions{Resolver: "le-http"})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if info.Format != FormatV2 || info.Backup != "" {
		t.Errorf("format %v, backup %q; want v2 and no backup", info.Format, info.Backup)
	}
	out, err := lf.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	again := mustParse(t, out)
	if !reflect.DeepEqual(again.ResolverNames(), f.ResolverNames()) {
		t.Errorf("after a round trip resolvers = %v, want %v", again.ResolverNames(), f.ResolverNames())
	}
}

// TestV1DetectedByShape: a real v1 file is still converted whatever other
// keys it has, and a v2 resolver may be called like a v1 key.
func TestV1DetectedByShape(t *testing.T) {
	v1 := readTestdata(t, "traefik-v1-acme.json")
	tests := []struct {
		desc   string
		in     []byte
		format Format
	}{
		{"v1 fixture", v1, FormatV1},
		{"v1 account only", []byte(`{"Account": {"PrivateKey": "AAAA"}, "HTTPChallenges": {}}`), FormatV1},
		{"v1 certificates only", []byte(`{"Certificates": [], "TLSChallenges": {}}`), FormatV1},
		{"resolver named Account holding an account", []byte(`{"Account": {"Account": {"Email": "a@example.org"}, "Certificates": []}}`), FormatV2},
		{"resolver named TLSChallenges", []byte(`{"TLSChallenges": {"Account": null, "Certificates": []}, "le": null}`), FormatV2},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			_, format, err := Parse(tt.in, "")
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if format != tt.format {
				t.Errorf("format = %v, want %v", format, tt.format)
			}
		})
	}
}
