package acmejson

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"unicode/utf8"
)

// decodeFile decodes a v2 acme.json document into a File. It gives exactly
// the result of json.Unmarshal(data, &f): a fast path handles the shapes
// Traefik writes, and anything else goes to encoding/json.
func decodeFile(data []byte) (File, error) {
	if f, ok := fastDecode(data); ok {
		return f, nil
	}
	var f File
	err := json.Unmarshal(data, &f)
	return f, err
}

// fastDecode decodes data without reflection or encoding/json's per-byte
// state machine, which dominates the cost of reading large files. It
// accepts only what it can decode exactly as encoding/json would: strings
// without escapes or control characters (and valid UTF-8), ASCII object
// keys, no duplicate fields, the expected JSON type for every known field,
// and syntactically valid JSON for every skipped or raw value. On anything
// else it returns ok=false, and the caller uses encoding/json, which then
// also produces the proper error for invalid input.
func fastDecode(data []byte) (f File, ok bool) {
	s := &scanner{d: data}
	s.ws()
	if s.peek() != '{' {
		return nil, false
	}
	f = File{}
	ok = s.object(func(key []byte) bool {
		name := string(key)
		if _, dup := f[name]; dup {
			return false
		}
		r, ok := s.resolver()
		f[name] = r
		return ok
	}, false)
	if !ok {
		return nil, false
	}
	s.ws()
	if s.i != len(s.d) {
		return nil, false
	}
	return f, true
}

// maxSkipDepth bounds the nesting of skipped values; deeper input goes to
// encoding/json (which has its own limit).
const maxSkipDepth = 512

