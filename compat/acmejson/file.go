package acmejson

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

	// Operation names, for the log, what waits when the file's lock is held
	// by another process ("export", "mirror", …). Used by Update.
	// Default: "update".
	Operation string
}

// SaveOptions tunes [Save].
type SaveOptions struct {
	// Logger receives warnings, such as falling back to an in-place write
	// when the file cannot be replaced by rename (a bind-mounted file).
	// Default: nil (discard).
	Logger *slog.Logger

	// Operation names, for the log, what waits when the file's lock is held
	// by another process.
	// Default: "save".
	Operation string
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
	// Recovered is the path of the copy the content was read from, when the
	// file itself did not parse because an in-place rewrite (see [Save])
	// was interrupted; the file is repaired by the next Save or Update.
	Recovered string
}

// Load reads the acme.json file at path. A missing file, an empty file (size
// 0, the state Traefik recommends creating) or one holding only white space
// gives an empty File and no error. A Traefik v1 file is converted (see
// [Parse]) and its original bytes are copied beside it as "<path>.v1.bak"
// (mode 0600, written atomically, never overwriting an existing backup; an
// existing backup with other content makes it use "<path>.v1.bak.1", …);
// the file itself is rewritten in the v2 layout only by a later Save.
//
// Only a regular file of at most [MaxFileSize] bytes is read: a named pipe,
// a device or a socket at path is refused at once (it is opened without
// blocking and checked before any read), as is a larger file; the errors
// wrap [ErrNotRegular] and [ErrTooLarge].
//
// When the file does not parse and "<path>.new" holds a parseable copy (left
// by an in-place rewrite that was interrupted, see [Save]), that copy is
// returned instead, a warning is logged and LoadInfo.Recovered names it.
//
// A group- or world-accessible file is read (Traefik refuses it); a warning
// is logged once per path, and with LoadOptions.TightenPermissions the mode
// is set to 0600 if the current user owns the file and its content is an
// acme.json. The file's content is never changed by Load.
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
	target, err := resolveTarget(path)
	if errors.Is(err, fs.ErrNotExist) {
		return File{}, LoadInfo{Path: path}, nil
	}
	if err != nil {
		return nil, LoadInfo{Path: path}, fmt.Errorf("reading acme.json %s: %w", path, err)
	}
	data, fi, err := readRegular(target)
	if errors.Is(err, fs.ErrNotExist) {
		return File{}, LoadInfo{Path: target}, nil
	}
	if err != nil {
		return nil, LoadInfo{Path: target}, fmt.Errorf("reading acme.json %s: %w", path, err)
	}
	f, info, _, err := decodeLoaded(target, path, fi, data, opts)
	return f, info, err
}

// MaxFileSize is the size of the largest acme.json this package reads:
// 256 MiB, about eight times a file of 5,000 RSA-4096 certificates.
const MaxFileSize = 256 << 20

// ErrNotRegular is wrapped by the errors for a path that names a directory,
// a named pipe (FIFO), a device or a socket instead of a regular file.
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is wrapped by the errors for a file larger than [MaxFileSize].
var ErrTooLarge = fmt.Errorf("larger than %d bytes", MaxFileSize)

// ReadFile returns the content of the regular file at path, as [Load]
// reads it: opened without blocking, checked to be a regular file, and at
// most [MaxFileSize] bytes. It also returns the file's information (from
// the open file, not the path). Errors wrap [ErrNotRegular],
// [ErrTooLarge] or the operating system's error (fs.ErrNotExist, …).
func ReadFile(path string) ([]byte, fs.FileInfo, error) {
	return readRegular(path)
}

// readRegular is ReadFile.
func readRegular(name string) ([]byte, fs.FileInfo, error) {
	fh, fi, err := openRegular(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, nil, err
	}
	defer fh.Close()
	data, err := readAllBounded(fh, fi.Size())
	return data, fi, err
}

// openRegular opens name with O_NONBLOCK, so that opening a named pipe
// never waits for a writer, and checks with fstat that it is a regular
// file.
func openRegular(name string, flag int, perm fs.FileMode) (*os.File, fs.FileInfo, error) {
	fh, err := os.OpenFile(name, flag|openNonblock, perm)
	if err != nil {
		return nil, nil, err
	}
	fi, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		fh.Close()
		return nil, nil, notRegularError(fi.Mode())
	}
	return fh, fi, nil
}

