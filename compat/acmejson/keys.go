package acmejson

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"slices"
	"strings"
	"time"
)

// ErrNotRSAAccountKey is returned (wrapped) when an account key is not RSA:
// Traefik stores account keys as DER PKCS#1 and can read nothing else.
var ErrNotRSAAccountKey = errors.New("traefik account keys must be RSA (DER PKCS#1)")

// DecodeAccountKey parses a Traefik Account.PrivateKey: DER PKCS#1 RSA. A key
// of another type (an EC key in SEC1 or PKCS#8 form, say) gives an error
// wrapping [ErrNotRSAAccountKey]. Errors never contain key material.
func DecodeAccountKey(der []byte) (*rsa.PrivateKey, error) {
	if len(der) == 0 {
		return nil, errors.New("decoding account key: key is empty")
	}
	if err := checkRSASize(der); err != nil {
		return nil, fmt.Errorf("decoding account key: %w", err)
	}
	key, err := x509.ParsePKCS1PrivateKey(der)
	if err == nil {
		return key, nil
	}
	if _, ecErr := x509.ParseECPrivateKey(der); ecErr == nil {
		return nil, fmt.Errorf("decoding account key: found an EC key (SEC1): %w", ErrNotRSAAccountKey)
	}
	if k, p8Err := x509.ParsePKCS8PrivateKey(der); p8Err == nil {
		if rsaKey, ok := k.(*rsa.PrivateKey); ok {
			// Not what Traefik writes, but unambiguous.
			return rsaKey, nil
		}
		return nil, fmt.Errorf("decoding account key: found a %T in PKCS#8: %w", k, ErrNotRSAAccountKey)
	}
	return nil, fmt.Errorf("decoding account key: not DER PKCS#1: %w", err)
}

// EncodeAccountKey returns key in the form Traefik stores account keys: DER
// PKCS#1. Only *rsa.PrivateKey is accepted; other types give an error
// wrapping [ErrNotRSAAccountKey].
func EncodeAccountKey(key crypto.PrivateKey) ([]byte, error) {
	rsaKey, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("encoding account key of type %T: %w", key, ErrNotRSAAccountKey)
	}
	return x509.MarshalPKCS1PrivateKey(rsaKey), nil
}

// ParseCertificatePEM parses a PEM bundle (Certificate.Certificate): every
// CERTIFICATE block, in order, leaf first. Other block types are skipped, as
// crypto/tls does. It fails if there is no certificate or one does not parse.
func ParseCertificatePEM(bundle []byte) ([]*x509.Certificate, error) {
	var chain []*x509.Certificate
	rest := bundle
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing certificate %d of bundle: %w", len(chain)+1, err)
		}
		if pub, ok := cert.PublicKey.(*rsa.PublicKey); ok && pub.N.BitLen() > maxCertRSABits {
			return nil, fmt.Errorf("parsing certificate %d of bundle: %d-bit RSA key refused (more than %d bits)", len(chain)+1, pub.N.BitLen(), maxCertRSABits)
		}
		chain = append(chain, cert)
	}
	if len(chain) == 0 {
		return nil, errors.New("parsing certificate bundle: no PEM CERTIFICATE block found")
	}
	return chain, nil
}

// ParsePrivateKeyPEM parses a PEM private key (Certificate.Key) in any of
// the encodings Traefik has written: PKCS#1 ("RSA PRIVATE KEY"), SEC1
// ("EC PRIVATE KEY") and PKCS#8 ("PRIVATE KEY", lego v5). Like
// crypto/tls.X509KeyPair it uses the first block whose type is
// "PRIVATE KEY" or ends in " PRIVATE KEY", and tries all three encodings
// whatever the header says. Errors never contain key material.
func ParsePrivateKeyPEM(keyPEM []byte) (crypto.Signer, error) {
	rest := keyPEM
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("parsing private key: no PEM PRIVATE KEY block found")
		}
		if block.Type != "PRIVATE KEY" && !strings.HasSuffix(block.Type, " PRIVATE KEY") {
			continue
		}
		if err := checkRSASize(block.Bytes); err != nil {
			return nil, err
		}
		if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
			return k, nil
		}
		if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
			switch k := k.(type) {
			case *rsa.PrivateKey:
				return k, nil
			case *ecdsa.PrivateKey:
				return k, nil
			case ed25519.PrivateKey:
				return k, nil
			default:
				return nil, fmt.Errorf("parsing private key: unsupported PKCS#8 key type %T", k)
			}
		}
		if k, err := x509.ParseECPrivateKey(block.Bytes); err == nil {
			return k, nil
		}
		return nil, fmt.Errorf("parsing private key: PEM block %q is not PKCS#1, PKCS#8 or SEC1 (redacted)", block.Type)
	}
}

