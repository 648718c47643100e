package watcher

import (
	"strconv"
	"strings"
	"testing"
)

func TestGitignorePattern(t *testing.T) {
	for _, tc := range []struct{ dir, line, want string }{
		{".", "*.log", "**/*.log"},
		{".", "/dist", "dist"},
		{".", "build/", "**/build"},
		{".", "docs/*.html", "docs/*.html"},
		{"sub", "gen/", "sub/**/gen"},
		{"sub", "/only-here", "sub/only-here"},
		{".", "!keep.log", "!**/keep.log"},
		{".", `\#not-a-comment`, "**/#not-a-comment"},
	} {
		got, ok := gitignorePattern(tc.dir, tc.line)
		if !ok || got != tc.want {
			t.Errorf("gitignorePattern(%q, %q) = %q, %v; want %q", tc.dir, tc.line, got, ok, tc.want)
		}
	}
	for _, line := range []string{"", "# comment", "   ", "/"} {
		if got, ok := gitignorePattern(".", line); ok {
			t.Errorf("gitignorePattern(%q) = %q, want none", line, got)
		}
	}
}

// FuzzFilter compiles arbitrary patterns and matches arbitrary paths: no
// panic, and a rejected pattern is named in the error, quoted as it was
// given (the error's "include pattern: " prefix alone names none), also
// when patternmatcher is the one to reject it (a lone "!").
func FuzzFilter(f *testing.F) {
	for _, s := range [][2]string{{"**/*.go", "a/b.go"}, {"a/[b", "a/b"}, {"!x", "x"}, {"[", ""}, {"**", "."}, {`\`, "a\\b"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, path string) {
		flt, err := NewFilter(FilterOptions{Include: []string{"**/*.go", pattern}, Exclude: []string{pattern}})
		if err != nil {
			if want := "include pattern: " + strconv.Quote(pattern) + ": "; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("NewFilter(%q) = %q: it does not start with %q", pattern, err, want)
			}
			return
		}
		flt.SkipFile(path)
		flt.SkipDir(path)
	})
}
