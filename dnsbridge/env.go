package dnsbridge

// lego's environment semantics, in one place.
//
// Reference: lego platform/config/env/env.go (GetOrFile, Get,
// GetWithFallback, GetOrDefaultSecond) and the per-provider NewDefaultConfig
// functions.
//
//   - <VAR>_FILE: when VAR is empty and VAR_FILE is set, the file is read and
//     trailing "\r\n" characters are trimmed. lego only logs a read failure
//     and treats the variable as empty; so do we, and the "missing" error
//     then says which file could not be read (the path and the OS error,
//     never any content).
//   - Alternative names: a requirement may have several names (for example
//     CLOUDFLARE_DNS_API_TOKEN, then the legacy CF_DNS_API_TOKEN); the first
//     non-empty one wins, like lego's GetWithFallback. Differing values are
//     logged as a warning, like lego.
//   - All missing required variables are reported in ONE error prefixed
//     with the provider code: "cloudflare: some credentials information are
//     missing: CLOUDFLARE_DNS_API_TOKEN (or CF_DNS_API_TOKEN)".
//   - Durations are integer seconds (strconv.Atoi, like env.ParseSecond).
//     lego silently falls back to the default on a malformed value; the
//     bridge rejects it with an error naming the variable instead, because a
//     silently ignored "2m" is the most common Traefik support question.
//   - Inline overrides (Options.Overrides) form a layer above
//     Options.Lookup: every name of a requirement (and its _FILE) is looked
//     up in the overrides first, then in the environment.
//   - No secret value ever appears in an error or a log entry.

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
)

// ErrMissingCredentials is wrapped by the error New returns when required
// variables are missing. The text matches lego's message.
var ErrMissingCredentials = errors.New("some credentials information are missing")

// envReader resolves the variables of one provider and collects problems so
// that a single error can report all of them.
type envReader struct {
	code string
	spec Spec
	opts Options
	log  *zap.Logger
	// tm is the Timing read from the environment (set by New before the
	// builder runs).
	tm Timing

	missing  []string
	problems []error
	// fileErrs remembers <VAR>_FILE read failures by VAR.
	fileErrs map[string]error
}

func newEnvReader(code string, spec Spec, opts Options) *envReader {
	return &envReader{
		code:     code,
		spec:     spec,
		opts:     opts,
		log:      opts.logger().With(zap.String("provider", code)),
		fileErrs: map[string]error{},
	}
}

// layers returns the lookup functions in precedence order.
func (e *envReader) layers() []LookupFunc {
	var ls []LookupFunc
	if len(e.opts.Overrides) > 0 {
		ls = append(ls, func(k string) (string, bool) {
			v, ok := e.opts.Overrides[k]
			return v, ok
		})
	}
	if e.opts.Lookup != nil {
		ls = append(ls, e.opts.Lookup)
	}
	return ls
}

// getOrFile is lego's GetOrFile within one layer.
func (e *envReader) getOrFile(get LookupFunc, name string, withFile bool) string {
	if v, _ := get(name); v != "" {
		return v
	}
	if !withFile {
		return ""
	}
	path, _ := get(name + "_FILE")
	if path == "" {
		return ""
	}
	data, err := os.ReadFile(path)
	if err != nil {
		// The OS error names the path only; the content is never read.
		e.fileErrs[name] = err
		e.log.Warn("cannot read secret file; treating variable as unset",
			zap.String("env", name+"_FILE"), zap.Error(err))
		return ""
	}
	return strings.TrimRight(string(data), "\r\n")
}

// resolve returns the first non-empty value of names, overrides first, and
// the name it came from.
func (e *envReader) resolve(withFile bool, names ...string) (value, from string) {
	for _, get := range e.layers() {
		for _, n := range names {
			if v := e.getOrFile(get, n, withFile); v != "" {
				value, from = v, n
				break
			}
		}
		if value != "" {
			break
		}
	}
	if value == "" {
		return "", ""
	}
	// lego warns when a fallback disagrees with the main name.
	for _, n := range names {
		if n == from {
			continue
		}
		for _, get := range e.layers() {
			if v := e.getOrFile(get, n, withFile); v != "" && v != value {
				e.log.Warn("environment variables disagree; using the first",
					zap.String("env", from), zap.String("ignored_env", n))
				break
			}
		}
	}
	return value, from
}

// first returns the first non-empty value of names (with _FILE support), or
// "".
func (e *envReader) first(names ...string) string {
	v, _ := e.resolve(true, names...)
	return v
}

// plain is first without _FILE support (for AWS SDK variables, which lego
// documents as not _FILE-capable).
func (e *envReader) plain(names ...string) string {
	v, _ := e.resolve(false, names...)
	return v
}

