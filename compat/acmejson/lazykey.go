package acmejson

import (
	"crypto"
	"crypto/rsa"
	"fmt"
	"io"
	"sync"
)

// lazyKey is a private key decoded from its PEM on first use. Its public
// half is known from the start (crypto/tls chooses signature schemes from
// it before signing).
type lazyKey struct {
	pub crypto.PublicKey

	once   sync.Once
	keyPEM []byte // released once decoded
	key    crypto.Signer
	err    error
}

// lazyRSAKey is a lazyKey that is also a crypto.Decrypter, as an
// *rsa.PrivateKey is (TLS 1.2's RSA key exchange needs it).
type lazyRSAKey struct{ *lazyKey }

// newLazyKey returns a crypto.Signer for keyPEM, whose public key is pub.
func newLazyKey(keyPEM []byte, pub crypto.PublicKey) crypto.Signer {
	k := &lazyKey{pub: pub, keyPEM: keyPEM}
	if _, ok := pub.(*rsa.PublicKey); ok {
		return lazyRSAKey{k}
	}
	return k
}

// load decodes the key once.
func (k *lazyKey) load() (crypto.Signer, error) {
	k.once.Do(func() {
		k.key, k.err = ParsePrivateKeyPEM(k.keyPEM)
		k.keyPEM = nil
	})
	return k.key, k.err
}

// Public implements crypto.Signer.
func (k *lazyKey) Public() crypto.PublicKey { return k.pub }

// Sign implements crypto.Signer; the first call decodes the key.
func (k *lazyKey) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	key, err := k.load()
	if err != nil {
		return nil, err
	}
	return key.Sign(rand, digest, opts)
}

// Decrypt implements crypto.Decrypter; the first use decodes the key.
func (k lazyRSAKey) Decrypt(rand io.Reader, msg []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	key, err := k.load()
	if err != nil {
		return nil, err
	}
	d, ok := key.(crypto.Decrypter)
	if !ok {
		return nil, fmt.Errorf("decrypting: %T is not a decrypter", key)
	}
	return d.Decrypt(rand, msg, opts)
}
