package dnsbridge

// rfc2136 (alias dnsupdate): libdns/rfc2136 v1.0.1. lego:
// providers/dns/rfc2136 (v4) and providers/dns/dnsupdate (v5, which reads
// DNSUPDATE_* first and every RFC2136_* as a fallback; so does the bridge,
// for both codes).

import (
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/libdns/rfc2136"
)

const (
	rfc2136NS    = "DNSUPDATE_"
	rfc2136AltNS = "RFC2136_"

	// rfc2136DefaultAlgorithm is lego's default (dns.HmacSHA1).
	rfc2136DefaultAlgorithm = "hmac-sha1."
)

// rfc2136Names returns DNSUPDATE_<suffix>, RFC2136_<suffix>.
func rfc2136Names(suffix string) []string {
	return []string{rfc2136NS + suffix, rfc2136AltNS + suffix}
}

// rfc2136Algorithms are the TSIG algorithms lego accepts.
var rfc2136Algorithms = map[string]bool{
	"hmac-sha1.": true, "hmac-sha224.": true, "hmac-sha256.": true, "hmac-sha384.": true, "hmac-sha512.": true,
}

func init() {
	ns := []string{rfc2136NS, rfc2136AltNS}
	optional := append(rfc2136Names("TSIG_ALGORITHM"), rfc2136Names("TSIG_FILE")...)
	optional = append(optional, timingVars(ns, "TTL", "PROPAGATION_TIMEOUT", "POLLING_INTERVAL", "DNS_TIMEOUT", "SEQUENCE_INTERVAL")...)
	register(Spec{
		Code:       "rfc2136",
		Aliases:    []string{"dnsupdate"},
		Namespaces: ns,
		Required: [][]string{
			rfc2136Names("NAMESERVER"),
			rfc2136Names("TSIG_KEY"),
			rfc2136Names("TSIG_SECRET"),
		},
		Optional: optional,
		FileVars: true,
		Defaults: Timing{TTL: seconds(120), PropagationTimeout: seconds(60), PollingInterval: seconds(2)},
		Module:   "github.com/libdns/rfc2136",
		Notes: "`DNSUPDATE_*` (lego v4.35+ and v5) is read first, `RFC2136_*` as fallback. The libdns provider always signs updates, " +
			"so a TSIG key and secret are required (directly or from a BIND key file in `TSIG_FILE`); lego's unsigned mode is " +
			"not available. The algorithm defaults to hmac-sha1 like lego. The nameserver gets port 53 when none is given. " +
			"`DNS_TIMEOUT` and `SEQUENCE_INTERVAL` are ignored.",
	}, buildRFC2136)
}

func buildRFC2136(e *envReader, _ Options) (Provider, error) {
	server := e.require(rfc2136Names("NAMESERVER")...)

	var keyName, secret, alg string
	if path := e.first(rfc2136Names("TSIG_FILE")...); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			e.failf("reading TSIG key file: %w", err)
		} else if k, err := parseTSIGFile(string(data)); err != nil {
			e.failf("parsing TSIG key file %s: %w", path, err)
		} else {
			keyName, alg, secret = k.name, k.algorithm, k.secret
		}
	} else {
		keyName = e.require(rfc2136Names("TSIG_KEY")...)
		secret = e.require(rfc2136Names("TSIG_SECRET")...)
		alg = e.first(rfc2136Names("TSIG_ALGORITHM")...)
	}
	e.ignored("the libdns RFC 2136 provider has no such setting", timingVars(e.spec.Namespaces, "DNS_TIMEOUT", "SEQUENCE_INTERVAL")...)

	if alg == "" {
		alg = rfc2136DefaultAlgorithm
	}
	alg = strings.ToLower(alg)
	if !strings.HasSuffix(alg, ".") {
		alg += "."
	}
	if !rfc2136Algorithms[alg] {
		e.failf("unsupported TSIG algorithm %q (want one of hmac-sha1, hmac-sha224, hmac-sha256, hmac-sha384, hmac-sha512)", alg)
	}

	if server != "" {
		if _, _, err := net.SplitHostPort(server); err != nil {
			if strings.Contains(err.Error(), "missing port") {
				server = net.JoinHostPort(strings.Trim(server, "[]"), "53")
			} else {
				e.failf("parsing nameserver address: %w", err)
			}
		}
	}
	if err := e.err(); err != nil {
		return nil, err
	}
	keyName = strings.ToLower(keyName)
	if !strings.HasSuffix(keyName, ".") {
		keyName += "."
	}
	return &rfc2136.Provider{KeyName: keyName, KeyAlg: alg, Key: secret, Server: server}, nil
}

// tsigKey is one key from a BIND key file.
type tsigKey struct {
	name, algorithm, secret string
}

// parseTSIGFile reads the first key clause of a BIND/tsig-keygen key file:
//
//	key "name" {
//		algorithm hmac-sha256;
//		secret "base64==";
//	};
//
// Errors never contain the secret.
func parseTSIGFile(data string) (tsigKey, error) {
	toks := tsigTokens(data)
	var k tsigKey
	for i := 0; i < len(toks); i++ {
		if toks[i] != "key" {
			continue
		}
		if i+2 >= len(toks) || toks[i+2] != "{" {
			return tsigKey{}, fmt.Errorf("malformed key clause")
		}
		k.name = strings.Trim(toks[i+1], `"`)
		for j := i + 3; j < len(toks) && toks[j] != "}"; j++ {
			switch toks[j] {
			case "algorithm":
				if j+1 < len(toks) {
					k.algorithm = strings.Trim(toks[j+1], `"`)
					j++
				}
			case "secret":
				if j+1 < len(toks) {
					k.secret = strings.Trim(toks[j+1], `"`)
					j++
				}
			}
		}
		break
	}
	switch {
	case k.name == "":
		return tsigKey{}, fmt.Errorf("no key clause found")
	case k.algorithm == "":
		return tsigKey{}, fmt.Errorf("key %q has no algorithm", k.name)
	case k.secret == "":
		return tsigKey{}, fmt.Errorf("key %q has no secret", k.name)
	}
	return k, nil
}

// tsigTokens splits a named.conf fragment into words, quoted strings and
// the punctuation { } ;, dropping comments (#, //, /* */).
func tsigTokens(s string) []string {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ';':
			i++
		case c == '#' || strings.HasPrefix(s[i:], "//"):
			if j := strings.IndexByte(s[i:], '\n'); j >= 0 {
				i += j
			} else {
				i = len(s)
			}
		case strings.HasPrefix(s[i:], "/*"):
			if j := strings.Index(s[i+2:], "*/"); j >= 0 {
				i += j + 4
			} else {
				i = len(s)
			}
		case c == '{' || c == '}':
			toks = append(toks, string(c))
			i++
		case c == '"':
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				toks = append(toks, s[i:])
				i = len(s)
			} else {
				toks = append(toks, s[i:i+j+2])
				i += j + 2
			}
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\r\n;{}\"", rune(s[j])) {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks
}