// CheckKeyPair reports an error when key is not the private key of leaf.
func CheckKeyPair(leaf *x509.Certificate, key crypto.Signer) error {
	if leaf == nil || key == nil {
		return errors.New("checking key pair: missing certificate or key")
	}
	pub, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok {
		return fmt.Errorf("checking key pair: unsupported public key type %T", leaf.PublicKey)
	}
	if !pub.Equal(key.Public()) {
		return errors.New("checking key pair: private key does not match the certificate's public key")
	}
	return nil
}

// KeyTypeName names the type of a public or private key the way Traefik's
// keyType option does: "RSA2048", "RSA4096", "EC256", "EC384", plus "EC521",
// "ED25519" and "RSA<bits>" for other sizes. It returns "" for unknown
// types.
func KeyTypeName(key any) string {
	if s, ok := key.(crypto.Signer); ok {
		key = s.Public()
	}
	switch k := key.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA%d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return fmt.Sprintf("EC%d", k.Curve.Params().BitSize)
	case ed25519.PublicKey:
		return "ED25519"
	default:
		return ""
	}
}

// LeafInfo summarizes a leaf certificate.
type LeafInfo struct {
	// Names are the subject common name (if any) followed by the DNS and IP
	// SANs, lower-cased (DNS) and without duplicates.
	Names []string
	// NotBefore and NotAfter bound the validity period.
	NotBefore, NotAfter time.Time
	// KeyType is the [KeyTypeName] of the certificate's public key.
	KeyType string
	// Issuer is the issuer's common name.
	Issuer string
	// Serial is the serial number in hexadecimal.
	Serial string
}

// Covers reports whether name (normalized as by [NormalizeNames]) is one of
// the leaf's names, compared literally: a wildcard name is covered only by
// the same wildcard.
func (li LeafInfo) Covers(name string) bool {
	n := NormalizeNames([]string{name})
	return len(n) == 1 && slices.Contains(li.Names, n[0])
}

// Expired reports whether the leaf is no longer valid at now.
func (li LeafInfo) Expired(now time.Time) bool {
	return now.After(li.NotAfter)
}

// InspectLeaf returns the [LeafInfo] of leaf.
func InspectLeaf(leaf *x509.Certificate) LeafInfo {
	var names []string
	add := func(n string) {
		if n != "" && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	add(strings.TrimSuffix(strings.ToLower(leaf.Subject.CommonName), "."))
	for _, n := range leaf.DNSNames {
		add(strings.TrimSuffix(strings.ToLower(n), "."))
	}
	for _, ip := range leaf.IPAddresses {
		add(net.IP(ip).String())
	}
	return LeafInfo{
		Names:     names,
		NotBefore: leaf.NotBefore,
		NotAfter:  leaf.NotAfter,
		KeyType:   KeyTypeName(leaf.PublicKey),
		Issuer:    leaf.Issuer.CommonName,
		Serial:    leaf.SerialNumber.Text(16),
	}
}

// Parsed is a decoded and verified certificate entry.
type Parsed struct {
	// Chain is the certificate bundle, leaf first.
	Chain []*x509.Certificate
	// Key is the private key.
	Key crypto.Signer
	// Leaf summarizes Chain[0].
	Leaf LeafInfo
}

// Parse decodes c's certificate bundle and key and checks that the key
// belongs to the leaf. It fails for a nil entry, an empty certificate or
// key, undecodable PEM, or a mismatched pair. It does not check validity
// dates or the chain of trust.
func (c *Certificate) Parse() (*Parsed, error) {
	switch {
	case c == nil:
		return nil, errors.New("certificate entry is null")
	case len(c.Certificate) == 0:
		return nil, errors.New("certificate entry has an empty certificate")
	case len(c.Key) == 0:
		return nil, errors.New("certificate entry has an empty key")
	}
	chain, err := ParseCertificatePEM(c.Certificate)
	if err != nil {
		return nil, err
	}
	key, err := ParsePrivateKeyPEM(c.Key)
	if err != nil {
		return nil, err
	}
	if err := CheckKeyPair(chain[0], key); err != nil {
		return nil, err
	}
	return &Parsed{Chain: chain, Key: key, Leaf: InspectLeaf(chain[0])}, nil
}

// Key decodes the account's private key with [DecodeAccountKey].
func (a *Account) Key() (*rsa.PrivateKey, error) {
	if a == nil {
		return nil, errors.New("decoding account key: account is null")
	}
	return DecodeAccountKey(a.PrivateKey)
}

// PublicKeyOfPrivateKeyPEM returns the public key of the private key in
// keyPEM, found and decoded by the rules of [ParsePrivateKeyPEM], after
// checking that the key is consistent — without building a usable signer.
// That is the point: for RSA, x509.ParsePKCS1PrivateKey precomputes and
// self-tests the key with modular exponentiations (about 1.5 ms for
// RSA-4096, so 7.5 s of CPU for an acme.json of 5,000 Traefik-default
// certificates), while this decodes the ASN.1 structure and checks
// N = P·Q, E·D ≡ 1 mod P−1 and Q−1, and the CRT values when present, in
// microseconds. RSA keys over 16,384 bits are refused (x509 would take
// minutes over a crafted one). EC and Ed25519 keys are parsed normally
// (cheap). Errors never contain key material.
func PublicKeyOfPrivateKeyPEM(keyPEM []byte) (crypto.PublicKey, error) {
	rest := keyPEM
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("parsing private key: no PEM PRIVATE KEY block found")
		}
		if block.Type != "PRIVATE KEY" && !strings.HasSuffix(block.Type, " PRIVATE KEY") {
			continue
		}
		if pub, ok, err := rsaPublicOfPKCS1(block.Bytes); ok {
			return pub, err
		}
		var p8 struct {
			Version    int
			Algo       pkix.AlgorithmIdentifier
			PrivateKey []byte
		}
		if rest, err := asn1.Unmarshal(block.Bytes, &p8); err == nil && len(rest) == 0 && p8.Algo.Algorithm.Equal(oidRSAEncryption) {
			if pub, ok, err := rsaPublicOfPKCS1(p8.PrivateKey); ok {
				return pub, err
			}
			return nil, errors.New("parsing private key: PKCS#8 RSA key is not PKCS#1 inside (redacted)")
		}
		k, err := ParsePrivateKeyPEM(pem.EncodeToMemory(block))
		if err != nil {
			return nil, err
		}
		return k.Public(), nil
	}
}

