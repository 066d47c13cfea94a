package acmejson

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// fixtureKeys returns the private keys of the rich fixture: P-384, P-256,
// RSA-2048 (the leaf keys), and the RSA-4096 account key.
func fixtureKeys(t *testing.T) (ec384, ec256, rsa2048 crypto.Signer, account *rsa.PrivateKey) {
	t.Helper()
	f := mustParse(t, readTestdata(t, "traefik-v3.6.21-rich-acme.json"))
	get := func(resolver string) crypto.Signer {
		k, err := ParsePrivateKeyPEM(f[resolver].Certificates[0].Key)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	acct, err := f["tls-rsa"].Account.Key()
	if err != nil {
		t.Fatal(err)
	}
	return get("dns-wild"), get("http-ec"), get("tls-rsa"), acct
}

func TestAccountKeyEncoding(t *testing.T) {
	ec384, _, _, acct := fixtureKeys(t)
	der, err := EncodeAccountKey(acct)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeAccountKey(der)
	if err != nil || !back.Equal(acct) {
		t.Fatalf("round trip: %v", err)
	}
	if _, err := EncodeAccountKey(ec384); !errors.Is(err, ErrNotRSAAccountKey) {
		t.Errorf("EncodeAccountKey(EC) error = %v", err)
	}
	sec1, err := x509.MarshalECPrivateKey(ec384.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	pkcs8EC, err := x509.MarshalPKCS8PrivateKey(ec384)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8RSA, err := x509.MarshalPKCS8PrivateKey(acct)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		desc    string
		der     []byte
		wantErr error
		wantAny bool
	}{
		{"pkcs1 rsa", der, nil, false},
		{"pkcs8 rsa", pkcs8RSA, nil, false},
		{"sec1 ec", sec1, ErrNotRSAAccountKey, true},
		{"pkcs8 ec", pkcs8EC, ErrNotRSAAccountKey, true},
		{"garbage", []byte("not a key"), nil, true},
		{"empty", nil, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			_, err := DecodeAccountKey(tt.der)
			if (err != nil) != tt.wantAny {
				t.Fatalf("err = %v", err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), base64.StdEncoding.EncodeToString(tt.der)) && len(tt.der) > 0 {
				t.Error("error contains key material")
			}
		})
	}
}

func TestParsePrivateKeyPEMEncodings(t *testing.T) {
	ec384, ec256, rsa2048, _ := fixtureKeys(t)
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pemOf := func(typ string, der []byte, err error) []byte {
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
	}
	sec1 := func(k crypto.Signer) ([]byte, error) { return x509.MarshalECPrivateKey(k.(*ecdsa.PrivateKey)) }
	tests := []struct {
		desc string
		pem  []byte
		want crypto.Signer
	}{
		{"pkcs1 rsa (lego v4)", pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsa2048.(*rsa.PrivateKey)), nil), rsa2048},
		{"sec1 p256 (lego v4)", pemOf(sec1EC(t, ec256)), ec256},
		{"sec1 p384 with params block first", append(pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{6, 5, 43, 129, 4, 0, 34}}), pemOf("EC PRIVATE KEY", must(sec1(ec384)), nil)...), ec384},
		{"pkcs8 rsa (lego v5)", pemOf("PRIVATE KEY", must(x509.MarshalPKCS8PrivateKey(rsa2048)), nil), rsa2048},
		{"pkcs8 ec (lego v5)", pemOf("PRIVATE KEY", must(x509.MarshalPKCS8PrivateKey(ec256)), nil), ec256},
		{"pkcs8 ed25519", pemOf("PRIVATE KEY", must(x509.MarshalPKCS8PrivateKey(ed)), nil), ed},
		{"pkcs1 under a pkcs8 header", pemOf("PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsa2048.(*rsa.PrivateKey)), nil), rsa2048},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			got, err := ParsePrivateKeyPEM(tt.pem)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(tt.want.Public()) {
				t.Error("different key")
			}
		})
	}
	for _, bad := range [][]byte{nil, []byte("junk"), pemOf("CERTIFICATE", []byte{1}, nil), pemOf("PRIVATE KEY", []byte("secretbytes"), nil)} {
		_, err := ParsePrivateKeyPEM(bad)
		if err == nil {
			t.Errorf("no error for %q", bad)
		} else if strings.Contains(err.Error(), "c2VjcmV0") || strings.Contains(err.Error(), "secretbytes") {
			t.Errorf("error leaks key material: %v", err)
		}
	}
}

