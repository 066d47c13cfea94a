package acmejson

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestRoundTripFixtures: Load → Save of an unmodified Traefik file gives the
// same bytes, and a second Load reads the same model.
func TestRoundTripFixtures(t *testing.T) {
	for _, name := range fixtures {
		t.Run(name, func(t *testing.T) {
			orig := readTestdata(t, name)
			p := copyFixture(t, name, 0o600)
			f1, err := Load(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := Save(p, f1); err != nil {
				t.Fatal(err)
			}
			saved, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(saved, orig) {
				t.Fatalf("saved file differs from traefik's bytes (%d vs %d bytes)", len(saved), len(orig))
			}
			f2, err := Load(p)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(f1, f2) {
				t.Fatal("second load differs from first")
			}
			ref, err := json.MarshalIndent(f1, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(ref, orig) {
				t.Fatal("encoding/json.MarshalIndent of the model differs from traefik's bytes")
			}
		})
	}
}

// TestFixtureEntries checks what the real files hold: every certificate
// matches its key, has the expected key encoding and type, covers its
// requested names, and every account key is DER PKCS#1 RSA-4096.
func TestFixtureEntries(t *testing.T) {
	type want struct {
		names   []string
		keyType string
		pemType string
	}
	tests := []struct {
		file     string
		resolver string
		certs    []want
		keyType  string // Account.KeyType
	}{
		{"traefik-v2-acme.json", "le-dns", []want{{[]string{"d1.example.test"}, "RSA4096", "PRIVATE KEY"}}, ""},
		{"traefik-v2-acme.json", "le-http", []want{{[]string{"h1.example.test"}, "RSA4096", "PRIVATE KEY"}}, ""},
		{"traefik-v2-acme.json", "le-tls", []want{{[]string{"t1.example.test"}, "RSA4096", "PRIVATE KEY"}}, ""},
		{"traefik-v3-acme.json", "le-dns", []want{{[]string{"d1.example.test"}, "RSA4096", "PRIVATE KEY"}}, ""},
		{"traefik-v3-acme.json", "le-http", []want{{[]string{"h1.example.test"}, "RSA4096", "PRIVATE KEY"}}, ""},
		{"traefik-v3-acme.json", "le-tls", []want{{[]string{"t1.example.test"}, "RSA4096", "PRIVATE KEY"}}, ""},
		{"traefik-v3.6.21-rich-acme.json", "dns-wild", []want{{[]string{"wild.example.test", "*.wild.example.test"}, "EC384", "EC PRIVATE KEY"}}, "P384"},
		{"traefik-v3.6.21-rich-acme.json", "http-ec", []want{
			{[]string{"a.example.test", "b.example.test", "c.example.test"}, "EC256", "EC PRIVATE KEY"},
			{[]string{"plain.example.test"}, "EC256", "EC PRIVATE KEY"},
		}, "P256"},
		{"traefik-v3.6.21-rich-acme.json", "tls-rsa", []want{{[]string{"tls1.example.test"}, "RSA2048", "RSA PRIVATE KEY"}}, "2048"},
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+tt.resolver, func(t *testing.T) {
			f := mustParse(t, readTestdata(t, tt.file))
			r := f[tt.resolver]
			if r == nil || r.Account == nil {
				t.Fatal("resolver or account missing")
			}
			key, err := r.Account.Key()
			if err != nil {
				t.Fatal(err)
			}
			if key.N.BitLen() != 4096 {
				t.Errorf("account key has %d bits, want 4096", key.N.BitLen())
			}
			if r.Account.KeyType != tt.keyType {
				t.Errorf("KeyType = %q, want %q", r.Account.KeyType, tt.keyType)
			}
			if r.Account.Registration == nil || !strings.HasPrefix(r.Account.Registration.URI, "https://127.0.0.1:") {
				t.Errorf("registration uri missing: %+v", r.Account.Registration)
			}
			if len(r.Certificates) != len(tt.certs) {
				t.Fatalf("%d certificates, want %d", len(r.Certificates), len(tt.certs))
			}
			for i, w := range tt.certs {
				c := r.Certificates[i]
				if !reflect.DeepEqual(c.Names(), w.names) {
					t.Errorf("names = %v, want %v", c.Names(), w.names)
				}
				if c.Store != DefaultStore {
					t.Errorf("Store = %q", c.Store)
				}
				if !bytes.HasPrefix(c.Key, []byte("-----BEGIN "+w.pemType+"-----")) {
					t.Errorf("key PEM type is not %q", w.pemType)
				}
				p, err := c.Parse()
				if err != nil {
					t.Fatal(err)
				}
				if len(p.Chain) != 2 {
					t.Errorf("chain has %d certificates, want 2", len(p.Chain))
				}
				if p.Leaf.KeyType != w.keyType {
					t.Errorf("leaf key type = %q, want %q", p.Leaf.KeyType, w.keyType)
				}
				for _, n := range w.names {
					if !p.Leaf.Covers(n) {
						t.Errorf("leaf %v does not cover %q", p.Leaf.Names, n)
					}
				}
				if p.Leaf.Expired(pinnedNow) {
					t.Errorf("leaf expired at pinned time")
				}
				if !strings.HasPrefix(p.Leaf.Issuer, "Pebble Intermediate CA") {
					t.Errorf("issuer = %q", p.Leaf.Issuer)
				}
			}
			if probs := f.Problems(pinnedNow); len(probs) != 0 {
				t.Errorf("problems in a clean fixture: %v", probs)
			}
		})
	}
}

func TestNullAccountAndCertificatesPreserved(t *testing.T) {
	tests := []struct {
		desc string
		in   string
	}{
		{"null account and certificates", "{\n  \"x\": {\n    \"Account\": null,\n    \"Certificates\": null\n  }\n}"},
		{"empty certificates array", "{\n  \"x\": {\n    \"Account\": null,\n    \"Certificates\": []\n  }\n}"},
		{"null resolver", "{\n  \"x\": null\n}"},
		{"null entry", "{\n  \"x\": {\n    \"Account\": null,\n    \"Certificates\": [\n      null\n    ]\n  }\n}"},
		{"empty domain and store", "{\n  \"x\": {\n    \"Account\": null,\n    \"Certificates\": [\n      {\n        \"domain\": {},\n        \"Store\": \"\"\n      }\n    ]\n  }\n}"},
		{"account without registration", "{\n  \"x\": {\n    \"Account\": {\n      \"Email\": \"\",\n      \"Registration\": null,\n      \"PrivateKey\": null\n    },\n    \"Certificates\": null\n  }\n}"},
		{"empty file object", "{}"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			f, format, err := Parse([]byte(tt.in), "")
			if err != nil {
				t.Fatal(err)
			}
			if format != FormatV2 {
				t.Fatalf("format = %v", format)
			}
			out, err := f.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tt.in {
				t.Fatalf("round trip:\n got %s\nwant %s", out, tt.in)
			}
		})
	}
}