// maxRSABits is the largest RSA modulus PublicKeyOfPrivateKeyPEM accepts:
// twice Traefik's largest keyType (RSA8192).
const maxRSABits = 16384

// checkRSASize refuses a DER RSA private key (PKCS#1, or PKCS#1 inside
// PKCS#8) whose modulus has more than maxRSABits bits, before crypto/x509
// spends minutes precomputing it. It only reads the ASN.1 structure; der
// that is not an RSA key passes (the caller's parser decides).
func checkRSASize(der []byte) error {
	n := rsaModulusOf(der)
	if n == nil {
		var p8 struct {
			Version    int
			Algo       pkix.AlgorithmIdentifier
			PrivateKey []byte
		}
		if rest, err := asn1.Unmarshal(der, &p8); err == nil && len(rest) == 0 && p8.Algo.Algorithm.Equal(oidRSAEncryption) {
			n = rsaModulusOf(p8.PrivateKey)
		}
	}
	if n != nil && n.BitLen() > maxRSABits {
		return fmt.Errorf("parsing private key: %d-bit RSA key refused (more than %d bits)", n.BitLen(), maxRSABits)
	}
	return nil
}

// rsaModulusOf returns the modulus of a PKCS#1 RSAPrivateKey (two-prime or
// multi-prime), or nil when der is not one. Only the SEQUENCE's first two
// fields (version, modulus) are decoded.
func rsaModulusOf(der []byte) *big.Int {
	var seq asn1.RawValue
	if rest, err := asn1.Unmarshal(der, &seq); err != nil || len(rest) != 0 || seq.Class != asn1.ClassUniversal || seq.Tag != asn1.TagSequence {
		return nil
	}
	var version int
	rest, err := asn1.Unmarshal(seq.Bytes, &version)
	if err != nil {
		return nil
	}
	n := new(big.Int)
	if _, err := asn1.Unmarshal(rest, &n); err != nil || n.Sign() <= 0 {
		return nil
	}
	return n
}

// maxCertRSABits bounds the RSA public keys of certificates: verifying a
// signature with a larger key costs seconds.
const maxCertRSABits = maxRSABits

// oidRSAEncryption is PKCS#1's rsaEncryption algorithm.
var oidRSAEncryption = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}

