// Package acmejson reads and writes Traefik's acme.json file, byte-compatible
// with what Traefik v2 and v3 write.
//
// The model ([File], [Resolver], [Account], [Registration], [Certificate],
// [Domain]) carries explicit JSON tags that reproduce Traefik's mixed key
// casing ("Account", "Certificates", "Store" next to "domain", "certificate",
// "key"). Saving an unmodified, Traefik-written file reproduces its bytes
// exactly: two-space indentation, resolvers in sorted order, no trailing
// newline. Reading is case-insensitive on keys, as in Traefik.
//
// [Load] accepts the v2/v3 layout (an object keyed by resolver name), a
// missing or empty file, and the Traefik v1 layout (a single object), which
// it converts and backs up as "<file>.v1.bak". It never refuses a
// group- or world-readable file; it warns once and can tighten it to 0600.
//
// [Save] and [Update] write the whole file atomically (temporary file in the
// same directory, fsync, rename, fsync of the directory) with mode 0600 and
// the file's owner and group, under an advisory lock (flock) on the file
// itself, so that several processes sharing one acme.json — containers
// bind-mounting it included — never lose each other's updates. Use
// [Update] (lock, load fresh, modify, save) whenever other processes may
// write the same file. A file that cannot be replaced by rename (a single
// bind-mounted file) is rewritten in place behind an intact copy,
// "<file>.new", that [Load] reads when the file is torn.
//
// Only regular files of at most [MaxFileSize] bytes are read; named pipes,
// devices and sockets are refused without blocking. Nothing is changed
// (mode, lock files) on a file whose content is not an acme.json.
//
// The package uses the standard library only.
package acmejson