// isSet reports whether any of names (or its _FILE) is set to a non-empty
// value, without reading files.
func (e *envReader) isSet(names ...string) bool {
	for _, get := range e.layers() {
		for _, n := range names {
			if v, _ := get(n); v != "" {
				return true
			}
			if v, _ := get(n + "_FILE"); v != "" {
				return true
			}
		}
	}
	return false
}

// require is first, recording the requirement as missing when empty.
func (e *envReader) require(names ...string) string {
	v := e.first(names...)
	if v == "" {
		e.missing = append(e.missing, e.describeMissing(names))
	}
	return v
}

// describeMissing renders one missing requirement:
// "A (or B, or C) [A_FILE: open /x: no such file or directory]".
func (e *envReader) describeMissing(names []string) string {
	var b strings.Builder
	b.WriteString(names[0])
	if len(names) > 1 {
		b.WriteString(" (or ")
		b.WriteString(strings.Join(names[1:], ", or "))
		b.WriteString(")")
	}
	for _, n := range names {
		if err, ok := e.fileErrs[n]; ok {
			fmt.Fprintf(&b, " [%s_FILE could not be read: %v]", n, err)
		}
	}
	return b.String()
}

// failf records a problem; the message must not contain secret values.
func (e *envReader) failf(format string, args ...any) {
	e.problems = append(e.problems, fmt.Errorf("%s: "+format, append([]any{e.code}, args...)...))
}

// integer parses the first set variable of names as a base-10 integer.
func (e *envReader) integer(names ...string) (int, bool) {
	v, from := e.resolve(true, names...)
	if v == "" {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		e.failf("parsing %s: %w", from, err)
		return 0, false
	}
	return n, true
}

// seconds parses the first set variable of names as integer seconds, like
// lego's env.ParseSecond. Negative values are rejected.
func (e *envReader) seconds(names ...string) time.Duration {
	v, from := e.resolve(true, names...)
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		e.failf("parsing %s: must be an integer number of seconds (lego does not accept units like \"2m\"): %w", from, err)
		return 0
	}
	if n < 0 {
		e.failf("parsing %s: must not be negative, got %d", from, n)
		return 0
	}
	return time.Duration(n) * time.Second
}

// boolean parses the first set variable of names with strconv.ParseBool,
// returning def when unset.
func (e *envReader) boolean(def bool, names ...string) bool {
	v, from := e.resolve(true, names...)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		e.failf("parsing %s: %w", from, err)
		return def
	}
	return b
}

// suffixNames returns, in namespace order, the variables of the spec that
// end with suffix and are documented (Optional).
func (e *envReader) suffixNames(suffix string) []string {
	var names []string
	for _, ns := range e.spec.Namespaces {
		n := ns + suffix
		for _, o := range e.spec.Optional {
			if o == n {
				names = append(names, n)
				break
			}
		}
	}
	return names
}

// timing reads the standard tuning variables the spec documents.
func (e *envReader) timing() Timing {
	var t Timing
	if names := e.suffixNames("TTL"); len(names) > 0 {
		t.TTL = e.seconds(names...)
	}
	if names := e.suffixNames("PROPAGATION_TIMEOUT"); len(names) > 0 {
		t.PropagationTimeout = e.seconds(names...)
	}
	if names := e.suffixNames("POLLING_INTERVAL"); len(names) > 0 {
		t.PollingInterval = e.seconds(names...)
	}
	return t
}

// httpTimeout reads <NS>HTTP_TIMEOUT, returning def when unset.
func (e *envReader) httpTimeout(def time.Duration) time.Duration {
	names := e.suffixNames("HTTP_TIMEOUT")
	if len(names) == 0 {
		return def
	}
	if d := e.seconds(names...); d > 0 {
		return d
	}
	return def
}

// ignored logs that a documented lego variable is set but cannot be
// honoured by the libdns provider.
func (e *envReader) ignored(reason string, names ...string) {
	for _, n := range names {
		if e.isSet(n) {
			e.log.Warn("environment variable cannot be honoured; ignoring it",
				zap.String("env", n), zap.String("reason", reason))
		}
	}
}

// err returns the combined error: missing variables first (one error), then
// every other problem.
func (e *envReader) err() error {
	var errs []error
	if len(e.missing) > 0 {
		errs = append(errs, fmt.Errorf("%s: %w: %s", e.code, ErrMissingCredentials, strings.Join(e.missing, ", ")))
	}
	errs = append(errs, e.problems...)
	return errors.Join(errs...)
}
