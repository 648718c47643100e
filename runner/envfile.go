package runner

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/joho/godotenv"
)

// ReadEnvFile reads a .env file, as compose and godotenv read them
// (KEY=value lines, # comments, quotes, export, ${VAR} expansion), and
// returns its entries as KEY=value, sorted. A line it cannot read, or a
// name that is no variable's, is an error naming the file and the line.
func ReadEnvFile(path string) ([]string, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the env file: %w", err)
	}
	m, err := godotenv.UnmarshalBytes(src)
	if err != nil {
		return nil, fmt.Errorf("%s%s: %v", path, lineOf(src, err.Error()), err)
	}
	var env []string
	for k, v := range m {
		if !envName.MatchString(k) {
			return nil, fmt.Errorf("%s%s: %q is not a variable's name (letters, digits and _, not first a digit)", path, lineOfKey(src, k), k)
		}
		env = append(env, k+"="+v)
	}
	slices.Sort(env)
	return env, nil
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]*$`)

// lineOf finds the line the parser's message quotes (near "…", or the
// value it could not end), as ":N", or "" when it cannot tell.
func lineOf(src []byte, msg string) string {
	for _, marker := range []string{`near "`, "value "} {
		i := strings.Index(msg, marker)
		if i < 0 {
			continue
		}
		quoted := msg[i+len(marker):]
		snippet := quoted
		if marker == `near "` {
			if s, err := strconv.Unquote(`"` + strings.TrimSuffix(quoted, `"`) + `"`); err == nil {
				snippet = s
			}
		}
		snippet, _, _ = strings.Cut(snippet, "\n")
		if j := bytes.Index(src, []byte(snippet)); snippet != "" && j >= 0 {
			return ":" + strconv.Itoa(bytes.Count(src[:j], []byte("\n"))+1)
		}
	}
	return ""
}

// lineOfKey finds the line that sets key, as ":N".
func lineOfKey(src []byte, key string) string {
	for i, line := range strings.Split(string(src), "\n") {
		l := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "export "))
		name, _, ok := strings.Cut(l, "=")
		if ok && strings.TrimSpace(name) == key {
			return ":" + strconv.Itoa(i+1)
		}
	}
	return ""
}