func sec1EC(t *testing.T, k crypto.Signer) (string, []byte, error) {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(k.(*ecdsa.PrivateKey))
	return "EC PRIVATE KEY", der, err
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestParseCertificatePEM(t *testing.T) {
	f := mustParse(t, readTestdata(t, "traefik-v3-acme.json"))
	bundle := f["le-tls"].Certificates[0].Certificate
	chain, err := ParseCertificatePEM(append([]byte("junk before\n"), bundle...))
	if err != nil || len(chain) != 2 {
		t.Fatalf("chain %d, %v", len(chain), err)
	}
	if chain[0].IsCA || !chain[1].IsCA {
		t.Error("leaf/intermediate order")
	}
	for _, bad := range [][]byte{nil, []byte("junk"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2}})} {
		if _, err := ParseCertificatePEM(bad); err == nil {
			t.Errorf("no error for %q", bad)
		}
	}
}

func TestCheckKeyPairAndKeyTypes(t *testing.T) {
	ec384, ec256, rsa2048, acct := fixtureKeys(t)
	f := mustParse(t, readTestdata(t, "traefik-v3.6.21-rich-acme.json"))
	leaf := must(ParseCertificatePEM(f["http-ec"].Certificates[0].Certificate))[0]
	if err := CheckKeyPair(leaf, ec256); err != nil {
		t.Error(err)
	}
	for _, k := range []crypto.Signer{ec384, rsa2048, acct} {
		if err := CheckKeyPair(leaf, k); err == nil {
			t.Errorf("mismatch not detected for %s", KeyTypeName(k))
		}
	}
	if err := CheckKeyPair(nil, ec256); err == nil {
		t.Error("nil leaf")
	}
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	tests := []struct {
		key  any
		want string
	}{
		{ec384, "EC384"}, {ec256, "EC256"}, {rsa2048, "RSA2048"}, {acct, "RSA4096"}, {acct.Public(), "RSA4096"},
		{ed, "ED25519"}, {"not a key", ""},
	}
	for _, tt := range tests {
		if got := KeyTypeName(tt.key); got != tt.want {
			t.Errorf("KeyTypeName(%T) = %q, want %q", tt.key, got, tt.want)
		}
	}
}

func TestInspectLeafNames(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(0xabc),
		Subject:      pkix.Name{CommonName: "CN.Example.Test"},
		Issuer:       pkix.Name{CommonName: "self"},
		DNSNames:     []string{"cn.example.test", "*.Example.Test", "other.example.test."},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
		NotBefore:    pinnedNow.Add(-time.Hour),
		NotAfter:     pinnedNow.Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	leaf := must(x509.ParseCertificate(der))
	li := InspectLeaf(leaf)
	want := []string{"cn.example.test", "*.example.test", "other.example.test", "127.0.0.1", "::1"}
	if !reflect.DeepEqual(li.Names, want) {
		t.Errorf("names = %v, want %v", li.Names, want)
	}
	if li.KeyType != "EC256" || li.Serial != "abc" || !li.NotAfter.Equal(pinnedNow.Add(time.Hour)) {
		t.Errorf("info = %+v", li)
	}
	if !li.Covers("*.EXAMPLE.test") || li.Covers("x.example.test") {
		t.Error("Covers")
	}
	if li.Expired(pinnedNow) || !li.Expired(pinnedNow.Add(2*time.Hour)) {
		t.Error("Expired")
	}
}

