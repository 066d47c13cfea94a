package acmejson

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// LoadOptions tunes [Load], [LoadDetailed] and [Update].
type LoadOptions struct {
	// Resolver is the resolver name the content of a Traefik v1 file is
	// placed under when it is converted.
	// Default: "default" (DefaultV1Resolver).
	Resolver string

	// Logger receives warnings: permissions too open (once per path and
	// process), a converted v1 file, incomplete certificate entries. Messages
	// are constant lowercase phrases with snake_case attributes; no key
	// material is ever logged.
	// Default: nil (discard).
	Logger *slog.Logger

	// TightenPermissions asks Load to chmod a group- or world-accessible
	// file to 0600 when the current user owns it. The file is read either
	// way. Unix only.
	// Default: false.
	TightenPermissions bool

	// ReadOnly promises that the caller will not write the file back (for
	// example a reader of a Traefik-managed file): Load then writes no v1
	// backup and changes no permissions. Ignored by Update.
	// Default: false.
	ReadOnly bool
}

// SaveOptions tunes [Save].
type SaveOptions struct {
	// Logger receives warnings, such as falling back to an in-place write
	// when the file cannot be replaced by rename (a bind-mounted file).
	// Default: nil (discard).
	Logger *slog.Logger
}

// LoadInfo describes what [LoadDetailed] found.
type LoadInfo struct {
	// Path is the file that was read, with symbolic links resolved.
	Path string
	// Exists reports whether the file existed.
	Exists bool
	// Format is the layout the file was in.
	Format Format
	// Mode holds the permission bits the file had when it was read.
	Mode fs.FileMode
	// Tightened reports whether Load changed the mode to 0600.
	Tightened bool
	// Backup is the path of the copy of the original v1 file, when the
	// file was in the v1 layout and LoadOptions.ReadOnly was false.
	Backup string
	// Incomplete lists the certificate entries Traefik would drop (null, or
	// with an empty certificate or key). They are kept in the File.
	Incomplete []Problem
}

// Load reads the acme.json file at path. A missing file, an empty file (size
// 0, the state Traefik recommends creating) or one holding only white space
// gives an empty File and no error. A Traefik v1 file is converted (see
// [Parse]) and its original bytes are copied beside it as "<path>.v1.bak"
// (mode 0600, written atomically, never overwriting an existing backup; an
// existing backup with other content makes it use "<path>.v1.bak.1", …);
// the file itself is rewritten in the v2 layout only by a later Save.
//
// A group- or world-accessible file is read (Traefik refuses it); a warning
// is logged once per path, and with LoadOptions.TightenPermissions the mode
// is set to 0600 if the current user owns the file. The file's content is
// never changed by Load.
//
// Certificate entries with an empty certificate or key are kept and logged
// (Traefik silently drops them). Errors name the path; JSON errors carry
// the byte offset. Only the first opts value is used. Load takes no lock:
// Save replaces the file atomically, so a reader sees either the old or
// the new content.
func Load(path string, opts ...LoadOptions) (File, error) {
	var o LoadOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	f, _, err := LoadDetailed(path, o)
	return f, err
}

// LoadDetailed is [Load], also returning what it found and did.
func LoadDetailed(path string, opts LoadOptions) (File, LoadInfo, error) {
	f, info, _, err := load(resolvePath(path), path, opts)
	return f, info, err
}

