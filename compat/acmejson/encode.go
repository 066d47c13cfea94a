package acmejson

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
)

// Marshal encodes f exactly as Traefik does (json.MarshalIndent with a
// two-space indent, resolvers in sorted order, no trailing newline). The
// output is byte-for-byte what encoding/json.MarshalIndent(f, "", "  ")
// produces, except that a nil or empty File is written as {} (what Traefik
// writes for a store without resolvers).
//
// The bulky parts (certificates and keys) are encoded directly rather than
// through reflection and re-indentation, which makes Marshal several times
// faster than json.MarshalIndent on large files. It fails, writing nothing,
// when a Registration body is not valid JSON.
func (f File) Marshal() ([]byte, error) {
	if len(f) == 0 {
		return []byte("{}"), nil
	}
	e := &encoder{}
	e.buf = make([]byte, 0, f.sizeHint())
	e.buf = append(e.buf, "{\n"...)
	for i, name := range f.ResolverNames() {
		if i > 0 {
			e.buf = append(e.buf, ",\n"...)
		}
		e.indent(1)
		e.str(name)
		e.buf = append(e.buf, ": "...)
		if err := e.resolver(f[name], 1); err != nil {
			return nil, fmt.Errorf("encoding resolver %q: %w", name, err)
		}
	}
	e.buf = append(e.buf, "\n}"...)
	return e.buf, nil
}

// sizeHint estimates the encoded size of f, to allocate once.
func (f File) sizeHint() int {
	n := 64
	for name, r := range f {
		n += len(name) + 64
		if r == nil {
			continue
		}
		n += 256
		if a := r.Account; a != nil {
			n += 512 + len(a.Email) + len(a.KeyType) + base64.StdEncoding.EncodedLen(len(a.PrivateKey))
			if a.Registration != nil {
				n += 2*len(a.Registration.Body) + len(a.Registration.URI)
			}
		}
		for _, c := range r.Certificates {
			if c == nil {
				n += 16
				continue
			}
			n += 256 + base64.StdEncoding.EncodedLen(len(c.Certificate)) +
				base64.StdEncoding.EncodedLen(len(c.Key)) + len(c.Domain.Main) + len(c.Store)
			for _, s := range c.Domain.SANs {
				n += len(s) + 32
			}
		}
	}
	return n
}

type encoder struct {
	buf []byte
}

const indentUnit = "  "

func (e *encoder) indent(depth int) {
	for range depth {
		e.buf = append(e.buf, indentUnit...)
	}
}

// str appends s as encoding/json encodes a string (with HTML escaping).
func (e *encoder) str(s string) {
	if isPlainJSONString(s) {
		e.buf = append(e.buf, '"')
		e.buf = append(e.buf, s...)
		e.buf = append(e.buf, '"')
		return
	}
	b, _ := json.Marshal(s) // cannot fail for a string
	e.buf = append(e.buf, b...)
}

// isPlainJSONString reports whether s needs no escaping at all.
func isPlainJSONString(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

func (e *encoder) bytes(b []byte) {
	e.buf = append(e.buf, '"')
	e.buf = base64.StdEncoding.AppendEncode(e.buf, b)
	e.buf = append(e.buf, '"')
}

func (e *encoder) resolver(r *Resolver, depth int) error {
	if r == nil {
		e.buf = append(e.buf, "null"...)
		return nil
	}
	e.buf = append(e.buf, "{\n"...)
	e.indent(depth + 1)
	e.buf = append(e.buf, `"Account": `...)
	if r.Account == nil {
		e.buf = append(e.buf, "null"...)
	} else {
		// The account is small; let encoding/json handle it (and the raw
		// registration body, which it validates, compacts and re-indents).
		b, err := json.MarshalIndent(r.Account, strings.Repeat(indentUnit, depth+1), indentUnit)
		if err != nil {
			return fmt.Errorf("encoding account: %w", err)
		}
		e.buf = append(e.buf, b...)
	}
	e.buf = append(e.buf, ",\n"...)
	e.indent(depth + 1)
	e.buf = append(e.buf, `"Certificates": `...)
	switch {
	case r.Certificates == nil:
		e.buf = append(e.buf, "null"...)
	case len(r.Certificates) == 0:
		e.buf = append(e.buf, "[]"...)
	default:
		e.buf = append(e.buf, "[\n"...)
		for i, c := range r.Certificates {
			if i > 0 {
				e.buf = append(e.buf, ",\n"...)
			}
			e.indent(depth + 2)
			e.certificate(c, depth+2)
		}
		e.buf = append(e.buf, '\n')
		e.indent(depth + 1)
		e.buf = append(e.buf, ']')
	}
	e.buf = append(e.buf, '\n')
	e.indent(depth)
	e.buf = append(e.buf, '}')
	return nil
}

func (e *encoder) certificate(c *Certificate, depth int) {
	if c == nil {
		e.buf = append(e.buf, "null"...)
		return
	}
	e.buf = append(e.buf, "{\n"...)
	e.indent(depth + 1)
	e.buf = append(e.buf, `"domain": `...)
	e.domain(&c.Domain, depth+1)
	if len(c.Certificate) > 0 {
		e.buf = append(e.buf, ",\n"...)
		e.indent(depth + 1)
		e.buf = append(e.buf, `"certificate": `...)
		e.bytes(c.Certificate)
	}
	if len(c.Key) > 0 {
		e.buf = append(e.buf, ",\n"...)
		e.indent(depth + 1)
		e.buf = append(e.buf, `"key": `...)
		e.bytes(c.Key)
	}
	e.buf = append(e.buf, ",\n"...)
	e.indent(depth + 1)
	e.buf = append(e.buf, `"Store": `...)
	e.str(c.Store)
	e.buf = append(e.buf, '\n')
	e.indent(depth)
	e.buf = append(e.buf, '}')
}

func (e *encoder) domain(d *Domain, depth int) {
	if d.Main == "" && len(d.SANs) == 0 {
		e.buf = append(e.buf, "{}"...)
		return
	}
	e.buf = append(e.buf, "{\n"...)
	if d.Main != "" {
		e.indent(depth + 1)
		e.buf = append(e.buf, `"main": `...)
		e.str(d.Main)
	}
	if len(d.SANs) > 0 {
		if d.Main != "" {
			e.buf = append(e.buf, ",\n"...)
		}
		e.indent(depth + 1)
		e.buf = append(e.buf, `"sans": [`...)
		e.buf = append(e.buf, '\n')
		for i, s := range d.SANs {
			if i > 0 {
				e.buf = append(e.buf, ",\n"...)
			}
			e.indent(depth + 2)
			e.str(s)
		}
		e.buf = append(e.buf, '\n')
		e.indent(depth + 1)
		e.buf = append(e.buf, ']')
	}
	e.buf = append(e.buf, '\n')
	e.indent(depth)
	e.buf = append(e.buf, '}')
}
