package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
)

// MirrorResult is what [Mirror] measured.
type MirrorResult struct {
	// Certificates is the number of certificates in acme.json before the
	// first mirror.
	Certificates int `json:"certificates"`
	// Mirrors is the number of certificates mirrored.
	Mirrors int `json:"mirrors"`
	// PerCertificate is the mean time to mirror one certificate.
	PerCertificate time.Duration `json:"per_certificate"`
	// FileBytes is the size of acme.json after the last mirror.
	FileBytes int64 `json:"file_bytes"`
}

// Mirror generates an acme.json of certificates entries in dir and then
// mirrors mirrors new certificates into it one at a time, exactly as the
// plugin's cert_obtained handler does: acmejson.Update (lock, load, modify,
// atomic write with a backup) with Ensure and Upsert. leafKey is the key
// type of the generated entries (see [GenerateAcmeJSON]). It checks that every
// mirrored name is in the file at the end.
func Mirror(dir string, certificates, mirrors int, leafKey string) (MirrorResult, error) {
	res := MirrorResult{Certificates: certificates, Mirrors: mirrors}
	if err := GenerateAcmeJSON(dir, certificates, leafKey); err != nil {
		return res, err
	}
	path := filepath.Join(dir, "acme.json")
	f, err := acmejson.Load(path)
	if err != nil {
		return res, fmt.Errorf("loading acme.json: %w", err)
	}
	sample := f[StartResolver].Certificates[0]
	start := time.Now()
	for i := range mirrors {
		name := fmt.Sprintf("mirrored%04d.start.test", i)
		err := acmejson.Update(path, func(f *acmejson.File) error {
			f.Ensure(StartResolver).Upsert([]string{name}, sample.Certificate, sample.Key)
			return nil
		}, acmejson.LoadOptions{Resolver: StartResolver, TightenPermissions: true})
		if err != nil {
			return res, fmt.Errorf("mirroring %s: %w", name, err)
		}
	}
	if mirrors > 0 {
		res.PerCertificate = time.Since(start) / time.Duration(mirrors)
	}
	f, err = acmejson.Load(path)
	if err != nil {
		return res, fmt.Errorf("loading acme.json: %w", err)
	}
	if got, want := len(f[StartResolver].Certificates), certificates+mirrors; got != want {
		return res, fmt.Errorf("checking acme.json: %d certificates, want %d", got, want)
	}
	for i := range mirrors {
		if name := fmt.Sprintf("mirrored%04d.start.test", i); f[StartResolver].Find(name) < 0 {
			return res, fmt.Errorf("checking acme.json: %s missing", name)
		}
	}
	if fi, err := os.Stat(path); err == nil {
		res.FileBytes = fi.Size()
	}
	return res, nil
}
