package bench

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"sync"
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
	// PerCertificate is the mean time to mirror one certificate when they
	// come one at a time (each is its own write of the file).
	PerCertificate time.Duration `json:"per_certificate"`
	// PerCertificateTogether is the mean time per certificate when Mirrors
	// certificates arrive at once, as when Caddy obtains many names at
	// start: the plugin's acmejson.Batcher writes them in a few batches.
	PerCertificateTogether time.Duration `json:"per_certificate_together"`
	// Writes is the number of file writes the together run took.
	Writes int `json:"writes"`
	// FileBytes is the size of acme.json after the last mirror.
	FileBytes int64 `json:"file_bytes"`
}

// Mirror generates an acme.json of certificates entries in dir and then
// mirrors new certificates into it as the plugin's cert_obtained handler
// does (an acmejson.Batcher: lock, load, modify, atomic write), first
// mirrors certificates one at a time, then mirrors more all at once. leafKey is the key
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
	opts := acmejson.LoadOptions{Resolver: StartResolver, TightenPermissions: true}

	// One at a time: each certificate is a batch of its own.
	b := acmejson.NewBatcher(path, opts)
	start := time.Now()
	for i := range mirrors {
		name := fmt.Sprintf("mirrored%04d.start.test", i)
		err := b.Update(func(f *acmejson.File) error {
			f.Ensure(StartResolver).Upsert([]string{name}, sample.Certificate, sample.Key)
			return nil
		})
		if err != nil {
			return res, fmt.Errorf("mirroring %s: %w", name, err)
		}
	}
	if mirrors > 0 {
		res.PerCertificate = time.Since(start) / time.Duration(mirrors)
	}

	// All at once, from as many goroutines as certificates, as certmagic's
	// obtain goroutines do.
	var (
		wg       sync.WaitGroup
		errMu    sync.Mutex
		firstErr error
		writes   = map[*acmejson.Resolver]bool{} // one resolver value per loaded file
	)
	start = time.Now()
	for i := range mirrors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("together%04d.start.test", i)
			err := b.Update(func(f *acmejson.File) error {
				r := f.Ensure(StartResolver)
				errMu.Lock()
				writes[r] = true
				errMu.Unlock()
				r.Upsert([]string{name}, sample.Certificate, sample.Key)
				return nil
			})
			if err != nil {
				errMu.Lock()
				firstErr = cmp.Or(firstErr, fmt.Errorf("mirroring %s: %w", name, err))
				errMu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return res, firstErr
	}
	if mirrors > 0 {
		res.PerCertificateTogether = time.Since(start) / time.Duration(mirrors)
	}
	res.Writes = len(writes)

	f, err = acmejson.Load(path)
	if err != nil {
		return res, fmt.Errorf("loading acme.json: %w", err)
	}
	if got, want := len(f[StartResolver].Certificates), certificates+2*mirrors; got != want {
		return res, fmt.Errorf("checking acme.json: %d certificates, want %d", got, want)
	}
	for i := range mirrors {
		for _, name := range []string{fmt.Sprintf("mirrored%04d.start.test", i), fmt.Sprintf("together%04d.start.test", i)} {
			if f[StartResolver].Find(name) < 0 {
				return res, fmt.Errorf("checking acme.json: %s missing", name)
			}
		}
	}
	if fi, err := os.Stat(path); err == nil {
		res.FileBytes = fi.Size()
	}
	return res, nil
}