type scanner struct {
	d []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.d) {
		switch s.d[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) peek() byte {
	if s.i < len(s.d) {
		return s.d[s.i]
	}
	return 0
}

func (s *scanner) literal(lit string) bool {
	if bytes.HasPrefix(s.d[s.i:], []byte(lit)) {
		s.i += len(lit)
		return true
	}
	return false
}

// null consumes a null literal if one is next.
func (s *scanner) null() bool {
	return s.peek() == 'n' && s.literal("null")
}

// plainString reads a string that needs no unescaping and returns its
// content as a sub-slice of the input. asciiOnly also rejects non-ASCII
// bytes (for keys, whose case-insensitive matching encoding/json does with
// Unicode rules).
func (s *scanner) plainString(asciiOnly bool) ([]byte, bool) {
	if s.peek() != '"' {
		return nil, false
	}
	start := s.i + 1
	end := bytes.IndexByte(s.d[start:], '"')
	if end < 0 {
		return nil, false
	}
	seg := s.d[start : start+end]
	ascii := true
	for _, c := range seg {
		if c < 0x20 || c == '\\' {
			return nil, false
		}
		if c >= 0x80 {
			ascii = false
		}
	}
	if !ascii && (asciiOnly || !utf8.Valid(seg)) {
		return nil, false
	}
	s.i = start + end + 1
	return seg, true
}

// object reads an object, calling field with each key after the colon (and
// white space) has been consumed; field must consume the value. Keys must be
// ASCII when asciiKeys is set.
func (s *scanner) object(field func(key []byte) bool, asciiKeys bool) bool {
	if s.peek() != '{' {
		return false
	}
	s.i++
	s.ws()
	if s.peek() == '}' {
		s.i++
		return true
	}
	for {
		s.ws()
		key, ok := s.plainString(asciiKeys)
		if !ok {
			return false
		}
		s.ws()
		if s.peek() != ':' {
			return false
		}
		s.i++
		s.ws()
		if !field(key) {
			return false
		}
		s.ws()
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

// fields reads an object into struct fields: names lists the field names
// (matched case-insensitively), set decodes the value of field n. Duplicate
// fields are refused (encoding/json merges them). Unknown keys are skipped.
func (s *scanner) fields(names []string, set func(n int) bool) bool {
	var seen uint32
	return s.object(func(key []byte) bool {
		for n, name := range names {
			if asciiEqualFold(key, name) {
				if seen&(1<<n) != 0 {
					return false
				}
				seen |= 1 << n
				return set(n)
			}
		}
		return s.skip(0)
	}, true)
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// str decodes a string field; null leaves it unchanged, as encoding/json does.
func (s *scanner) str(dst *string) bool {
	if s.null() {
		return true
	}
	seg, ok := s.plainString(false)
	if ok {
		*dst = string(seg)
	}
	return ok
}

// bytesField decodes a base64 []byte field; null sets it to nil.
func (s *scanner) bytesField(dst *[]byte) bool {
	if s.null() {
		*dst = nil
		return true
	}
	seg, ok := s.plainString(true)
	if !ok {
		return false
	}
	b := make([]byte, base64.StdEncoding.DecodedLen(len(seg)))
	n, err := base64.StdEncoding.Decode(b, seg)
	if err != nil {
		return false
	}
	*dst = b[:n]
	return true
}

var (
	resolverFields     = []string{"Account", "Certificates"}
	accountFields      = []string{"Email", "Registration", "PrivateKey", "KeyType"}
	registrationFields = []string{"body", "uri"}
	certificateFields  = []string{"domain", "certificate", "key", "Store"}
	domainFields       = []string{"main", "sans"}
)

func (s *scanner) resolver() (*Resolver, bool) {
	if s.null() {
		return nil, true
	}
	r := &Resolver{}
	ok := s.fields(resolverFields, func(n int) bool {
		if n == 0 {
			var ok bool
			r.Account, ok = s.account()
			return ok
		}
		return s.certificates(&r.Certificates)
	})
	return r, ok
}

func (s *scanner) account() (*Account, bool) {
	if s.null() {
		return nil, true
	}
	a := &Account{}
	ok := s.fields(accountFields, func(n int) bool {
		switch n {
		case 0:
			return s.str(&a.Email)
		case 1:
			if s.null() {
				a.Registration = nil
				return true
			}
			a.Registration = &Registration{}
			return s.registration(a.Registration)
		case 2:
			return s.bytesField(&a.PrivateKey)
		default:
			return s.str(&a.KeyType)
		}
	})
	return a, ok
}

func (s *scanner) registration(r *Registration) bool {
	return s.fields(registrationFields, func(n int) bool {
		if n == 1 {
			return s.str(&r.URI)
		}
		start := s.i
		if !s.skip(0) {
			return false
		}
		r.Body = append(json.RawMessage(nil), s.d[start:s.i]...)
		return true
	})
}

func (s *scanner) certificates(dst *[]*Certificate) bool {
	if s.null() {
		*dst = nil
		return true
	}
	if s.peek() != '[' {
		return false
	}
	s.i++
	s.ws()
	certs := []*Certificate{}
	if s.peek() == ']' {
		s.i++
		*dst = certs
		return true
	}
	for {
		s.ws()
		if s.null() {
			certs = append(certs, nil)
		} else {
			c := &Certificate{}
			if !s.certificate(c) {
				return false
			}
			certs = append(certs, c)
		}
		s.ws()
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			*dst = certs
			return true
		default:
			return false
		}
	}
}

func (s *scanner) certificate(c *Certificate) bool {
	return s.fields(certificateFields, func(n int) bool {
		switch n {
		case 0:
			if s.null() {
				return true
			}
			return s.domain(&c.Domain)
		case 1:
			return s.bytesField(&c.Certificate)
		case 2:
			return s.bytesField(&c.Key)
		default:
			return s.str(&c.Store)
		}
	})
}

func (s *scanner) domain(d *Domain) bool {
	return s.fields(domainFields, func(n int) bool {
		if n == 0 {
			return s.str(&d.Main)
		}
		if s.null() {
			d.SANs = nil
			return true
		}
		if s.peek() != '[' {
			return false
		}
		s.i++
		s.ws()
		sans := []string{}
		if s.peek() == ']' {
			s.i++
			d.SANs = sans
			return true
		}
		for {
			s.ws()
			var v string
			if !s.str(&v) {
				return false
			}
			sans = append(sans, v)
			s.ws()
			switch s.peek() {
			case ',':
				s.i++
			case ']':
				s.i++
				d.SANs = sans
				return true
			default:
				return false
			}
		}
	})
}

// skip consumes one JSON value of any type, validating it as encoding/json's
// scanner does.
func (s *scanner) skip(depth int) bool {
	if depth > maxSkipDepth {
		return false
	}
	switch c := s.peek(); {
	case c == '{':
		s.i++
		s.ws()
		if s.peek() == '}' {
			s.i++
			return true
		}
		for {
			s.ws()
			if !s.skipString() {
				return false
			}
			s.ws()
			if s.peek() != ':' {
				return false
			}
			s.i++
			s.ws()
			if !s.skip(depth + 1) {
				return false
			}
			s.ws()
			switch s.peek() {
			case ',':
				s.i++
			case '}':
				s.i++
				return true
			default:
				return false
			}
		}
	case c == '[':
		s.i++
		s.ws()
		if s.peek() == ']' {
			s.i++
			return true
		}
		for {
			s.ws()
			if !s.skip(depth + 1) {
				return false
			}
			s.ws()
			switch s.peek() {
			case ',':
				s.i++
			case ']':
				s.i++
				return true
			default:
				return false
			}
		}
	case c == '"':
		return s.skipString()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || ('0' <= c && c <= '9'):
		return s.skipNumber()
	default:
		return false
	}
}

// skipString consumes a string with any valid escapes. Like encoding/json's
// scanner it accepts any byte >= 0x20 besides '"' and '\\'.
func (s *scanner) skipString() bool {
	if s.peek() != '"' {
		return false
	}
	s.i++
	for s.i < len(s.d) {
		c := s.d[s.i]
		switch {
		case c == '"':
			s.i++
			return true
		case c < 0x20:
			return false
		case c == '\\':
			s.i++
			if s.i >= len(s.d) {
				return false
			}
			switch s.d[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				if s.i+5 > len(s.d) {
					return false
				}
				for _, h := range s.d[s.i+1 : s.i+5] {
					if !isHex(h) {
						return false
					}
				}
				s.i += 5
			default:
				return false
			}
		default:
			s.i++
		}
	}
	return false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// skipNumber consumes a number with the JSON grammar:
// -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
func (s *scanner) skipNumber() bool {
	digits := func() int {
		n := 0
		for s.i < len(s.d) && '0' <= s.d[s.i] && s.d[s.i] <= '9' {
			s.i++
			n++
		}
		return n
	}
	if s.peek() == '-' {
		s.i++
	}
	switch c := s.peek(); {
	case c == '0':
		s.i++
	case '1' <= c && c <= '9':
		digits()
	default:
		return false
	}
	if s.peek() == '.' {
		s.i++
		if digits() == 0 {
			return false
		}
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.i++
		if c := s.peek(); c == '+' || c == '-' {
			s.i++
		}
		if digits() == 0 {
			return false
		}
	}
	return true
}
