package bench

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
	"github.com/ac075510/caddy-traefik-acme/internal/caddytest"
	"github.com/ac075510/caddy-traefik-acme/migrate"
)

// StartResolver is the resolver name the generated acme.json uses.
const StartResolver = "le"

// deadCA is the ACME directory the start scenario's resolver points at:
// nothing listens there, so any order Caddy tried to place would fail and
// its certificate would never be served. Every certificate must therefore
// come from the imported acme.json.
const deadCA = "https://127.0.0.1:9/dir"

// StartNames returns the n names of a generated acme.json.
func StartNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("host%04d.start.test", i)
	}
	return names
}

// GenerateAcmeJSON writes, in dir, an acme.json whose resolver
// [StartResolver] holds n certificates (one name each, from [StartNames]),
// valid from an hour ago for 60 days, and root.pem, the root that signed
// them. keyType is the leaves' key type, "RSA4096" (Traefik's default) or
// "EC256". The leaves share four keys so that generation costs one
// signature per certificate; what is measured (parsing, import, serving) is
// the same as with n distinct keys, since every entry carries its own copy
// of its key. The file has no account: Traefik writes null before its first
// registration.
func GenerateAcmeJSON(dir string, n int, keyType string) error {
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generating the root key: %w", err)
	}
	now := time.Now()
	rootTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "traefik-acme bench root"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	if err != nil {
		return fmt.Errorf("creating the root: %w", err)
	}
	root, err := x509.ParseCertificate(rootDER)
	if err != nil {
		return fmt.Errorf("parsing the root: %w", err)
	}
	var keys []crypto.Signer
	var keyPEMs [][]byte
	for range 4 {
		k, keyPEM, err := leafKey(keyType)
		if err != nil {
			return err
		}
		keys = append(keys, k)
		keyPEMs = append(keyPEMs, keyPEM)
	}
	res := &acmejson.Resolver{Certificates: make([]*acmejson.Certificate, 0, n)}
	for i, name := range StartNames(n) {
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(int64(i) + 2),
			Subject:      pkix.Name{CommonName: name},
			DNSNames:     []string{name},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(60 * 24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
		k := keys[i%len(keys)]
		der, err := x509.CreateCertificate(rand.Reader, tmpl, root, k.Public(), rootKey)
		if err != nil {
			return fmt.Errorf("creating the certificate for %s: %w", name, err)
		}
		certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		res.Certificates = append(res.Certificates, &acmejson.Certificate{
			Domain:      acmejson.Domain{Main: name},
			Certificate: certPEM,
			Key:         keyPEMs[i%len(keys)],
			Store:       acmejson.DefaultStore,
		})
	}
	if err := acmejson.Save(filepath.Join(dir, "acme.json"), acmejson.File{StartResolver: res}); err != nil {
		return fmt.Errorf("writing acme.json: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "root.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rootDER}), 0o644); err != nil {
		return fmt.Errorf("writing root.pem: %w", err)
	}
	return nil
}

// leafKey generates a key of keyType and its PEM encoding as Traefik writes
// it in acme.json (PKCS#1 "RSA PRIVATE KEY" or SEC 1 "EC PRIVATE KEY").
func leafKey(keyType string) (crypto.Signer, []byte, error) {
	switch keyType {
	case "RSA4096", "":
		k, err := rsa.GenerateKey(rand.Reader, 4096)
		if err != nil {
			return nil, nil, fmt.Errorf("generating a leaf key: %w", err)
		}
		return k, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}), nil
	case "EC256":
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, fmt.Errorf("generating a leaf key: %w", err)
		}
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			return nil, nil, fmt.Errorf("encoding a leaf key: %w", err)
		}
		return k, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
	}
	return nil, nil, fmt.Errorf("unsupported leaf key type %q (want RSA4096 or EC256)", keyType)
}

// StartOptions configures [Start].
type StartOptions struct {
	// Dir holds acme.json, root.pem, Caddy's storage and log. [Start]
	// generates acme.json there when it is missing; a second Start on the
	// same Dir finds everything imported already.
	Dir string
	// Certificates is the number of certificates to generate.
	Certificates int
	// LeafKey is the generated leaves' key type: "RSA4096" (Traefik's
	// default, and the default here) or "EC256".
	LeafKey string
	// Plain runs plain Caddy instead, without this module: its ACME issuer
	// points at the same CA and its storage ("storage-plain" in Dir) holds
	// the acme.json's certificates, imported offline (as `caddy traefik
	// import` does) before the first plain run and not timed. This is the
	// baseline the module is compared with.
	Plain bool
	// Handshakes is how many sequential full handshakes to time once Caddy
	// serves (0: none).
	Handshakes int
	// Timeout bounds the run; 0 means 5 minutes.
	Timeout time.Duration
	// Served, when set, is called once the first, middle and last names
	// are served, before every name is checked (one RSA handshake per name)
	// and the timed handshakes: a CPU profile stopped there is the start's.
	Served func()
}

