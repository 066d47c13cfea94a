package acmejson

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"testing"
)

var longBase64 = regexp.MustCompile(`"[A-Za-z0-9+/=]{64,}"`)

// fuzzSeeds adds the testdata files and small edge cases to a corpus.
func fuzzSeeds(f *testing.F) {
	for _, name := range append(fixtures, "traefik-v1-acme.json", "traefik-v1-converted.golden.json") {
		data := readTestdata(f, name)
		f.Add(data)
		// The same structure with short payloads, so mutations run fast.
		f.Add(longBase64.ReplaceAll(data, []byte(`"AQID"`)))
	}
	for _, s := range []string{
		"", "null", "{}", "[]", `{"a":null}`, `{"a":{"Account":null,"Certificates":[]}}`,
		`{"a":{"account":{"email":"x","registration":{"body":{"k":[1,-2.5e3,true,null,"\u00e9"]},"uri":"u"},"privatekey":"AA=="}}}`,
		`{"a":{"Certificates":[null,{"domain":{"main":"m","sans":[null,"s"]},"certificate":"","key":"AQ==","Store":"default"}]}}`,
		`{"Account":{"Email":"e"},"Certificates":[{"Domain":{"Main":"m"}}],"HTTPChallenges":{}}`,
		`{"a":{"Account":{"Email":"x"},"Account":{"KeyType":"y"}}}`,
		`{"a":{"Certificates":[{"certificate":"QQ\u003d\u003d"}]}}`,
		`{"\u00e9":null,"é":null}`,
	} {
		f.Add([]byte(s))
	}
}

// FuzzLoad: Load never panics; on error the file on disk is unchanged and
// nothing is created beside it; on success the result encodes exactly as
// encoding/json would, and encoding is a fixed point of Parse.
func FuzzLoad(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		p := filepath.Join(dir, "acme.json")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		file, info, err := LoadDetailed(p, LoadOptions{Resolver: "fz"})
		if err != nil {
			if got, rerr := os.ReadFile(p); rerr != nil || !bytes.Equal(got, data) {
				t.Fatal("file changed by a failed load")
			}
			if names := dirNames(t, dir); len(names) != 1 {
				t.Fatalf("failed load left files: %v", names)
			}
			return
		}
		if file == nil {
			t.Fatal("nil File without error")
		}
		if got, _ := os.ReadFile(p); !bytes.Equal(got, data) {
			t.Fatal("load changed the file")
		}
		out, err := file.Marshal()
		if err != nil {
			t.Fatalf("marshal of a loaded file: %v", err)
		}
		if len(file) > 0 {
			ref, err := json.MarshalIndent(file, "", "  ")
			if err != nil || !bytes.Equal(out, ref) {
				t.Fatalf("Marshal differs from encoding/json (%v)", err)
			}
		}
		again, format, err := Parse(out, "fz")
		if err != nil {
			t.Fatalf("reparse: %v", err)
		}
		if len(again) > 0 && format != FormatV2 {
			t.Fatalf("reparse format %v (was %v)", format, info.Format)
		}
		out2, err := again.Marshal()
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("encoding is not a fixed point (%v)", err)
		}
	})
}

// FuzzDecode: whenever the fast decoder accepts an input, encoding/json
// accepts it too and produces the same File.
func FuzzDecode(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, ok := fastDecode(data)
		var ref File
		err := json.Unmarshal(data, &ref)
		if !ok {
			return
		}
		if err != nil {
			t.Fatalf("fast decoder accepted input encoding/json rejects: %v", err)
		}
		if !reflect.DeepEqual(fast, ref) {
			t.Fatalf("fast decoder result differs:\nfast %#v\n ref %#v", fast, ref)
		}
	})
}

// TestFastDecodeCoversFixtures makes sure the fast path, not the fallback,
// reads what Traefik writes.
func TestFastDecodeCoversFixtures(t *testing.T) {
	for _, name := range append(fixtures, "traefik-v1-converted.golden.json") {
		t.Run(name, func(t *testing.T) {
			data := readTestdata(t, name)
			fast, ok := fastDecode(data)
			if !ok {
				t.Fatal("fast decoder declined")
			}
			var ref File
			if err := json.Unmarshal(data, &ref); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(fast, ref) {
				t.Fatal("differs from encoding/json")
			}
		})
	}
	big, err := largeFile(t, 50).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := fastDecode(big); !ok {
		t.Fatal("fast decoder declined a generated file")
	}
}

// FuzzPublicKeyOfPrivateKeyPEM: the cheap key check never panics, and it
// accepts every key the full parse accepts (up to its 16,384-bit limit),
// with the same public key. Inputs are capped at 7,000 bytes (an RSA-8192
// PEM is ~6,400): the reference, x509's full parse, takes seconds to
// minutes over the giant numbers a larger input can hold.
func FuzzPublicKeyOfPrivateKeyPEM(f *testing.F) {
	for _, name := range fixtures {
		for _, res := range mustParse(f, readTestdata(f, name)) {
			for _, c := range res.Certificates {
				f.Add(c.Key)
			}
		}
	}
	f.Add([]byte("-----BEGIN RSA PRIVATE KEY-----\nMAA=\n-----END RSA PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, keyPEM []byte) {
		pub, err := PublicKeyOfPrivateKeyPEM(keyPEM)
		if len(keyPEM) > 7000 {
			return
		}
		full, errFull := ParsePrivateKeyPEM(keyPEM)
		if errFull != nil {
			return
		}
		if rk, ok := full.(*rsa.PrivateKey); ok && rk.N.BitLen() > maxRSABits {
			return
		}
		if err != nil {
			t.Fatalf("full parse accepts a key the cheap check rejects: %v", err)
		}
		if !full.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
			t.Fatal("different public keys")
		}
	})
}
