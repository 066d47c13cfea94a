package traefikacme

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// printable returns s safe to print on a terminal: C0 and C1 control
// characters (ESC and so every CSI and OSC sequence, BEL, backspace,
// carriage return, newline, …), DEL, Unicode bidirectional controls and
// invalid UTF-8 are shown as escapes (\x1b, \u009b, \u202e), and a
// backslash as \\, so that a resolver or domain name taken from an
// acme.json cannot move the cursor, retitle the window, reorder or hide
// text. Other text, non-ASCII letters included, is unchanged. The --json
// output needs none of this: JSON escapes control characters itself.
func printable(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || r < 0x20 || (r >= 0x7f && r < 0xa0) || r == '\\' || isBidiControl(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\\':
			b.WriteString(`\\`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case (r >= 0x80 && r < 0xa0) || isBidiControl(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
		i += size
	}
	return b.String()
}

// isBidiControl reports whether r is a Unicode bidirectional formatting
// character (marks, embeddings, overrides, isolates).
func isBidiControl(r rune) bool {
	return r == 0x061c || r == 0x200e || r == 0x200f || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}