// StartResult is what [Start] measured.
type StartResult struct {
	// Certificates is the number of certificates in acme.json.
	Certificates int `json:"certificates"`
	// Plain reports a run of plain Caddy (see [StartOptions.Plain]).
	Plain bool `json:"plain,omitempty"`
	// Imported reports whether Caddy's storage was empty at start (a first
	// start). Nothing is imported any more: the module reads acme.json
	// through; the field keeps its name for comparisons with older runs.
	Imported bool `json:"imported"`
	// FirstHandshake is from starting Caddy (provisioning and loading
	// included) to the first verified handshake for the middle name of the
	// file (the measure).
	FirstHandshake time.Duration `json:"first_handshake"`
	// FirstNameServed and LastNameServed are the same for the first and the
	// last name of the file: names are served as they load, so the first
	// ones need not wait for the last.
	FirstNameServed time.Duration `json:"first_name_served"`
	LastNameServed  time.Duration `json:"last_name_served"`
	// AllServed is from starting Caddy to every name being served (checked
	// by one verified handshake per name after the first one succeeded).
	AllServed time.Duration `json:"all_served"`
	// HandshakeP50 and HandshakeP99 are percentiles of sequential full TLS
	// handshakes (TCP connect included, chain verified), over names spread
	// over the whole file.
	HandshakeP50 time.Duration `json:"handshake_p50"`
	HandshakeP99 time.Duration `json:"handshake_p99"`
	// Handshakes is the number of timed handshakes.
	Handshakes int `json:"handshakes"`
	// PeakAfterStart is the memory right after the first handshake: the
	// peak of the start.
	PeakAfterStart Memory `json:"peak_after_start"`
	// Steady is the memory after every name was served and the handshakes
	// ran.
	Steady Memory `json:"steady"`
}

const startCaddyfile = `{
{{template "preamble" .}}
	traefik_acme {
		resolver le {
			email bench@example.test
			ca_server {{.Dir}}
			storage {{.AcmeJSON}}
			key_type EC256
			tls_challenge
		}
	}
}
{{.Sites}} {
	tls {
		issuer traefik le
	}
	respond "ok"
}
`

// plainCaddyfile is startCaddyfile without this module: Caddy's own ACME
// issuer for the same CA, whose storage keys are those the import wrote.
const plainCaddyfile = `{
{{template "preamble" .}}
}
{{.Sites}} {
	tls {
		issuer acme {
			dir {{.Dir}}
			email bench@example.test
			disable_http_challenge
		}
	}
	respond "ok"
}
`