// load reads target (path is the name given by the caller, for messages)
// and also returns the raw bytes read.
func load(target, path string, opts LoadOptions) (File, LoadInfo, []byte, error) {
	log := loggerOf(opts.Logger)
	info := LoadInfo{Path: target}
	fh, err := os.Open(target)
	if errors.Is(err, fs.ErrNotExist) {
		return File{}, info, nil, nil
	}
	if err != nil {
		return nil, info, nil, fmt.Errorf("reading acme.json %s: %w", path, err)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil, info, nil, fmt.Errorf("reading acme.json %s: %w", path, err)
	}
	if fi.IsDir() {
		return nil, info, nil, fmt.Errorf("reading acme.json %s: is a directory", path)
	}
	info.Exists = true
	info.Mode = fi.Mode().Perm()
	buf := bytes.NewBuffer(make([]byte, 0, fi.Size()+bytes.MinRead))
	_, err = buf.ReadFrom(fh)
	data := buf.Bytes()
	if err != nil {
		return nil, info, nil, fmt.Errorf("reading acme.json %s: %w", path, err)
	}

	if permissionsTooOpen(fi) {
		if _, warned := permWarned.LoadOrStore(target, true); !warned {
			log.Warn("acme.json permissions are too open; traefik would refuse this file",
				slog.String("path", path), slog.String("mode", fmt.Sprintf("%04o", info.Mode)))
		}
		if opts.TightenPermissions && !opts.ReadOnly {
			if ownedByCurrentUser(fi) {
				if err := os.Chmod(target, 0o600); err != nil {
					log.Warn("tightening acme.json permissions", slog.String("path", path), slog.String("error", err.Error()))
				} else {
					info.Tightened = true
					log.Info("tightened acme.json permissions to 0600", slog.String("path", path))
				}
			} else {
				log.Warn("not tightening acme.json permissions: file is owned by another user", slog.String("path", path))
			}
		}
	}

	f, format, err := Parse(data, opts.Resolver)
	info.Format = format
	if err != nil {
		return nil, info, data, fmt.Errorf("reading acme.json %s: %w", path, err)
	}
	if format == FormatV1 {
		resolver := opts.Resolver
		if resolver == "" {
			resolver = DefaultV1Resolver
		}
		if !opts.ReadOnly {
			bak, err := writeBackup(target, data)
			if err != nil {
				return nil, info, data, fmt.Errorf("backing up traefik v1 acme.json %s: %w", path, err)
			}
			info.Backup = bak
		}
		log.Warn("converted traefik v1 acme.json to the v2 layout; the file is rewritten on the next save",
			slog.String("path", path), slog.String("resolver", resolver), slog.String("backup", info.Backup))
	}
	info.Incomplete = f.EmptyEntries()
	for _, p := range info.Incomplete {
		log.Warn("acme.json certificate entry is incomplete; kept but unusable",
			slog.String("path", path), slog.String("resolver", p.Resolver), slog.Int("index", p.Index),
			slog.Any("domain", p.Names), slog.String("reason", p.Reason))
	}
	return f, info, data, nil
}

// permWarned remembers the paths already warned about, so the warning about
// permissions is logged once per path and process.
var permWarned sync.Map