// TestPublicKeyOfPrivateKeyPEM: the cheap check yields the same public key
// as the full parse for every encoding Traefik writes, and rejects RSA keys
// whose numbers do not fit together (which the full parse rejects too).
func TestPublicKeyOfPrivateKeyPEM(t *testing.T) {
	ec384, ec256, rsa2048, _ := fixtureKeys(t)
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	r := rsa2048.(*rsa.PrivateKey)
	pemOf := func(typ string, der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}) }
	good := []struct {
		desc string
		pem  []byte
	}{
		{"pkcs1 rsa", pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(r))},
		{"pkcs8 rsa", pemOf("PRIVATE KEY", must(x509.MarshalPKCS8PrivateKey(r)))},
		{"pkcs1 under a pkcs8 header", pemOf("PRIVATE KEY", x509.MarshalPKCS1PrivateKey(r))},
		{"sec1 p256", pemOf("EC PRIVATE KEY", must(x509.MarshalECPrivateKey(ec256.(*ecdsa.PrivateKey))))},
		{"pkcs8 p384", pemOf("PRIVATE KEY", must(x509.MarshalPKCS8PrivateKey(ec384)))},
		{"pkcs8 ed25519", pemOf("PRIVATE KEY", must(x509.MarshalPKCS8PrivateKey(ed)))},
	}
	for _, tt := range good {
		t.Run(tt.desc, func(t *testing.T) {
			full, err := ParsePrivateKeyPEM(tt.pem)
			if err != nil {
				t.Fatal(err)
			}
			pub, err := PublicKeyOfPrivateKeyPEM(tt.pem)
			if err != nil {
				t.Fatal(err)
			}
			if !full.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
				t.Error("different public key")
			}
		})
	}

	// Each case breaks one relation of a valid RSA key.
	type pkcs1 struct {
		Version               int
		N                     *big.Int
		E                     int
		D, P, Q, Dp, Dq, Qinv *big.Int
	}
	two := big.NewInt(2)
	base := func() pkcs1 {
		return pkcs1{0, r.N, r.E, r.D, r.Primes[0], r.Primes[1], r.Precomputed.Dp, r.Precomputed.Dq, r.Precomputed.Qinv}
	}
	bad := []struct {
		desc   string
		mutate func(*pkcs1)
	}{
		{"p changed", func(k *pkcs1) { k.P = new(big.Int).Add(k.P, two) }},
		{"d changed", func(k *pkcs1) { k.D = new(big.Int).Add(k.D, two) }},
		{"dp changed", func(k *pkcs1) { k.Dp = new(big.Int).Add(k.Dp, two) }},
		{"dq changed", func(k *pkcs1) { k.Dq = new(big.Int).Add(k.Dq, two) }},
		{"qinv changed", func(k *pkcs1) { k.Qinv = new(big.Int).Add(k.Qinv, two) }},
		{"even exponent", func(k *pkcs1) { k.E = 65536 }},
	}
	for _, tt := range bad {
		t.Run(tt.desc, func(t *testing.T) {
			k := base()
			tt.mutate(&k)
			der, err := asn1.Marshal(k)
			if err != nil {
				t.Fatal(err)
			}
			keyPEM := pemOf("RSA PRIVATE KEY", der)
			if _, err := ParsePrivateKeyPEM(keyPEM); err == nil {
				t.Fatal("the full parse accepts the broken key; the case tests nothing")
			}
			_, err = PublicKeyOfPrivateKeyPEM(keyPEM)
			if err == nil {
				t.Fatal("inconsistent key accepted")
			}
			if strings.Contains(err.Error(), r.D.String()[:20]) {
				t.Error("error leaks key material")
			}
		})
	}
	// A giant modulus is refused before any arithmetic.
	huge := base()
	huge.N = new(big.Int).Lsh(big.NewInt(1), maxRSABits) // maxRSABits+1 bits
	if _, err := PublicKeyOfPrivateKeyPEM(pemOf("RSA PRIVATE KEY", must(asn1.Marshal(huge)))); err == nil || !strings.Contains(err.Error(), "16385-bit") {
		t.Errorf("giant key: error %v", err)
	}
	for _, junk := range [][]byte{nil, []byte("junk"), pemOf("PRIVATE KEY", []byte("secretbytes"))} {
		if _, err := PublicKeyOfPrivateKeyPEM(junk); err == nil {
			t.Errorf("no error for %q", junk)
		}
	}
}

