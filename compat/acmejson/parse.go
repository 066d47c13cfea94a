package acmejson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Format is the layout an acme.json file was read in.
type Format int

const (
	// FormatEmpty is a missing file, an empty file, or a file holding only
	// white space or JSON null.
	FormatEmpty Format = iota
	// FormatV2 is the Traefik v2/v3 layout: an object keyed by resolver name.
	FormatV2
	// FormatV1 is the Traefik v1.6/v1.7 layout: a single object with
	// top-level Account, Certificates and HTTPChallenges.
	FormatV1
)

// String returns "empty", "v2" or "v1".
func (f Format) String() string {
	switch f {
	case FormatEmpty:
		return "empty"
	case FormatV2:
		return "v2"
	case FormatV1:
		return "v1"
	default:
		return fmt.Sprintf("Format(%d)", int(f))
	}
}

// DefaultV1Resolver is the resolver name a v1 file is converted to when the
// caller names none; it is the name traefik-migration-tool's documentation
// uses.
const DefaultV1Resolver = "default"

// Parse decodes the content of an acme.json file. Empty input (or only white
// space, or null) gives an empty File. A Traefik v1 file is detected and
// converted: its account and certificates are placed under the resolver
// v1Resolver (default [DefaultV1Resolver]), Let's Encrypt ACMEv1 URLs in the
// registration URI are rewritten to ACMEv2 ("acme-v01" → "acme-v02",
// "/acme/reg/" → "/acme/acct/"), entries get Store "default", and the
// challenge maps are dropped.
//
// Keys are matched case-insensitively, as Traefik does. Errors for malformed
// JSON carry the byte offset. The returned File is never nil when err is nil.
func Parse(data []byte, v1Resolver string) (File, Format, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return File{}, FormatEmpty, nil
	}
	f, errV2 := decodeFile(data)
	if errV2 == nil && !hasV1Keys(f) {
		if f == nil {
			f = File{}
		}
		return f, FormatV2, nil
	}
	// Either the v2 decoding failed, or the top-level keys look like v1:
	// look at the raw top-level object to decide.
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		if errV2 != nil {
			return nil, FormatEmpty, describeJSONError(errV2)
		}
		return nil, FormatEmpty, describeJSONError(err)
	}
	if isV1(top) {
		f, err := convertV1(data, top, v1Resolver)
		if err != nil {
			return nil, FormatV1, err
		}
		return f, FormatV1, nil
	}
	if errV2 != nil {
		return nil, FormatEmpty, describeJSONError(errV2)
	}
	return f, FormatV2, nil
}

// describeJSONError adds the byte offset to JSON decoding errors.
func describeJSONError(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("decoding JSON: invalid syntax at byte offset %d: %w", se.Offset, err)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("decoding JSON: unexpected %s at byte offset %d: %w", te.Value, te.Offset, err)
	}
	return fmt.Errorf("decoding JSON: %w", err)
}

// v1TopKeys are the top-level keys of a v1 file (matched case-insensitively).
var v1TopKeys = []string{"Account", "Certificates", "HTTPChallenges", "TLSChallenges"}

func hasV1Keys(f File) bool {
	for name := range f {
		if isV1KeyName(name) {
			return true
		}
	}
	return false
}

// isV1KeyName reports whether name is one of the top-level keys of a v1
// file.
func isV1KeyName(name string) bool {
	for _, k := range v1TopKeys {
		if strings.EqualFold(name, k) {
			return true
		}
	}
	return false
}