func loggerOf(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// resolvePath follows symbolic links so that the file, not the link, is
// replaced and locked. A path that does not resolve is used as is.
func resolvePath(path string) string {
	if r, err := filepath.EvalSymlinks(path); err == nil {
		return r
	}
	return path
}

// Save writes f to path, replacing the whole file. It marshals first and
// writes nothing if that fails. It then takes the advisory lock on
// "<path>.lock", writes a temporary file in the same directory with mode
// 0600, fsyncs it, renames it over path and fsyncs the directory, so that a
// crash at any point leaves either the old or the new file. Temporary files
// left by writers that died are removed. If path cannot be replaced by
// rename (a single bind-mounted file: EBUSY), Save falls back to rewriting
// it in place, as Traefik does, and logs a warning. Symbolic links are
// followed. A missing directory of path is created (mode 0700, logged).
// Only the first opts value is used.
//
// Save overwrites whatever the file holds; when other processes may write
// it too, use [Update].
func Save(path string, f File, opts ...SaveOptions) error {
	var o SaveOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	data, err := f.Marshal()
	if err != nil {
		return fmt.Errorf("encoding acme.json %s: %w", path, err)
	}
	target := resolvePath(path)
	if dirMissing(target) {
		if err := makeDir(target, path, loggerOf(o.Logger)); err != nil {
			return fmt.Errorf("creating the directory of acme.json %s: %w", path, err)
		}
	}
	unlock, err := lockPath(target)
	if err != nil {
		return fmt.Errorf("locking acme.json %s: %w", path, err)
	}
	defer unlock()
	if err := writeFile(target, data, loggerOf(o.Logger)); err != nil {
		return fmt.Errorf("writing acme.json %s: %w", path, err)
	}
	return nil
}

// Update applies fn to the current content of path under the file's lock:
// it takes the lock, loads the file fresh (as [Load] with opts), calls fn,
// and saves the result as [Save] does. Resolvers and entries fn leaves alone
// are written back unchanged (byte for byte, for a Traefik-written file). If
// fn returns an error, or the content is unchanged, nothing is written. fn
// may replace the File it is given. When the directory of path does not
// exist, it is created (mode 0700, logged) if fn leaves something to write;
// otherwise nothing is created. Only the first opts value is used.
func Update(path string, fn func(*File) error, opts ...LoadOptions) error {
	var o LoadOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	o.ReadOnly = false
	log := loggerOf(o.Logger)
	target := resolvePath(path)
	// A missing directory is created only when there is something to
	// write: fn runs on the empty file first.
	var pre File
	if dirMissing(target) {
		pre = File{}
		if err := fn(&pre); err != nil {
			return fmt.Errorf("updating acme.json %s: %w", path, err)
		}
		if len(pre) == 0 {
			return nil
		}
		if err := makeDir(target, path, log); err != nil {
			return fmt.Errorf("creating the directory of acme.json %s: %w", path, err)
		}
	}
	unlock, err := lockPath(target)
	if err != nil {
		return fmt.Errorf("locking acme.json %s: %w", path, err)
	}
	defer unlock()
	f, info, raw, err := load(target, path, o)
	if err != nil {
		return err
	}
	if pre != nil && !info.Exists {
		f = pre // fn already ran on the (still) missing file
	} else if err := fn(&f); err != nil {
		return fmt.Errorf("updating acme.json %s: %w", path, err)
	}
	if !info.Exists && len(f) == 0 {
		return nil
	}
	data, err := f.Marshal()
	if err != nil {
		return fmt.Errorf("encoding acme.json %s: %w", path, err)
	}
	if info.Exists && bytes.Equal(data, raw) {
		return nil
	}
	if err := writeFile(target, data, log); err != nil {
		return fmt.Errorf("writing acme.json %s: %w", path, err)
	}
	return nil
}

// tempPrefix is the name prefix of Save's temporary files for target.
func tempPrefix(target string) string {
	return "." + filepath.Base(target) + ".tmp-"
}

// renameFile is os.Rename, replaceable by tests.
var renameFile = os.Rename

// writeFile atomically replaces target with data. The caller holds the lock.
func writeFile(target string, data []byte, log *slog.Logger) error {
	dir := filepath.Dir(target)
	prefix := tempPrefix(target)
	removeStaleTemps(dir, prefix)
	tmp, err := os.CreateTemp(dir, prefix+"*")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	committed := false
	defer func() {
		if !committed {
			_ = os.Remove(tmpName)
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := renameFile(tmpName, target); err != nil {
		if !renameNotPossible(err) {
			return err
		}
		log.Warn("cannot replace acme.json atomically (bind-mounted file?); rewriting it in place",
			slog.String("path", target), slog.String("error", err.Error()))
		return writeInPlace(target, data)
	}
	committed = true
	return syncDir(dir)
}

// writeInPlace truncates and rewrites target, as Traefik does. It is the
// fallback when rename cannot replace the file.
func writeInPlace(target string, data []byte) error {
	fh, err := os.OpenFile(target, os.O_WRONLY|os.O_TRUNC|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if _, err := fh.Write(data); err != nil {
		fh.Close()
		return err
	}
	if err := fh.Chmod(0o600); err != nil {
		fh.Close()
		return err
	}
	if err := fh.Sync(); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
}

// removeStaleTemps deletes temporary files left by writers that died
// between creating and renaming them. The caller holds the lock, so no live
// writer owns such a file.
func removeStaleTemps(dir, prefix string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) && e.Type().IsRegular() {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// writeBackup stores data as "<target>.v1.bak" (or ".v1.bak.N" when a
// backup with other content exists) without ever overwriting a file, and
// returns the backup's path. An existing backup with the same content is
// reused.
func writeBackup(target string, data []byte) (string, error) {
	base := target + ".v1.bak"
	for i := 0; i < 10; i++ {
		name := base
		if i > 0 {
			name = fmt.Sprintf("%s.%d", base, i)
		}
		existing, err := os.ReadFile(name)
		switch {
		case err == nil && bytes.Equal(existing, data):
			return name, nil
		case err == nil:
			continue
		case !errors.Is(err, fs.ErrNotExist):
			return "", err
		}
		err = createExclusive(name, data)
		if errors.Is(err, fs.ErrExist) {
			// Another process created it meanwhile; it most likely holds the
			// same bytes.
			if existing, rerr := os.ReadFile(name); rerr == nil && bytes.Equal(existing, data) {
				return name, nil
			}
			continue
		}
		if err != nil {
			return "", err
		}
		return name, nil
	}
	return "", fmt.Errorf("too many existing backups named %s*", base)
}

// createExclusive writes data to name atomically (temporary file, fsync,
// hard link) with mode 0600, failing with fs.ErrExist if name exists.
func createExclusive(name string, data []byte) error {
	dir := filepath.Dir(name)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(name)+".tmp-*")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(0o600)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Link(tmpName, name); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return err
		}
		// No hard links on this file system: exclusive create instead.
		fh, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		_, err = fh.Write(data)
		if err == nil {
			err = fh.Sync()
		}
		if cerr := fh.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			_ = os.Remove(name)
			return err
		}
	}
	return syncDir(dir)
}
