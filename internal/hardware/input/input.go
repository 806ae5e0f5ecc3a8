package input

import (
	"fmt"
	"strings"
)

// InputError is bad input. Attribute names the Terraform attribute.
type InputError struct {
	Attribute string
	Message   string
}

func (e *InputError) Error() string { return fmt.Sprintf("%s: %s", e.Attribute, e.Message) }

// Closest returns the candidate nearest to name (for "did you mean"):
// a candidate that contains the name's normalized form wins (the shortest
// one), otherwise the smallest edit distance. "" when there are none.
func Closest(name string, candidates []string) string {
	n := NormName(name)
	best, bestD := "", -1
	for _, c := range candidates {
		cn := NormName(c)
		d := Levenshtein(n, cn)
		if n != "" && strings.Contains(cn, n) {
			d = len(cn) - len(n) - 1000 // containment beats any edit distance
		}
		if bestD == -1 || d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// DidYouMean is " (did you mean %q?)" for the closest candidate, or "".
func DidYouMean(name string, candidates []string) string {
	if c := Closest(name, candidates); c != "" {
		return fmt.Sprintf(" (did you mean %q?)", c)
	}
	return ""
}

// Levenshtein is the edit distance between a and b (a cut at 256 runes).
func Levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 256 {
		ra = ra[:256]
	}
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// NormName folds case and drops separators and vendor words so that
// "NVIDIA GeForce RTX 3090", "rtx3090" and "RTX-3090" compare equal.
func NormName(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	for _, w := range []string{"nvidia", "geforce", "tesla", "amd", "instinct"} {
		s = strings.ReplaceAll(s, w, "")
	}
	var b strings.Builder
	for _, r := range s {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	return b.String()
}