// isV1 decides whether a top-level object is a v1 file, by the shape of its
// values rather than by its key names: a v1 file has an "Account" that is an
// account object (with Email, PrivateKey, Registration or the pre-1.6
// DomainsCertificate) or a "Certificates" array.
//
// Key names alone do not decide: Traefik v2/v3 given a v1 file decodes it as
// a map of resolvers, so it takes "Account", "Certificates",
// "HTTPChallenges" and "TLSChallenges" for resolver names, and writes them
// back as resolver objects ({"Account": null, "Certificates": null}) next
// to its real resolvers. Such a file is a v2 file; see [File.LeftoverV1Keys].
func isV1(top map[string]json.RawMessage) bool {
	for k, v := range top {
		v = bytes.TrimSpace(v)
		switch {
		case strings.EqualFold(k, "Certificates"):
			if len(v) > 0 && v[0] == '[' {
				return true
			}
		case strings.EqualFold(k, "Account"):
			var fields map[string]json.RawMessage
			if json.Unmarshal(v, &fields) != nil {
				continue
			}
			for fk := range fields {
				for _, want := range []string{"Email", "PrivateKey", "Registration", "DomainsCertificate"} {
					if strings.EqualFold(fk, want) {
						return true
					}
				}
			}
		}
	}
	return false
}

// LeftoverV1Keys returns the resolvers of f named like the top-level keys of
// a Traefik v1 file ("Account", "Certificates", "HTTPChallenges",
// "TLSChallenges", in any case), sorted. Traefik v2/v3 given a v1 file
// takes those keys for resolver names and writes them back as (empty)
// resolvers; no configured resolver is likely to use them, and the v1
// file's account and certificates were lost in the process. They are
// loaded like any other resolver; inspect reports them.
func (f File) LeftoverV1Keys() []string {
	var out []string
	for _, name := range f.ResolverNames() {
		if isV1KeyName(name) {
			out = append(out, name)
		}
	}
	return out
}

// v1File is the part of a Traefik v1.6/v1.7 StoredData that survives
// conversion.
type v1File struct {
	Account      *Account       `json:"Account"`
	Certificates []*Certificate `json:"Certificates"`
}

func convertV1(data []byte, top map[string]json.RawMessage, resolver string) (File, error) {
	if resolver == "" {
		resolver = DefaultV1Resolver
	}
	for k, v := range top {
		if !strings.EqualFold(k, "Account") {
			continue
		}
		var fields map[string]json.RawMessage
		if json.Unmarshal(v, &fields) == nil {
			for fk := range fields {
				if strings.EqualFold(fk, "DomainsCertificate") {
					return nil, errors.New("converting traefik v1 file: the pre-1.6 layout (Account.DomainsCertificate) is not supported; let traefik 1.7 convert it first")
				}
			}
		}
	}
	var v1 v1File
	if err := json.Unmarshal(data, &v1); err != nil {
		return nil, fmt.Errorf("converting traefik v1 file: %w", describeJSONError(err))
	}
	if v1.Account != nil && v1.Account.Registration != nil {
		v1.Account.Registration.URI = UpgradeACMEv1URL(v1.Account.Registration.URI)
	}
	for _, c := range v1.Certificates {
		if c != nil && c.Store == "" {
			c.Store = DefaultStore
		}
	}
	return File{resolver: &Resolver{Account: v1.Account, Certificates: v1.Certificates}}, nil
}

// UpgradeACMEv1URL rewrites a Let's Encrypt ACMEv1 URL to its ACMEv2
// equivalent: host acme-v01.api.letsencrypt.org becomes
// acme-v02.api.letsencrypt.org, acme-staging.api.letsencrypt.org becomes
// acme-staging-v02.api.letsencrypt.org, and the v1 account path /acme/reg/<id>
// becomes /acme/acct/<id> (Let's Encrypt kept account IDs across versions).
// Other URLs are returned unchanged.
func UpgradeACMEv1URL(u string) string {
	parsed, err := url.Parse(u)
	if err != nil {
		return u
	}
	switch strings.ToLower(parsed.Host) {
	case "acme-v01.api.letsencrypt.org":
		parsed.Host = "acme-v02.api.letsencrypt.org"
	case "acme-staging.api.letsencrypt.org":
		parsed.Host = "acme-staging-v02.api.letsencrypt.org"
	default:
		return u
	}
	if rest, ok := strings.CutPrefix(parsed.Path, "/acme/reg/"); ok {
		parsed.Path = "/acme/acct/" + rest
	}
	return parsed.String()
}
