package acmejson

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
)

// TightenPermissions sets the mode of the acme.json at path to 0600 when
// the group or others can access it and the current user owns it: what
// [Load] does with LoadOptions.TightenPermissions, for a caller that read
// the file with LoadOptions.ReadOnly (so that reading it changed nothing,
// as `caddy validate` must not) and tightens it later, once it owns the
// file (Caddy running). A missing file, a file with a mode already tight
// and a file owned by another user (logged) are not errors. It reports
// whether it changed the mode. Symbolic links are followed. Unix only;
// elsewhere it does nothing.
func TightenPermissions(path string, logger *slog.Logger) (bool, error) {
	log := loggerOf(logger)
	target, err := resolveTarget(path)
	if err != nil {
		return false, fmt.Errorf("checking acme.json permissions %s: %w", path, err)
	}
	fi, err := os.Stat(target)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("checking acme.json permissions %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() || !permissionsTooOpen(fi) {
		return false, nil
	}
	if !ownedByCurrentUser(fi) {
		log.Warn("not tightening acme.json permissions: file is owned by another user", slog.String("path", path))
		return false, nil
	}
	if err := os.Chmod(target, 0o600); err != nil {
		return false, fmt.Errorf("tightening acme.json permissions %s: %w", path, err)
	}
	log.Info("tightened acme.json permissions to 0600", slog.String("path", path))
	return true, nil
}