// notRegularError says what a file of mode m is, wrapping ErrNotRegular.
func notRegularError(m fs.FileMode) error {
	what := "a special file"
	switch {
	case m.IsDir():
		what = "a directory"
	case m&fs.ModeNamedPipe != 0:
		what = "a named pipe (FIFO)"
	case m&fs.ModeCharDevice != 0:
		what = "a character device"
	case m&fs.ModeDevice != 0:
		what = "a block device"
	case m&fs.ModeSocket != 0:
		what = "a socket"
	}
	return fmt.Errorf("is %s: %w", what, ErrNotRegular)
}

// readAllBounded reads r to its end, failing with ErrTooLarge past
// MaxFileSize bytes. size is a hint for the buffer.
func readAllBounded(r io.Reader, size int64) ([]byte, error) {
	if size > MaxFileSize {
		return nil, ErrTooLarge
	}
	if size < 0 {
		size = 0
	}
	buf := bytes.NewBuffer(make([]byte, 0, size+bytes.MinRead))
	n, err := buf.ReadFrom(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if n > MaxFileSize {
		return nil, ErrTooLarge
	}
	return buf.Bytes(), nil
}

// InPlaceCopySuffix is appended to the file's name for the complete copy of
// the new content that an in-place rewrite writes (and fsyncs) before it
// touches the file, and removes once the file is rewritten: see [Save].
const InPlaceCopySuffix = ".new"

// decodeLoaded parses data, the content of target read with information fi,
// recovering from the in-place copy when data does not parse, and applies
// what Load does after reading. It also returns the bytes the File was
// decoded from.
func decodeLoaded(target, path string, fi fs.FileInfo, data []byte, opts LoadOptions) (File, LoadInfo, []byte, error) {
	log := loggerOf(opts.Logger)
	info := LoadInfo{Path: target, Exists: true, Mode: fi.Mode().Perm()}
	f, format, err := Parse(data, opts.Resolver)
	info.Format = format
	decoded := data
	if err != nil {
		copyPath := target + InPlaceCopySuffix
		cf, cdata, cerr := loadInPlaceCopy(copyPath)
		if cerr != nil {
			return nil, info, data, fmt.Errorf("reading acme.json %s: %w", path, err)
		}
		log.Warn("acme.json does not parse; using the copy an interrupted in-place rewrite left beside it",
			slog.String("path", path), slog.String("copy", copyPath), slog.String("error", err.Error()))
		f, format, decoded = cf, FormatV2, cdata
		info.Format, info.Recovered = format, copyPath
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
	return f, info, decoded, nil
}

// loadInPlaceCopy reads and parses the copy an in-place rewrite leaves. It
// must be a regular, non-empty file in the v2 layout (what Save writes).
func loadInPlaceCopy(copyPath string) (File, []byte, error) {
	data, _, err := readRegular(copyPath)
	if err != nil {
		return nil, nil, err
	}
	f, format, err := Parse(data, "")
	if err != nil {
		return nil, nil, err
	}
	if format != FormatV2 {
		return nil, nil, fmt.Errorf("in-place copy %s is not in the v2 layout", copyPath)
	}
	return f, data, nil
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

// maxSymlinks bounds the symbolic links resolveTarget follows.
const maxSymlinks = 40

// resolveTarget returns the file path names once symbolic links are
// followed, so that the file, not a link to it, is read, locked and
// replaced. A dangling link resolves to the path its last link points to
// (which a write then creates): a link is never replaced by a file. A path
// in a missing directory is returned as it is.
func resolveTarget(path string) (string, error) {
	p := path
	for range maxSymlinks {
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			dir, err := filepath.EvalSymlinks(filepath.Dir(p))
			if errors.Is(err, fs.ErrNotExist) {
				return p, nil // a write creates the directory (see makeDir)
			}
			if err != nil {
				return "", err
			}
			return filepath.Join(dir, filepath.Base(p)), nil
		}
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return filepath.EvalSymlinks(p)
		}
		link, err := os.Readlink(p)
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(link) {
			link = filepath.Join(filepath.Dir(p), link)
		}
		p = link
	}
	return "", fmt.Errorf("resolving %s: too many levels of symbolic links", path)
}

// Save writes f to path, replacing the whole file; it is [SaveContext]
// without a context.
func Save(path string, f File, opts ...SaveOptions) error {
	return SaveContext(context.Background(), path, f, opts...)
}

// SaveContext writes f to path, replacing the whole file. It marshals first
// and writes nothing if that fails. It then takes the advisory lock on the
// file (see [UpdateContext]), refuses to overwrite a file whose content is
// not an acme.json (anything but empty, white space or a parseable file),
// writes a temporary file in the same directory with mode 0600 and the
// file's owner and group, fsyncs it, renames it over path and fsyncs the
// directory, so that a crash at any point leaves either the old or the new
// file. Temporary files left by writers that died are removed.
//
// If path cannot be replaced by rename (a single bind-mounted file: EBUSY),
// Save logs a warning and rewrites the file in place, never leaving it
// without an intact copy: the complete temporary file is first renamed to
// "<path>.new" (InPlaceCopySuffix) and the directory fsynced; space for the
// new content is reserved (fallocate, where supported), so that a full disk
// fails before the file is touched; only then is the file overwritten,
// truncated to length and fsynced, and the copy removed. If that is
// interrupted (a crash, a write error), the copy stays and [Load] reads it
// instead of the torn file until the next write repairs the file.
//
// Symbolic links are followed: the final target is written (created, for a
// dangling link), never the link. A missing directory of path is created
// (mode 0700, logged). Waiting for the lock honours ctx and is
// logged. Only the first opts value is used. Save overwrites whatever
// acme.json the file holds; when other processes may write it too, use
// [Update].
func SaveContext(ctx context.Context, path string, f File, opts ...SaveOptions) error {
	var o SaveOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.Operation == "" {
		o.Operation = "save"
	}
	log := loggerOf(o.Logger)
	data, err := f.Marshal()
	if err != nil {
		return fmt.Errorf("encoding acme.json %s: %w", path, err)
	}
	target, err := resolveTarget(path)
	if err != nil {
		return fmt.Errorf("writing acme.json %s: %w", path, err)
	}
	if dirMissing(target) {
		if err := makeDir(target, path, log); err != nil {
			return fmt.Errorf("creating the directory of acme.json %s: %w", path, err)
		}
	}
	lk, err := lockTarget(ctx, target, path, log, o.Operation)
	if err != nil {
		return fmt.Errorf("locking acme.json %s: %w", path, err)
	}
	written := false
	defer func() { lk.release(target, written) }()
	if !lk.created && !looksLikeJSONObject(lk.fh, lk.fi.Size()) {
		cur, err := readAllBounded(lk.fh, lk.fi.Size())
		if err != nil {
			return fmt.Errorf("reading acme.json %s: %w", path, err)
		}
		if err := checkOverwritable(target, cur); err != nil {
			return fmt.Errorf("writing acme.json %s: refusing to overwrite a file that is not an acme.json: %w", path, err)
		}
	}
	if err := writeFile(target, data, lk.fi, log); err != nil {
		return fmt.Errorf("writing acme.json %s: %w", path, err)
	}
	written = true
	return nil
}

// looksLikeJSONObject reports, from its first and last bytes only, whether
// the file fh of the given size is empty or white space, or starts with
// '{' and ends with '}' (white space aside), as every acme.json does. It is
// Save's cheap check before overwriting: a file that fails it gets the full
// one, checkOverwritable.
func looksLikeJSONObject(fh *os.File, size int64) bool {
	const edge = 4096
	if size == 0 {
		return true
	}
	head := make([]byte, min(size, edge))
	if _, err := fh.ReadAt(head, 0); err != nil {
		return false
	}
	head = bytes.TrimLeft(head, " \t\r\n")
	if len(head) == 0 {
		return size <= edge
	}
	tail := make([]byte, min(size, edge))
	if _, err := fh.ReadAt(tail, size-int64(len(tail))); err != nil {
		return false
	}
	tail = bytes.TrimRight(tail, " \t\r\n")
	return head[0] == '{' && len(tail) > 0 && tail[len(tail)-1] == '}'
}

// checkOverwritable reports why cur, the content of target, must not be
// overwritten by Save: it is not white space or a JSON object (what every
// acme.json layout is), and no in-place copy beside it parses.
func checkOverwritable(target string, cur []byte) error {
	trimmed := bytes.TrimSpace(cur)
	if len(trimmed) == 0 {
		return nil
	}
	if trimmed[0] == '{' && json.Valid(trimmed) {
		return nil
	}
	if _, _, err := loadInPlaceCopy(target + InPlaceCopySuffix); err == nil {
		return nil
	}
	_, _, err := Parse(cur, "")
	if err == nil {
		err = errors.New("not a JSON object")
	}
	return err
}

// Update applies fn to the current content of path under the file's lock;
// it is [UpdateContext] without a context.
func Update(path string, fn func(*File) error, opts ...LoadOptions) error {
	return UpdateContext(context.Background(), path, fn, opts...)
}

// UpdateContext applies fn to the current content of path under the file's
// lock: it takes the lock, loads the file fresh (as [Load] with opts),
// calls fn, and saves the result as [SaveContext] does. Resolvers and
// entries fn leaves alone are written back unchanged (byte for byte, for a
// Traefik-written file). If fn returns an error, or the content is
// unchanged, nothing is written; a missing file fn leaves empty is not
// created. When the directory of path does not exist, it is created (mode
// 0700, logged) if fn leaves something to write; otherwise nothing is
// created. A file that is not an acme.json is neither written nor touched
// (no chmod). fn may replace the File it is given. Only the first opts
// value is used.
//
// The lock is an advisory flock on the file itself (where flock exists),
// taken again if the file was replaced meanwhile, so that every process
// that opens the same file, including containers that bind-mount it, locks
// the same lock. While another process holds it, UpdateContext waits,
// logs a warning naming the path, the operation (LoadOptions.Operation)
// and, on Linux, the holder's process ID after a few seconds and then every
// minute, and gives up with ctx's error when ctx is done.
func UpdateContext(ctx context.Context, path string, fn func(*File) error, opts ...LoadOptions) error {
	var o LoadOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	o.ReadOnly = false
	if o.Operation == "" {
		o.Operation = "update"
	}
	log := loggerOf(o.Logger)
	target, err := resolveTarget(path)
	if err != nil {
		return fmt.Errorf("writing acme.json %s: %w", path, err)
	}
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
	lk, err := lockTarget(ctx, target, path, log, o.Operation)
	if err != nil {
		return fmt.Errorf("locking acme.json %s: %w", path, err)
	}
	written := false
	defer func() { lk.release(target, written) }()
	cur, err := readAllBounded(lk.fh, lk.fi.Size())
	if err != nil {
		return fmt.Errorf("reading acme.json %s: %w", path, err)
	}
	f, info, decoded, err := decodeLoaded(target, path, lk.fi, cur, o)
	if err != nil {
		return err
	}
	if pre != nil && lk.created {
		f = pre // fn already ran on the (still) missing file
	} else if err := fn(&f); err != nil {
		return fmt.Errorf("updating acme.json %s: %w", path, err)
	}
	if lk.created && len(f) == 0 {
		return nil
	}
	data, err := f.Marshal()
	if err != nil {
		return fmt.Errorf("encoding acme.json %s: %w", path, err)
	}
	if !lk.created && info.Recovered == "" && bytes.Equal(data, decoded) {
		return nil
	}
	if err := writeFile(target, data, lk.fi, log); err != nil {
		return fmt.Errorf("writing acme.json %s: %w", path, err)
	}
	written = true
	return nil
}

// tempPrefix is the name prefix of Save's temporary files for target.
func tempPrefix(target string) string {
	return "." + filepath.Base(target) + ".tmp-"
}

// renameFile is os.Rename, replaceable by tests.
var renameFile = os.Rename

// fault, when a test sets it, is called at each step of a write; a non-nil
// error is taken as that step's error. For the steps that write data, n
// bytes are written before the error (a short write, as a full disk gives).
var fault func(step string) (n int, err error)

// faultAt returns the injected error of step, if any.
func faultAt(step string) (int, error) {
	if fault == nil {
		return 0, nil
	}
	return fault(step)
}

// writeFile atomically replaces target with data. The caller holds the
// lock; cur describes the file as locked (its owner and group are kept).
func writeFile(target string, data []byte, cur fs.FileInfo, log *slog.Logger) error {
	dir := filepath.Dir(target)
	prefix := tempPrefix(target)
	removeStaleTemps(dir, prefix)
	if _, err := faultAt("create_temp"); err != nil {
		return err
	}
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
	if err := writeData(tmp, data, "write_temp"); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	keepOwner(tmp, cur, log, target)
	if _, err := faultAt("sync_temp"); err != nil {
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
		return writeInPlace(target, tmpName, data, log)
	}
	committed = true
	if err := syncDir(dir); err != nil {
		return err
	}
	removeInPlaceCopy(target, log)
	return nil
}

// writeData writes data at the start of fh, through the fault hook of step.
func writeData(fh *os.File, data []byte, step string) error {
	return writeDataAt(fh, data, 0, step)
}

// writeDataAt writes data at offset off of fh, through the fault hook of
// step: an injected error comes after a short write of the bytes the hook
// asks for.
func writeDataAt(fh *os.File, data []byte, off int64, step string) error {
	n, err := faultAt(step)
	if err != nil {
		if n > 0 {
			_, _ = fh.WriteAt(data[:min(n, len(data))], off)
		}
		return err
	}
	_, err = fh.WriteAt(data, off)
	return err
}

// writeInPlace rewrites target with data when rename cannot replace it.
// tmpName is a complete, fsynced temporary file holding data. It becomes
// the in-place copy before target is touched, so that at every moment
// either target or the copy parses; see [SaveContext].
func writeInPlace(target, tmpName string, data []byte, log *slog.Logger) error {
	dir := filepath.Dir(target)
	copyPath := target + InPlaceCopySuffix
	if _, err := faultAt("rename_copy"); err != nil {
		return err
	}
	if err := os.Rename(tmpName, copyPath); err != nil {
		return fmt.Errorf("keeping a copy before rewriting in place: %w", err)
	}
	untouched := func(err error) error {
		// This write did not touch target: the copy is not needed, unless
		// an earlier rewrite was interrupted and target is still torn.
		if !markedMidRewrite(target) {
			_ = os.Remove(copyPath)
		}
		return err
	}
	if _, err := faultAt("sync_dir"); err != nil {
		return untouched(err)
	}
	if err := syncDir(dir); err != nil {
		return untouched(err)
	}
	if _, err := faultAt("open"); err != nil {
		return untouched(err)
	}
	fh, _, err := openRegular(target, os.O_WRONLY, 0)
	if err != nil {
		return untouched(err)
	}
	if _, err := faultAt("reserve"); err != nil {
		fh.Close()
		return untouched(fmt.Errorf("reserving space to rewrite in place (file left unchanged): %w", err))
	}
	if err := reserveSpace(fh, int64(len(data))); err != nil {
		fh.Close()
		return untouched(fmt.Errorf("reserving space to rewrite in place (file left unchanged): %w", err))
	}
	// From here on target may be torn: the copy stays until it is whole.
	// The first byte is first made invalid (and that made durable), then the
	// rest is written, the length set and synced, and the first byte written
	// last: at no moment does the file hold a mix of old and new content
	// that parses.
	touched := func(err error) error {
		return fmt.Errorf("rewriting in place (the new content is kept in %s and read from there until the file is repaired): %w", copyPath, err)
	}
	steps := []struct {
		name   string
		writes bool // the fault hook is applied by writeDataAt
		do     func() error
	}{
		{"mark", true, func() error { return writeDataAt(fh, []byte{0}, 0, "mark") }},
		{"sync_mark", false, fh.Sync},
		{"write_in_place", true, func() error { return writeDataAt(fh, data[1:], 1, "write_in_place") }},
		{"truncate", false, func() error { return fh.Truncate(int64(len(data))) }},
		{"chmod", false, func() error { return fh.Chmod(0o600) }},
		{"sync_file", false, fh.Sync},
		{"unmark", true, func() error { return writeDataAt(fh, data[:1], 0, "unmark") }},
		{"sync_unmark", false, fh.Sync},
	}
	for _, st := range steps {
		if !st.writes {
			if _, err := faultAt(st.name); err != nil {
				fh.Close()
				return touched(err)
			}
		}
		if err := st.do(); err != nil {
			fh.Close()
			return touched(err)
		}
	}
	if err := fh.Close(); err != nil {
		return touched(err)
	}
	if _, err := faultAt("remove_copy"); err != nil {
		return nil // the copy equals the file: harmless
	}
	removeInPlaceCopy(target, log)
	return nil
}

// markedMidRewrite reports whether target starts with the NUL byte an
// in-place rewrite puts first while it writes: the rewrite was interrupted
// and the file is torn.
func markedMidRewrite(target string) bool {
	fh, err := os.OpenFile(target, os.O_RDONLY|openNonblock, 0)
	if err != nil {
		return false
	}
	defer fh.Close()
	var b [1]byte
	n, _ := fh.ReadAt(b[:], 0)
	return n == 1 && b[0] == 0
}

// removeInPlaceCopy deletes the copy an in-place rewrite keeps, once target
// holds a complete file. Only a regular file is removed.
func removeInPlaceCopy(target string, log *slog.Logger) {
	copyPath := target + InPlaceCopySuffix
	fi, err := os.Lstat(copyPath)
	if err != nil || !fi.Mode().IsRegular() {
		return
	}
	if err := os.Remove(copyPath); err != nil {
		log.Warn("removing the in-place copy of acme.json", slog.String("path", copyPath), slog.String("error", err.Error()))
		return
	}
	_ = syncDir(filepath.Dir(target))
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