func TestUnknownBodyFieldsRoundTrip(t *testing.T) {
	in := `{"le":{"Account":{"Email":"a@example.org","Registration":{"body":{"status":"valid","x-future":{"n":1.50,"s":"<&>"},"contact":["mailto:a@example.org"]},"uri":"https://ca.example/acct/1"},"PrivateKey":"AAEC"},"Certificates":null}}`
	f := mustParse(t, []byte(in))
	out, err := f.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	f2 := mustParse(t, out)
	var body map[string]any
	if err := json.Unmarshal(f2["le"].Account.Registration.Body, &body); err != nil {
		t.Fatal(err)
	}
	if _, ok := body["x-future"]; !ok {
		t.Fatalf("unknown body field lost: %s", f2["le"].Account.Registration.Body)
	}
	if !bytes.Contains(out, []byte(`"n": 1.50`)) {
		t.Errorf("number not kept verbatim:\n%s", out)
	}
	if !bytes.Contains(out, []byte(`"x-future": {`)) || bytes.Index(out, []byte(`"status"`)) > bytes.Index(out, []byte(`"x-future"`)) {
		t.Errorf("body field order not kept:\n%s", out)
	}
	if !bytes.Equal(f2["le"].Account.PrivateKey, []byte{0, 1, 2}) {
		t.Errorf("private key bytes changed")
	}
}