// rsaPublicOfPKCS1 decodes a two-prime PKCS#1 RSAPrivateKey and checks its
// arithmetic. ok is false when der is not such a structure at all (the
// caller tries other encodings); err reports an RSA key that is not
// consistent.
func rsaPublicOfPKCS1(der []byte) (pub *rsa.PublicKey, ok bool, err error) {
	var k struct {
		Version int
		N       *big.Int
		E       int
		D       *big.Int
		P       *big.Int
		Q       *big.Int
		Dp      *big.Int `asn1:"optional"`
		Dq      *big.Int `asn1:"optional"`
		Qinv    *big.Int `asn1:"optional"`
	}
	rest, err := asn1.Unmarshal(der, &k)
	if err != nil || len(rest) != 0 || k.Version != 0 || k.N == nil || k.D == nil || k.P == nil || k.Q == nil {
		// Not PKCS#1 (or a multi-prime key, version 1): let the caller
		// try the other encodings, as x509 does.
		return nil, false, nil
	}
	if bits := k.N.BitLen(); bits > maxRSABits {
		// crypto/x509 would spend minutes on it (about a minute for
		// 400,000 bits), and so would certmagic loading it.
		return nil, true, fmt.Errorf("parsing private key: %d-bit RSA key refused (more than %d bits)", bits, maxRSABits)
	}
	bad := errors.New("parsing private key: inconsistent RSA private key (redacted)")
	one := big.NewInt(1)
	if k.E < 3 || k.E&1 == 0 || k.N.Sign() <= 0 || k.P.Cmp(one) <= 0 || k.Q.Cmp(one) <= 0 || k.D.Sign() <= 0 ||
		new(big.Int).Mul(k.P, k.Q).Cmp(k.N) != 0 {
		return nil, true, bad
	}
	e := big.NewInt(int64(k.E))
	ed := new(big.Int).Mul(e, k.D)
	for _, prime := range []*big.Int{k.P, k.Q} {
		pm1 := new(big.Int).Sub(prime, one)
		if new(big.Int).Mod(ed, pm1).Cmp(one) != 0 {
			return nil, true, bad
		}
	}
	if k.Dp != nil && k.Dq != nil && k.Qinv != nil {
		pm1, qm1 := new(big.Int).Sub(k.P, one), new(big.Int).Sub(k.Q, one)
		qinvQ := new(big.Int).Mul(k.Qinv, k.Q)
		if new(big.Int).Mod(k.D, pm1).Cmp(k.Dp) != 0 || new(big.Int).Mod(k.D, qm1).Cmp(k.Dq) != 0 ||
			qinvQ.Mod(qinvQ, k.P).Cmp(one) != 0 {
			return nil, true, bad
		}
	}
	return &rsa.PublicKey{N: k.N, E: k.E}, true, nil
}

// ParseWithoutKey is [Certificate.Parse] without decoding the private key
// into a signer: it checks that the key belongs to the leaf with
// [PublicKeyOfPrivateKeyPEM]. Use it when the key bytes are only copied
// (an import into certmagic storage, which parses the key itself when it
// loads the certificate). The returned Parsed has a nil Key.
func (c *Certificate) ParseWithoutKey() (*Parsed, error) {
	chain, _, err := c.parseChainAndPublicKey()
	if err != nil {
		return nil, err
	}
	return &Parsed{Chain: chain, Leaf: InspectLeaf(chain[0])}, nil
}

// ParseLazy is [Certificate.Parse] with a key that is decoded on its first
// use: it checks the pair as [Certificate.ParseWithoutKey] does, and
// Parsed.Key is a signer whose Public is known at once and whose first
// Sign (or Decrypt, for RSA) decodes the key. Use it to serve many
// certificates of which few are used soon: loading 5,000 RSA-4096 entries
// costs no RSA precomputation, and each key pays for its own when its
// name's first handshake comes. A key the cheap check accepted but the
// full decoding rejects makes every Sign fail with that error.
func (c *Certificate) ParseLazy() (*Parsed, error) {
	chain, pub, err := c.parseChainAndPublicKey()
	if err != nil {
		return nil, err
	}
	return &Parsed{Chain: chain, Key: newLazyKey(c.Key, pub), Leaf: InspectLeaf(chain[0])}, nil
}

// parseChainAndPublicKey decodes c's bundle and the public half of its key,
// and checks that they belong together.
func (c *Certificate) parseChainAndPublicKey() ([]*x509.Certificate, crypto.PublicKey, error) {
	switch {
	case c == nil:
		return nil, nil, errors.New("certificate entry is null")
	case len(c.Certificate) == 0:
		return nil, nil, errors.New("certificate entry has an empty certificate")
	case len(c.Key) == 0:
		return nil, nil, errors.New("certificate entry has an empty key")
	}
	chain, err := ParseCertificatePEM(c.Certificate)
	if err != nil {
		return nil, nil, err
	}
	pub, err := PublicKeyOfPrivateKeyPEM(c.Key)
	if err != nil {
		return nil, nil, err
	}
	leafPub, ok := chain[0].PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok {
		return nil, nil, fmt.Errorf("checking key pair: unsupported public key type %T", chain[0].PublicKey)
	}
	if !leafPub.Equal(pub) {
		return nil, nil, errors.New("checking key pair: private key does not match the certificate's public key")
	}
	return chain, pub, nil
}
