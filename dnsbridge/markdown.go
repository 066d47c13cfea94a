package dnsbridge

import (
	"strings"
)

// MarkdownTable renders the supported providers as a Markdown table with the
// columns code, aliases, required env, optional env, _FILE and notes, one
// row per provider sorted by code, ending with a newline. README.md embeds
// it verbatim (see TestREADMEProviderTable).
func MarkdownTable() string {
	var b strings.Builder
	b.WriteString("| code | aliases | required env | optional env | `_FILE` | notes |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	for _, s := range specs() {
		cells := []string{
			"`" + s.Code + "`",
			joinCode(s.Aliases, ", "),
			requiredCell(s.Required),
			joinCode(s.Optional, ", "),
			yesNo(s.FileVars),
			s.Notes,
		}
		for i, c := range cells {
			if c == "" {
				c = "–"
			}
			cells[i] = strings.ReplaceAll(c, "|", `\|`)
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	return b.String()
}

func requiredCell(groups [][]string) string {
	parts := make([]string, len(groups))
	for i, g := range groups {
		parts[i] = joinCode(g, " or ")
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func joinCode(names []string, sep string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = "`" + n + "`"
	}
	return strings.Join(q, sep)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
