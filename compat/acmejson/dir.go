package acmejson

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

// dirMissing reports whether the directory target is to be written in does
// not exist.
func dirMissing(target string) bool {
	_, err := os.Stat(filepath.Dir(target))
	return errors.Is(err, fs.ErrNotExist)
}

// makeDir creates the directory of target (and any missing parent) with
// mode 0700, as the first write of a file whose directory does not exist
// yet needs it, and logs it. path is the name given by the caller.
//
// A storage path in a missing directory is accepted at provisioning, like
// Traefik's default "acme.json" in a fresh container: the directory is
// created when the first certificate or account is written, never by a
// read, so that validating a config changes nothing on disk.
func makeDir(target, path string, log *slog.Logger) error {
	dir := filepath.Dir(target)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	log.Info("created the missing directory of acme.json", slog.String("path", path), slog.String("dir", dir), slog.String("mode", "0700"))
	return nil
}
