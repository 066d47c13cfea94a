package migrate

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/ac075510/caddy-traefik-acme/compat/acmejson"
)

// MergeAccount says what Merge did with the account.
type MergeAccount int

const (
	// MergeAccountNone: there was no account to write and the file had none.
	MergeAccountNone MergeAccount = iota
	// MergeAccountUnchanged: the file already held the same account.
	MergeAccountUnchanged
	// MergeAccountWritten: the account replaced the file's (or was added).
	MergeAccountWritten
	// MergeAccountKept: there was no account to write; the file's was kept.
	MergeAccountKept
)

// MergeResult says what Merge did to the resolver's entry. Certificates
// are named by their normalized names joined with commas.
type MergeResult struct {
	Written, Updated, Unchanged []string
	// KeptNewer are the entries of the file kept because they expire later.
	KeptNewer []string
	// OtherResolver are the certificates left to another resolver of the
	// file: "names (held by resolver X of the file)".
	OtherResolver []string
	// KeptEntries counts the resolver's entries that res does not hold.
	KeptEntries int
	Account     MergeAccount
	// Changed reports whether anything was written into f.
	Changed bool
}

// Merge writes the exported resolver res into resolver name of f: the
// account unless it is the same (or there is none to write), and each
// certificate in place of the entry with the same set of names, unless that
// entry expires later; a certificate the resolver already holds, for any
// names, is left as it is. A certificate none of whose names the resolver
// holds but another resolver of f does is left to that resolver. Other
// resolvers are never changed.
func Merge(f acmejson.File, name string, res *acmejson.Resolver) MergeResult {
	var out MergeResult
	entry := f[name]
	if entry == nil {
		entry = &acmejson.Resolver{}
	}

	// Which resolver of the file holds each name.
	holders := map[string][]string{}
	for _, other := range f.ResolverNames() {
		if other == name || f[other] == nil {
			continue
		}
		for _, c := range f[other].Certificates {
			for _, n := range acmejson.NormalizeNames(c.Names()) {
				if !slices.Contains(holders[n], other) {
					holders[n] = append(holders[n], other)
				}
			}
		}
	}

	touched := map[int]bool{}
	for _, c := range res.Certificates {
		names := acmejson.NormalizeNames(c.Names())
		label := strings.Join(names, ",")
		if i := slices.IndexFunc(entry.Certificates, func(old *acmejson.Certificate) bool {
			return old != nil && bytes.Equal(old.Certificate, c.Certificate) && bytes.Equal(old.Key, c.Key)
		}); i >= 0 {
			// The file already holds this very certificate, perhaps for more
			// names (Caddy stores a certificate per name, and may have
			// renewed some of its names separately).
			touched[i] = true
			out.Unchanged = append(out.Unchanged, label)
			continue
		}
		idx := findSameNames(entry, names)
		if idx < 0 {
			ours := slices.ContainsFunc(names, func(n string) bool { return entry.Find(n) >= 0 })
			var others []string
			for _, n := range names {
				for _, h := range holders[n] {
					if !slices.Contains(others, h) {
						others = append(others, h)
					}
				}
			}
			if !ours && len(others) > 0 {
				out.OtherResolver = append(out.OtherResolver, fmt.Sprintf("%s (held by resolver %s of the file)", label, strings.Join(others, ", ")))
				continue
			}
			entry.Certificates = append(entry.Certificates, c)
			touched[len(entry.Certificates)-1] = true
			out.Written = append(out.Written, label)
			continue
		}
		touched[idx] = true
		old := entry.Certificates[idx]
		if oldP, err := old.Parse(); err == nil {
			if newP, err := c.Parse(); err == nil && oldP.Leaf.NotAfter.After(newP.Leaf.NotAfter) {
				out.KeptNewer = append(out.KeptNewer, label)
				continue
			}
		}
		if old.Store != "" {
			c.Store = old.Store
		}
		entry.Certificates[idx] = c
		out.Updated = append(out.Updated, label)
	}
	out.KeptEntries = len(entry.Certificates) - len(touched)

	switch {
	case res.Account != nil && SameAccount(entry.Account, res.Account):
		out.Account = MergeAccountUnchanged
	case res.Account != nil:
		if entry.Account != nil && res.Account.KeyType == "" {
			res.Account.KeyType = entry.Account.KeyType
		}
		entry.Account = res.Account
		out.Account = MergeAccountWritten
	case entry.Account != nil:
		out.Account = MergeAccountKept
	default:
		out.Account = MergeAccountNone
	}

	out.Changed = out.Account == MergeAccountWritten || len(out.Written) > 0 || len(out.Updated) > 0
	if out.Changed && f[name] == nil {
		if entry.Certificates == nil {
			entry.Certificates = []*acmejson.Certificate{}
		}
		f[name] = entry
	}
	return out
}

// SameAccount reports whether a and b are the same Traefik account: same
// registration URI, key and email. Two nil accounts are the same.
func SameAccount(a, b *acmejson.Account) bool {
	if a == nil || b == nil || a.Registration == nil || b.Registration == nil {
		return a == b
	}
	return a.Registration.URI == b.Registration.URI && bytes.Equal(a.PrivateKey, b.PrivateKey) && a.Email == b.Email
}

// findSameNames returns the index of the entry of r whose requested names
// (normalized) are the set names, or -1.
func findSameNames(r *acmejson.Resolver, names []string) int {
	want := slices.Clone(names)
	slices.Sort(want)
	for i, c := range r.Certificates {
		if c == nil {
			continue
		}
		have := acmejson.NormalizeNames(c.Names())
		slices.Sort(have)
		if slices.Equal(have, want) {
			return i
		}
	}
	return -1
}