// Start runs Caddy with a resolver whose acme.json holds
// opts.Certificates certificates (generated on the first run in opts.Dir)
// and every name in one site block, so that Caddy manages them all. It
// measures the time to the first verified handshake, checks every name is
// then served, and times opts.Handshakes sequential full handshakes. The
// resolver's CA is unreachable, so nothing can be ordered. Caddy is stopped
// before Start returns.
func Start(ctx context.Context, opts StartOptions) (StartResult, error) {
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	res := StartResult{Certificates: opts.Certificates, Plain: opts.Plain}
	acmeFile, roots, err := prepareAcmeJSON(opts.Dir, opts.Certificates, opts.LeafKey)
	if err != nil {
		return res, err
	}
	storage := filepath.Join(opts.Dir, "storage")
	if opts.Plain {
		storage = filepath.Join(opts.Dir, "storage-plain")
		if err := importOffline(ctx, acmeFile, storage, deadCA); err != nil {
			return res, err
		}
	}
	if _, err := os.Stat(storage); errors.Is(err, fs.ErrNotExist) {
		res.Imported = true
	}
	ports, err := caddytest.FreePorts(2)
	if err != nil {
		return res, err
	}
	httpPort, httpsPort := ports[0], ports[1]
	names := StartNames(opts.Certificates)
	logFile := filepath.Join(opts.Dir, "caddy.log")
	tmpl := startCaddyfile
	if opts.Plain {
		tmpl = plainCaddyfile
	}
	text, err := caddytest.Render(tmpl, map[string]any{
		"Storage":   storage,
		"Log":       logFile,
		"LogLevel":  "WARN",
		"HTTPPort":  httpPort,
		"HTTPSPort": httpsPort,
		"Dir":       deadCA,
		"AcmeJSON":  acmeFile,
		"Sites":     strings.Join(names, ", "),
	})
	if err != nil {
		return res, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(httpsPort))

	start := time.Now()
	if err := caddytest.Load(text); err != nil {
		return res, err
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = caddytest.Stop()
		}
	}()
	fail := func(err error) (StartResult, error) {
		return res, fmt.Errorf("%w\ncaddy log (tail):\n%s", err, caddytest.LogTail(logFile, 20))
	}
	served, err := waitFirstMiddleLast(ctx, addr, names, roots, start)
	if err != nil {
		return fail(err)
	}
	res.FirstNameServed, res.FirstHandshake, res.LastNameServed = served[0], served[1], served[2]
	res.PeakAfterStart = ReadMemory()
	if opts.Served != nil {
		opts.Served()
	}
	if _, _, err := waitServed(ctx, addr, names, roots); err != nil {
		return fail(err)
	}
	res.AllServed = time.Since(start)

	if opts.Handshakes > 0 {
		r := mrand.New(mrand.NewPCG(1, 2))
		durs := make([]time.Duration, 0, opts.Handshakes)
		for range opts.Handshakes {
			name := names[r.IntN(len(names))]
			t0 := time.Now()
			leaf, err := handshake(ctx, addr, name, roots)
			d := time.Since(t0)
			if err != nil {
				return fail(fmt.Errorf("handshake for %s: %w", name, err))
			}
			if leaf.Subject.CommonName != name {
				return fail(fmt.Errorf("handshake for %s: served the certificate of %s", name, leaf.Subject.CommonName))
			}
			durs = append(durs, d)
		}
		slices.Sort(durs)
		res.Handshakes = len(durs)
		res.HandshakeP50 = percentile(durs, 50)
		res.HandshakeP99 = percentile(durs, 99)
	}
	res.Steady = ReadMemory()
	stopped = true
	if err := caddytest.Stop(); err != nil {
		return res, err
	}
	return res, nil
}

// percentile returns the p-th percentile (nearest rank) of sorted.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (p*len(sorted)+99)/100 - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// waitFirstMiddleLast waits, concurrently, until the first, the middle and
// the last of names are each served and verified, and returns for each the
// time since start.
func waitFirstMiddleLast(ctx context.Context, addr string, names []string, roots *x509.CertPool, start time.Time) ([3]time.Duration, error) {
	var out [3]time.Duration
	picks := [3]string{names[0], names[len(names)/2], names[len(names)-1]}
	errs := make(chan error, 3)
	for i, name := range picks {
		go func() {
			_, last, err := waitServed(ctx, addr, []string{name}, roots)
			out[i] = last.Sub(start)
			errs <- err
		}()
	}
	var first error
	for range picks {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return out, first
}

// PreparePlain imports the acme.json in dir into the storage of the plain
// Caddy baseline (see [StartOptions.Plain]), unless that storage exists:
// call it before timing plain starts, so that no run pays for it.
func PreparePlain(ctx context.Context, dir string) error {
	return importOffline(ctx, filepath.Join(dir, "acme.json"), filepath.Join(dir, "storage-plain"), deadCA)
}

// importOffline imports the resolver StartResolver of acmeFile into a
// file-system storage at dir (as `caddy traefik import` does), unless dir
// exists already.
func importOffline(ctx context.Context, acmeFile, dir, ca string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	f, err := acmejson.Load(acmeFile, acmejson.LoadOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	tmp := dir + ".tmp"
	_ = os.RemoveAll(tmp)
	if _, err := migrate.Import(ctx, &certmagic.FileStorage{Path: tmp}, f[StartResolver], migrate.ImportOptions{CA: ca}); err != nil {
		return fmt.Errorf("importing acme.json for plain Caddy: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("importing acme.json for plain Caddy: %w", err)
	}
	return nil
}

// prepareAcmeJSON generates dir/acme.json (certs leaves of leafKey, signed by
// a root written to dir/root.pem) unless it exists, and returns its path and
// a pool holding that root: what every start scenario measures against.
func prepareAcmeJSON(dir string, certs int, leafKey string) (string, *x509.CertPool, error) {
	acmeFile := filepath.Join(dir, "acme.json")
	if _, err := os.Stat(acmeFile); errors.Is(err, fs.ErrNotExist) {
		if err := GenerateAcmeJSON(dir, certs, leafKey); err != nil {
			return "", nil, err
		}
	}
	rootPEM, err := os.ReadFile(filepath.Join(dir, "root.pem"))
	if err != nil {
		return "", nil, fmt.Errorf("reading root.pem: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(rootPEM) {
		return "", nil, errors.New("root.pem holds no certificate")
	}
	return acmeFile, roots, nil
}
