package routers

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseRule(t *testing.T) {
	tests := []struct {
		name    string
		rule    string
		kind    RuleKind
		want    []string
		notes   int
		wantErr string
	}{
		{name: "one host", rule: "Host(`a.example.com`)", want: []string{"a.example.com"}},
		{name: "double quotes", rule: `Host("a.example.com")`, want: []string{"a.example.com"}},
		{name: "escaped double quotes", rule: `Host("a\x2eexample.com")`, want: []string{"a.example.com"}},
		{name: "or", rule: "Host(`a.test`) || Host(`b.test`) || Host(`c.test`)", want: []string{"a.test", "b.test", "c.test"}},
		{name: "and path", rule: "Host(`a.test`) && PathPrefix(`/api`)", want: []string{"a.test"}},
		{name: "parentheses", rule: "(Host(`a.test`) || Host(`b.test`)) && (Path(`/x`) || Method(`GET`))", want: []string{"a.test", "b.test"}},
		{name: "v2 multi-argument host", rule: "Host(`a.test`, `b.test`)", want: []string{"a.test", "b.test"}},
		{name: "lower-cased names", rule: "Host(`A.Example.COM`)", want: []string{"a.example.com"}},
		{name: "matcher spellings", rule: "host(`a.test`) || HOST(`b.test`)", want: []string{"a.test", "b.test"}},
		{name: "duplicates once", rule: "Host(`a.test`) || Host(`a.test`)", want: []string{"a.test"}},
		{name: "whitespace and newlines", rule: "  Host( `a.test` ,\n `b.test` )\n", want: []string{"a.test", "b.test"}},
		{name: "host regexp names nothing", rule: "HostRegexp(`^.+\\.example\\.com$`)", want: nil, notes: 1},
		{name: "host regexp beside host", rule: "Host(`a.test`) || HostRegexp(`{sub:[a-z]+}.a.test`)", want: []string{"a.test"}, notes: 1},
		{name: "negated host kept like Traefik", rule: "PathPrefix(`/`) && !Host(`old.test`)", want: []string{"old.test"}, notes: 1},
		{name: "no host", rule: "PathPrefix(`/`)", want: nil},
		{name: "tcp hostsni", rule: "HostSNI(`db.test`) || HostSNI(`db2.test`)", kind: TCPRule, want: []string{"db.test", "db2.test"}},
		{name: "tcp catch-all", rule: "HostSNI(`*`)", kind: TCPRule, want: nil, notes: 1},
		{name: "tcp with alpn", rule: "HostSNI(`db.test`) && ALPN(`h2`)", kind: TCPRule, want: []string{"db.test"}},
		{name: "host in tcp rule is unknown", rule: "Host(`a.test`)", kind: TCPRule, wantErr: `unknown matcher "Host" for a TCP router`},
		{name: "unknown matcher", rule: "Hots(`a.test`)", wantErr: `unknown matcher "Hots"`},
		{name: "odd spelling", rule: "hOST(`a.test`)", wantErr: `unknown matcher "hOST"`},
		{name: "single quotes", rule: "Host('a.test')", wantErr: "single quotes"},
		{name: "unterminated", rule: "Host(`a.test)", wantErr: "unterminated"},
		{name: "missing paren", rule: "(Host(`a.test`)", wantErr: "missing )"},
		{name: "trailing operator", rule: "Host(`a.test`) ||", wantErr: "unexpected end"},
		{name: "single bar", rule: "Host(`a.test`) | Host(`b.test`)", wantErr: "unexpected"},
		{name: "empty", rule: "  ", wantErr: "empty rule"},
		{name: "bare word", rule: "a.test", wantErr: `unknown matcher "a" for an HTTP router`},
		{name: "unquoted argument", rule: "Host(a.test)", wantErr: "expected a quoted string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRule(tt.rule, tt.kind)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseRule(%q) error = %v, want one containing %q", tt.rule, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRule(%q): %v", tt.rule, err)
			}
			if !reflect.DeepEqual(got.Names, tt.want) {
				t.Errorf("names = %q, want %q", got.Names, tt.want)
			}
			if len(got.Notes) != tt.notes {
				t.Errorf("notes = %q, want %d", got.Notes, tt.notes)
			}
		})
	}
}

func TestParseRuleDeepNesting(t *testing.T) {
	rule := strings.Repeat("(", 10000) + "Host(`a.test`)" + strings.Repeat(")", 10000)
	if _, err := ParseRule(rule, HTTPRule); err == nil || !strings.Contains(err.Error(), "nested too deeply") {
		t.Fatalf("error = %v, want nested too deeply", err)
	}
	rule = strings.Repeat("!", 10000) + "Host(`a.test`)"
	if _, err := ParseRule(rule, HTTPRule); err == nil {
		t.Fatal("want an error for 10000 negations")
	}
}

// FuzzParseRule checks that no rule makes the parser panic or loop, and
// that the names it returns are lower case and unique.
func FuzzParseRule(f *testing.F) {
	for _, s := range []string{
		"Host(`a.example.com`)",
		"Host(`a.test`) || Host(`b.test`) && PathPrefix(`/x`)",
		"!(Host(\"a.test\") || HostRegexp(`.+`))",
		"HostSNI(`*`) || HostSNI(`db.test`)",
		"Host(`a`, `b`)",
		"((((",
		"Host(\"\\u00e9.test\")",
	} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, rule string, tcp bool) {
		kind := HTTPRule
		if tcp {
			kind = TCPRule
		}
		got, err := ParseRule(rule, kind)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, n := range got.Names {
			if n != strings.ToLower(n) {
				t.Errorf("name %q is not lower case", n)
			}
			if seen[n] {
				t.Errorf("name %q twice", n)
			}
			seen[n] = true
		}
	})
}

// TestParseRuleOrGroups checks which || expressions each matcher is an
// operand of, innermost first, which the Caddyfile writer relies on to
// tell alternatives from requirements.
func TestParseRuleOrGroups(t *testing.T) {
	rn, err := ParseRule("Host(`a`) && (PathPrefix(`/x`) || PathPrefix(`/y`)) || (Host(`b`) && Path(`/z`))", HTTPRule)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]int{}
	for _, m := range rn.Matchers {
		got[m.Name+":"+m.Values[0]] = m.OrGroups
	}
	want := map[string][]int{
		"Host:a":        {2},
		"PathPrefix:/x": {1, 2},
		"PathPrefix:/y": {1, 2},
		"Host:b":        {2},
		"Path:/z":       {2},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("or groups = %v, want %v", got, want)
	}
}
