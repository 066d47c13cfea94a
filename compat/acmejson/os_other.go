//go:build !unix

package acmejson

import (
	"io/fs"
	"log/slog"
	"os"
)

// permissionsTooOpen is false: like Traefik, no permission check is made
// outside Unix, where the mode bits do not describe access.
func permissionsTooOpen(fs.FileInfo) bool { return false }

// ownedByCurrentUser is false outside Unix.
func ownedByCurrentUser(fs.FileInfo) bool { return false }

// syncDir does nothing: directories cannot be fsynced outside Unix.
func syncDir(string) error { return nil }

// renameNotPossible is false outside Unix.
func renameNotPossible(error) bool { return false }

// openNonblock is not needed outside Unix (no named pipes at file paths).
const openNonblock = 0

// keepOwner does nothing outside Unix.
func keepOwner(*os.File, fs.FileInfo, *slog.Logger, string) {}

// reserveSpace does nothing outside Unix.
func reserveSpace(*os.File, int64) error { return nil }