// TestParseWithoutKeyAgreesWithParse runs both parsers on every entry of the
// rich fixture and on mismatched pairs.
func TestParseWithoutKeyAgreesWithParse(t *testing.T) {
	f := mustParse(t, readTestdata(t, "traefik-v3.6.21-rich-acme.json"))
	var entries []*Certificate
	for _, res := range f {
		entries = append(entries, res.Certificates...)
	}
	if len(entries) < 2 {
		t.Fatal("fixture has too few certificates")
	}
	for i, c := range entries {
		swapped := &Certificate{Certificate: c.Certificate, Key: entries[(i+1)%len(entries)].Key}
		for _, e := range []*Certificate{c, swapped, {Certificate: c.Certificate}, nil} {
			full, errFull := e.Parse()
			light, errLight := e.ParseWithoutKey()
			if (errFull == nil) != (errLight == nil) {
				t.Fatalf("entry %d: Parse error %v, ParseWithoutKey error %v", i, errFull, errLight)
			}
			if errFull != nil {
				continue
			}
			if light.Key != nil || !reflect.DeepEqual(light.Leaf, full.Leaf) || len(light.Chain) != len(full.Chain) {
				t.Errorf("entry %d: results differ", i)
			}
		}
	}
}

// TestParseLazy: the lazily decoded key has the leaf's public key, signs
// what the leaf's public key verifies (concurrently, from its first use),
// is a crypto.Decrypter exactly when it is RSA, and reports a key that
// cannot be decoded at every use.
func TestParseLazy(t *testing.T) {
	f := mustParse(t, readTestdata(t, "traefik-v3.6.21-rich-acme.json"))
	seen := map[string]bool{}
	for name, res := range f {
		for i, c := range res.Certificates {
			p, err := c.ParseLazy()
			if err != nil {
				t.Fatalf("%s/%d: %v", name, i, err)
			}
			kt := KeyTypeName(p.Key)
			seen[kt[:2]] = true
			if !p.Chain[0].PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(p.Key.Public()) {
				t.Fatalf("%s/%d: public key differs from the leaf's", name, i)
			}
			digest := sha256.Sum256([]byte("signed by " + name))
			var wg sync.WaitGroup
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					sig, err := p.Key.Sign(rand.Reader, digest[:], crypto.SHA256)
					if err != nil {
						t.Errorf("%s/%d: sign: %v", name, i, err)
						return
					}
					var ok bool
					switch pub := p.Key.Public().(type) {
					case *rsa.PublicKey:
						ok = rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) == nil
					case *ecdsa.PublicKey:
						ok = ecdsa.VerifyASN1(pub, digest[:], sig)
					}
					if !ok {
						t.Errorf("%s/%d (%s): signature does not verify", name, i, kt)
					}
				}()
			}
			wg.Wait()
			_, isDecrypter := p.Key.(crypto.Decrypter)
			if _, isRSA := p.Key.Public().(*rsa.PublicKey); isDecrypter != isRSA {
				t.Errorf("%s/%d (%s): crypto.Decrypter %v", name, i, kt, isDecrypter)
			}
		}
	}
	if !seen["RS"] || !seen["EC"] {
		t.Fatalf("fixture covered key types %v; want RSA and EC", seen)
	}

	_, _, rsa2048, _ := fixtureKeys(t)
	broken := newLazyKey([]byte("-----BEGIN RSA PRIVATE KEY-----\nc2VjcmV0Ynl0ZXM=\n-----END RSA PRIVATE KEY-----\n"), rsa2048.Public())
	for range 2 {
		_, err := broken.Sign(rand.Reader, make([]byte, 32), crypto.SHA256)
		if err == nil {
			t.Fatal("a key that cannot be decoded signed")
		}
		if strings.Contains(err.Error(), "c2VjcmV0") || strings.Contains(err.Error(), "secretbytes") {
			t.Errorf("error leaks key material: %v", err)
		}
	}
	if _, err := broken.(crypto.Decrypter).Decrypt(rand.Reader, []byte{1}, nil); err == nil {
		t.Error("a key that cannot be decoded decrypted")
	}
}
