package routers

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// RuleKind says which grammar a rule belongs to: HTTP routers match with
// Host, Path…; TCP routers with HostSNI, ClientIP, ALPN.
type RuleKind int

const (
	// HTTPRule is the rule of an http.routers entry.
	HTTPRule RuleKind = iota
	// TCPRule is the rule of a tcp.routers entry.
	TCPRule
)

// httpMatchers are the matchers Traefik's ParseDomains accepts: the union
// of the v3 and the v2 rule syntax.
var httpMatchers = []string{
	"Host", "HostHeader", "HostRegexp", "Path", "PathPrefix", "PathRegexp",
	"Method", "Header", "HeaderRegexp", "Headers", "HeadersRegexp",
	"Query", "QueryRegexp", "ClientIP",
}

// tcpMatchers are the matchers Traefik's ParseHostSNI accepts.
var tcpMatchers = []string{"HostSNI", "HostSNIRegexp", "ClientIP", "ALPN"}

// RuleNames is what a rule says about certificate names.
type RuleNames struct {
	// Names are the values of the rule's Host (HTTP) or HostSNI (TCP)
	// matchers, lower-cased, in rule order, duplicates removed: the names
	// Traefik's ACME provider requests a certificate for when the router
	// has no tls.domains.
	Names []string
	// Notes explain what of the rule names no certificate, or names one
	// Traefik would request although the rule does not serve it
	// (HostRegexp, HostSNI(`*`), a negated Host).
	Notes []string
	// Matchers are the rule's matcher calls, in rule order.
	Matchers []Matcher
}

// Matcher is one matcher call of a rule.
type Matcher struct {
	// Name is the matcher's canonical spelling, such as PathPrefix.
	Name string
	// Values are its arguments, unquoted.
	Values []string
	// Not is set when the call is negated (after De Morgan's law).
	Not bool
	// InOr is set when the call is an operand of an || (at any depth), so
	// the rule can match without it.
	InOr bool
	// OrGroups identify the || expressions the call is an operand of,
	// innermost first (empty when InOr is false).
	OrGroups []int
}

// ParseRule reads the host part of a Traefik router rule with Traefik's
// grammar (a Go expression, as in vulcand/predicate): matcher calls whose
// arguments are backquoted or double-quoted strings, combined with &&, ||,
// ! and parentheses. Matcher names are Traefik's, spelled as Traefik
// accepts them (Host, host, HOST). Errors say where the rule is wrong.
func ParseRule(rule string, kind RuleKind) (RuleNames, error) {
	p := &ruleParser{src: rule, kind: kind}
	var out RuleNames
	if strings.TrimSpace(rule) == "" {
		return out, fmt.Errorf("empty rule")
	}
	leaves, err := p.parse()
	if err != nil {
		return out, err
	}
	want := "Host"
	if kind == TCPRule {
		want = "HostSNI"
	}
	for _, l := range leaves {
		out.Matchers = append(out.Matchers, Matcher{Name: l.matcher, Values: l.values, Not: l.not, InOr: len(l.orGroups) > 0, OrGroups: l.orGroups})
	}
	seen := map[string]bool{}
	for _, l := range leaves {
		switch l.matcher {
		case want:
			for _, v := range l.values {
				v = strings.ToLower(v)
				switch {
				case kind == TCPRule && v == "*":
					out.Notes = append(out.Notes, "HostSNI(`*`) matches every name and names no certificate")
					continue
				case l.not:
					out.Notes = append(out.Notes, fmt.Sprintf("%q is negated (!%s) but Traefik still requests a certificate for it, so it is kept", v, want))
				}
				if !seen[v] {
					seen[v] = true
					out.Names = append(out.Names, v)
				}
			}
		case "HostRegexp", "HostSNIRegexp":
			out.Notes = append(out.Notes, fmt.Sprintf("%s(%s) names no certificate (Traefik requests none for it either); list the names in tls.domains", l.matcher, quoteList(l.values)))
		case "HostHeader":
			out.Notes = append(out.Notes, fmt.Sprintf("HostHeader(%s) names no certificate (Traefik reads only Host)", quoteList(l.values)))
		}
	}
	return out, nil
}

func quoteList(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = "`" + v + "`"
	}
	return strings.Join(q, ", ")
}

// leaf is one matcher call of a rule.
type leaf struct {
	matcher  string // canonical spelling
	values   []string
	not      bool  // under an odd number of negations (after De Morgan)
	orGroups []int // the || expressions it is an operand of, innermost first
}

type ruleParser struct {
	src    string
	pos    int
	kind   RuleKind
	leaves []leaf
	depth  int
	groups int // || expressions seen
}

// maxRuleDepth bounds nesting so that a hostile rule cannot exhaust the
// stack.
const maxRuleDepth = 100

func (p *ruleParser) parse() ([]leaf, error) {
	if err := p.or(false); err != nil {
		return nil, err
	}
	p.space()
	if p.pos < len(p.src) {
		return nil, p.errf("unexpected %q", p.rest())
	}
	return p.leaves, nil
}

func (p *ruleParser) errf(format string, args ...any) error {
	return fmt.Errorf("rule %q: at offset %d: %s", p.src, p.pos, fmt.Sprintf(format, args...))
}