func TestParseCaseInsensitiveKeys(t *testing.T) {
	in := `{"le":{"account":{"email":"a@example.org","REGISTRATION":{"Body":{"status":"valid"},"URI":"u"},"privatekey":"AAEC"},"certificates":[{"Domain":{"Main":"a.example","SANs":["b.example"]},"Certificate":"AQ==","KEY":"Ag==","store":"default"}]}}`
	f := mustParse(t, []byte(in))
	r := f["le"]
	if r == nil || r.Account == nil || r.Account.Email != "a@example.org" || r.Account.Registration.URI != "u" {
		t.Fatalf("account not read: %+v", r)
	}
	c := r.Certificates[0]
	if c.Domain.Main != "a.example" || len(c.Domain.SANs) != 1 || c.Store != "default" || len(c.Certificate) != 1 || len(c.Key) != 1 {
		t.Fatalf("certificate not read: %+v", c)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		desc   string
		in     string
		offset string
	}{
		{"truncated", `{"le": {"Account": nu`, "byte offset"},
		{"garbage", `{"le": x}`, "byte offset 8"},
		{"top-level array", `[1,2]`, "byte offset"},
		{"string certificates", `{"le": {"Certificates": "x"}}`, "byte offset"},
		{"bad base64", `{"le": {"Certificates": [{"certificate": "!!"}]}}`, ""},
		{"pre-1.6 layout", `{"Account": {"Email": "a", "DomainsCertificate": {"Certs": []}}}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			_, _, err := Parse([]byte(tt.in), "")
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.offset) {
				t.Errorf("error %q does not mention %q", err, tt.offset)
			}
		})
	}
}

func TestParseFormats(t *testing.T) {
	tests := []struct {
		desc      string
		in        string
		format    Format
		resolvers []string
	}{
		{"empty", "", FormatEmpty, nil},
		{"white space", " \n\t", FormatEmpty, nil},
		{"null", "null", FormatEmpty, nil},
		{"empty object", "{}", FormatV2, nil},
		// Nothing v1-shaped (no account object, no certificate array): by
		// shape this is a v2 file with three (empty) resolvers.
		{"v1 key names only", `{"Account": null, "Certificates": null, "HTTPChallenges": {}}`, FormatV2, []string{"Account", "Certificates", "HTTPChallenges"}},
		{"v1 with challenges", `{"Account": {"Email": "a@example.org"}, "Certificates": null, "HTTPChallenges": {}, "TLSChallenges": {}}`, FormatV1, []string{"default"}},
		{"v1 certificates array", `{"Certificates": []}`, FormatV1, []string{"default"}},
		{"v1 account object", `{"Account": {"Email": "a@example.org", "PrivateKey": null}}`, FormatV1, []string{"default"}},
		{"v2 resolver named Account", `{"Account": {"Account": null, "Certificates": null}, "le": null}`, FormatV2, []string{"Account", "le"}},
		{"v2 resolver named Certificates", `{"Certificates": {"Account": null, "Certificates": []}}`, FormatV2, []string{"Certificates"}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			f, format, err := Parse([]byte(tt.in), "")
			if err != nil {
				t.Fatal(err)
			}
			if format != tt.format {
				t.Errorf("format = %v, want %v", format, tt.format)
			}
			if f == nil {
				t.Fatal("nil File")
			}
			if got := f.ResolverNames(); !reflect.DeepEqual(got, tt.resolvers) && (len(got) != 0 || len(tt.resolvers) != 0) {
				t.Errorf("resolvers = %v, want %v", got, tt.resolvers)
			}
		})
	}
}

func TestUpgradeACMEv1URL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://acme-v01.api.letsencrypt.org/acme/reg/12345", "https://acme-v02.api.letsencrypt.org/acme/acct/12345"},
		{"https://acme-staging.api.letsencrypt.org/acme/reg/9", "https://acme-staging-v02.api.letsencrypt.org/acme/acct/9"},
		{"https://acme-v02.api.letsencrypt.org/acme/acct/1", "https://acme-v02.api.letsencrypt.org/acme/acct/1"},
		{"https://127.0.0.1:14000/my-account/1", "https://127.0.0.1:14000/my-account/1"},
		{"", ""},
		{"::not a url", "::not a url"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := UpgradeACMEv1URL(tt.in); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestV1Conversion loads a v1 file built from the v2 fixture (see
// testdata/traefik-v1-acme.json) and compares the converted file with a
// golden file (go test -run TestV1Conversion -update rewrites it).
func TestV1Conversion(t *testing.T) {
	orig := readTestdata(t, "traefik-v1-acme.json")
	p := copyFixture(t, "traefik-v1-acme.json", 0o600)
	rec := &recorder{}
	f, info, err := LoadDetailed(p, LoadOptions{Resolver: "le", Logger: slogOf(rec)})
	if err != nil {
		t.Fatal(err)
	}
	if info.Format != FormatV1 || info.Backup != p+".v1.bak" {
		t.Fatalf("info = %+v", info)
	}
	if rec.count("converted traefik v1 acme.json to the v2 layout; the file is rewritten on the next save") != 1 {
		t.Errorf("no conversion log: %v", rec.msgs)
	}
	bak, err := os.ReadFile(info.Backup)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bak, orig) {
		t.Fatal("backup differs from the original")
	}
	if fi, _ := os.Stat(info.Backup); fi.Mode().Perm() != 0o600 {
		t.Errorf("backup mode %o", fi.Mode().Perm())
	}
	r := f["le"]
	if r == nil || len(f) != 1 {
		t.Fatalf("resolvers: %v", f.ResolverNames())
	}
	if got := r.Account.Registration.URI; got != "https://acme-v02.api.letsencrypt.org/acme/acct/12345678" {
		t.Errorf("uri = %q", got)
	}
	if len(r.Certificates) != 2 {
		t.Fatalf("%d certificates", len(r.Certificates))
	}
	for _, c := range r.Certificates {
		if c.Store != DefaultStore || c.Domain.SANs != nil {
			t.Errorf("entry %+v", c.Domain)
		}
		if _, err := c.Parse(); err != nil {
			t.Error(err)
		}
	}
	// The file itself is untouched until a save.
	if now, _ := os.ReadFile(p); !bytes.Equal(now, orig) {
		t.Fatal("load changed the v1 file")
	}
	// A second load reuses the same backup.
	if _, info2, err := LoadDetailed(p, LoadOptions{Resolver: "le"}); err != nil || info2.Backup != info.Backup {
		t.Fatalf("second load: %v %+v", err, info2)
	}
	if err := Save(p, f); err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "traefik-v1-converted.golden.json")
	if *update {
		if err := os.WriteFile(golden, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if want := readTestdata(t, "traefik-v1-converted.golden.json"); !bytes.Equal(out, want) {
		t.Fatalf("converted file differs from %s", golden)
	}
	f3, info3, err := LoadDetailed(p, LoadOptions{})
	if err != nil || info3.Format != FormatV2 || !reflect.DeepEqual(f3.ResolverNames(), []string{"le"}) {
		t.Fatalf("reload: %v %+v", err, info3)
	}
	if bak2, _ := os.ReadFile(info.Backup); !bytes.Equal(bak2, orig) {
		t.Fatal("backup changed")
	}
}

func TestV1BackupNeverOverwritten(t *testing.T) {
	p := copyFixture(t, "traefik-v1-acme.json", 0o600)
	if err := os.WriteFile(p+".v1.bak", []byte("older backup"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, info, err := LoadDetailed(p, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if info.Backup != p+".v1.bak.1" {
		t.Fatalf("backup = %q", info.Backup)
	}
	if b, _ := os.ReadFile(p + ".v1.bak"); string(b) != "older backup" {
		t.Fatal("existing backup overwritten")
	}
	if b, _ := os.ReadFile(info.Backup); !bytes.Equal(b, readTestdata(t, "traefik-v1-acme.json")) {
		t.Fatal("new backup content")
	}
}

func TestV1ReadOnlyWritesNoBackup(t *testing.T) {
	p := copyFixture(t, "traefik-v1-acme.json", 0o600)
	f, info, err := LoadDetailed(p, LoadOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if info.Backup != "" || f[DefaultV1Resolver] == nil {
		t.Fatalf("info %+v, resolvers %v", info, f.ResolverNames())
	}
	if got := dirNames(t, filepath.Dir(p)); !reflect.DeepEqual(got, []string{"acme.json"}) {
		t.Fatalf("files: %v", got)
	}
}

// TestMarshalMatchesEncodingJSON compares the hand-written encoder with
// encoding/json.MarshalIndent on many random files, including awkward
// strings, nil and empty slices, null entries and raw bodies.
func TestMarshalMatchesEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	strs := []string{"", "a.example", "*.wild.example", "<&>", "é.example", "tab\there", "quote\"back\\slash", "\x7f\x01", "\u2028", "bad\xffutf8", "Store"}
	pick := func() string { return strs[rng.IntN(len(strs))] }
	bodies := []json.RawMessage{nil, json.RawMessage(`{}`), json.RawMessage(` { "status" : "valid", "x": [1, 2.50, "<"] } `), json.RawMessage(`null`), json.RawMessage(`[]`)}
	bytesOf := func() []byte {
		switch rng.IntN(3) {
		case 0:
			return nil
		case 1:
			return []byte{}
		default:
			b := make([]byte, rng.IntN(40))
			for i := range b {
				b[i] = byte(rng.IntN(256))
			}
			return b
		}
	}
	for i := range 500 {
		f := File{}
		for range rng.IntN(4) + 1 {
			name := pick()
			if rng.IntN(8) == 0 {
				f[name] = nil
				continue
			}
			r := &Resolver{}
			if rng.IntN(3) > 0 {
				r.Account = &Account{Email: pick(), PrivateKey: bytesOf(), KeyType: pick()}
				if rng.IntN(3) > 0 {
					r.Account.Registration = &Registration{Body: bodies[rng.IntN(len(bodies))], URI: pick()}
				}
			}
			switch rng.IntN(3) {
			case 0:
			case 1:
				r.Certificates = []*Certificate{}
			default:
				for range rng.IntN(4) {
					if rng.IntN(6) == 0 {
						r.Certificates = append(r.Certificates, nil)
						continue
					}
					c := &Certificate{Domain: Domain{Main: pick()}, Certificate: bytesOf(), Key: bytesOf(), Store: pick()}
					switch rng.IntN(3) {
					case 1:
						c.Domain.SANs = []string{}
					case 2:
						c.Domain.SANs = []string{pick(), pick()}
					}
					r.Certificates = append(r.Certificates, c)
				}
			}
			f[name] = r
		}
		got, err := f.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.MarshalIndent(f, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("case %d differs:\n got %s\nwant %s", i, got, want)
		}
	}
}

func TestMarshalInvalidBody(t *testing.T) {
	f := File{"le": {Account: &Account{Registration: &Registration{Body: json.RawMessage(`{"status":`)}}}}
	_, err := f.Marshal()
	if err == nil {
		t.Fatal("no error for invalid raw body")
	}
	var se *json.SyntaxError
	var me *json.MarshalerError
	if !errors.As(err, &se) && !errors.As(err, &me) {
		t.Errorf("error does not wrap the json error: %v", err)
	}
}

func TestMarshalEmpty(t *testing.T) {
	for _, f := range []File{nil, {}} {
		b, err := f.Marshal()
		if err != nil || string(b) != "{}" {
			t.Errorf("Marshal(%#v) = %q, %v", f, b, err)
		}
	}
}

func TestUpsertAndFind(t *testing.T) {
	r := &Resolver{}
	if r.Upsert([]string{"A.example.", "www.a.example", "a.example"}, []byte("c1"), []byte("k1")) {
		t.Fatal("replaced in empty resolver")
	}
	c := r.Certificates[0]
	if c.Domain.Main != "a.example" || !reflect.DeepEqual(c.Domain.SANs, []string{"www.a.example"}) || c.Store != DefaultStore {
		t.Fatalf("entry %+v", c)
	}
	r.Upsert([]string{"b.example"}, []byte("c2"), []byte("k2"))
	if !r.Upsert([]string{"www.a.example", "a.example"}, []byte("c3"), []byte("k3")) {
		t.Fatal("same name set not replaced")
	}
	if len(r.Certificates) != 2 || string(r.Certificates[0].Certificate) != "c3" || r.Certificates[0].Domain.Main != "www.a.example" {
		t.Fatalf("after replace: %+v", r.Certificates[0])
	}
	if r.Upsert([]string{"a.example"}, []byte("c4"), []byte("k4")) {
		t.Fatal("subset replaced a different name set")
	}
	if got := r.Find("B.EXAMPLE."); got != 1 {
		t.Errorf("Find = %d", got)
	}
	if got := r.Find("none.example"); got != -1 {
		t.Errorf("Find = %d", got)
	}
	r.Certificates = append(r.Certificates, nil)
	if got := r.Find("none.example"); got != -1 {
		t.Errorf("Find with nil entry = %d", got)
	}
	f := File{"x": nil}
	if f.Ensure("x") == nil || f["x"] == nil || f.Ensure("y") != f["y"] {
		t.Fatal("Ensure")
	}
}

func TestProblems(t *testing.T) {
	f := mustParse(t, readTestdata(t, "traefik-v3.6.21-rich-acme.json"))
	ec := f["http-ec"].Certificates
	rsaEntry := f["tls-rsa"].Certificates[0]
	bad := f.Ensure("bad")
	bad.Account = &Account{PrivateKey: []byte("junk")}
	bad.Certificates = []*Certificate{
		nil,
		{Domain: Domain{Main: "x.example"}, Key: ec[0].Key, Store: "default"},
		{Domain: Domain{Main: "a.example.test"}, Certificate: ec[0].Certificate, Key: rsaEntry.Key},
		{Domain: Domain{Main: "other.example.test"}, Certificate: ec[1].Certificate, Key: ec[1].Key},
		{Domain: Domain{Main: "plain.example.test"}, Certificate: ec[1].Certificate, Key: []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")},
	}
	probs := f.Problems(pinnedNow.AddDate(1, 0, 0))
	var got []string
	for _, p := range probs {
		if p.Resolver == "bad" {
			got = append(got, p.String())
		}
	}
	wantSubstrings := []string{
		"bad account: decoding account key",
		"bad[0] []: certificate entry is null",
		"bad[1] [x.example]: certificate entry has an empty certificate",
		"bad[2] [a.example.test]: checking key pair: private key does not match",
		`bad[3] [other.example.test]: requested name "other.example.test" is not in the certificate`,
		"bad[3] [other.example.test]: certificate expired at 2027-02-27T00:59:27Z",
		"bad[4] [plain.example.test]: parsing private key",
	}
	if len(got) != len(wantSubstrings) {
		t.Fatalf("problems:\n%s", strings.Join(got, "\n"))
	}
	for i, w := range wantSubstrings {
		if !strings.HasPrefix(got[i], w) {
			t.Errorf("problem %d = %q, want prefix %q", i, got[i], w)
		}
	}
	if empties := f.EmptyEntries(); len(empties) != 2 {
		t.Errorf("EmptyEntries = %v", empties)
	}
}

func TestMarshalSizeHintCoversOutput(t *testing.T) {
	for _, f := range []File{largeFile(t, 300), mustParse(t, readTestdata(t, "traefik-v3.6.21-rich-acme.json"))} {
		out, err := f.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if hint := f.sizeHint(); hint < len(out) || hint > 2*len(out) {
			t.Errorf("size hint %d for %d bytes", hint, len(out))
		}
	}
}