func (p *ruleParser) rest() string {
	r := p.src[p.pos:]
	if len(r) > 20 {
		r = r[:20] + "…"
	}
	return r
}

func (p *ruleParser) space() {
	for p.pos < len(p.src) {
		r, n := utf8.DecodeRuneInString(p.src[p.pos:])
		if !unicode.IsSpace(r) {
			return
		}
		p.pos += n
	}
}

func (p *ruleParser) accept(tok string) bool {
	p.space()
	if strings.HasPrefix(p.src[p.pos:], tok) {
		p.pos += len(tok)
		return true
	}
	return false
}

// or := and { "||" and }
func (p *ruleParser) or(not bool) error {
	start := len(p.leaves)
	if err := p.and(not); err != nil {
		return err
	}
	group := 0
	for p.accept("||") {
		if err := p.and(not); err != nil {
			return err
		}
		if group == 0 {
			p.groups++
			group = p.groups
		}
	}
	if group > 0 {
		// Inner groups were added first.
		for i := start; i < len(p.leaves); i++ {
			p.leaves[i].orGroups = append(p.leaves[i].orGroups, group)
		}
	}
	return nil
}

// and := unary { "&&" unary }
func (p *ruleParser) and(not bool) error {
	if err := p.unary(not); err != nil {
		return err
	}
	for p.accept("&&") {
		if err := p.unary(not); err != nil {
			return err
		}
	}
	return nil
}

// unary := "!" unary | "(" or ")" | call
func (p *ruleParser) unary(not bool) error {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxRuleDepth {
		return p.errf("nested too deeply")
	}
	p.space()
	switch {
	case p.pos >= len(p.src):
		return p.errf("unexpected end of rule")
	case p.src[p.pos] == '!':
		p.pos++
		return p.unary(!not)
	case p.src[p.pos] == '(':
		p.pos++
		if err := p.or(not); err != nil {
			return err
		}
		if !p.accept(")") {
			return p.errf("missing ) before %q", p.rest())
		}
		return nil
	}
	return p.call(not)
}

// call := IDENT "(" [ STRING { "," STRING } ] ")"
func (p *ruleParser) call(not bool) error {
	start := p.pos
	for p.pos < len(p.src) && isIdentByte(p.src[p.pos], p.pos == start) {
		p.pos++
	}
	if p.pos == start {
		return p.errf("expected a matcher such as Host(`example.com`), found %q", p.rest())
	}
	name := p.src[start:p.pos]
	canon, ok := p.matcher(name)
	if !ok {
		p.pos = start
		return p.errf("unknown matcher %q for %s router; Traefik knows %s", name, p.kindName(), strings.Join(p.known(), ", "))
	}
	if !p.accept("(") {
		return p.errf("expected ( after %s", name)
	}
	var values []string
	p.space()
	if !p.accept(")") {
		for {
			v, err := p.str()
			if err != nil {
				return err
			}
			values = append(values, v)
			if p.accept(")") {
				break
			}
			if !p.accept(",") {
				return p.errf("expected , or ) in the arguments of %s", name)
			}
		}
	}
	p.leaves = append(p.leaves, leaf{matcher: canon, values: values, not: not})
	return nil
}

// str reads a backquoted (raw) or double-quoted (Go escapes) string.
func (p *ruleParser) str() (string, error) {
	p.space()
	if p.pos >= len(p.src) {
		return "", p.errf("unexpected end of rule in matcher arguments")
	}
	switch q := p.src[p.pos]; q {
	case '`':
		end := strings.IndexByte(p.src[p.pos+1:], '`')
		if end < 0 {
			return "", p.errf("unterminated `string`")
		}
		v := p.src[p.pos+1 : p.pos+1+end]
		p.pos += end + 2
		return strings.ReplaceAll(v, "\r", ""), nil
	case '"':
		i := p.pos + 1
		for i < len(p.src) && p.src[i] != '"' && p.src[i] != '\n' {
			if p.src[i] == '\\' {
				i++
			}
			i++
		}
		if i >= len(p.src) || p.src[i] != '"' {
			return "", p.errf("unterminated \"string\"")
		}
		v, err := strconv.Unquote(p.src[p.pos : i+1])
		if err != nil {
			return "", p.errf("bad string %s: %v", p.src[p.pos:i+1], err)
		}
		p.pos = i + 1
		return v, nil
	case '\'':
		return "", p.errf("single quotes are not allowed in Traefik rules; use backquotes (`example.com`) or double quotes")
	}
	return "", p.errf("expected a quoted string, found %q", p.rest())
}

func isIdentByte(c byte, first bool) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || !first && '0' <= c && c <= '9'
}

func (p *ruleParser) kindName() string {
	if p.kind == TCPRule {
		return "a TCP"
	}
	return "an HTTP"
}

func (p *ruleParser) known() []string {
	if p.kind == TCPRule {
		return tcpMatchers
	}
	return httpMatchers
}

// matcher returns the canonical name of a matcher spelled as Traefik's
// parser accepts it: as documented, all lower case, all upper case, or
// with only the first letter upper case.
func (p *ruleParser) matcher(name string) (string, bool) {
	for _, m := range p.known() {
		lower := strings.ToLower(m)
		if name == m || name == lower || name == strings.ToUpper(m) || name == strings.ToUpper(lower[:1])+lower[1:] {
			return m, true
		}
	}
	return "", false
}
