package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/moby/patternmatcher"
)

// set converts raw, a value from YAML, the environment or a flag, to the key's
// type and stores it in c.
func (k key) set(c *Config, raw any) error {
	val, err := k.parse(raw)
	if err != nil {
		return err
	}
	if msg := noNUL(val); msg != "" {
		return errors.New(msg)
	}
	if k.norm != nil {
		val = k.norm(val)
	}
	if k.check != nil {
		if msg := k.check(val); msg != "" {
			return errors.New(msg)
		}
	}
	switch p := k.field(c).(type) {
	case *string:
		*p = val.(string)
	case *[]string:
		*p = val.([]string)
	case *time.Duration:
		*p = val.(time.Duration)
	case *bool:
		*p = val.(bool)
	case *[]Rule:
		*p = val.([]Rule)
	case *[]Step:
		*p = val.([]Step)
	}
	return nil
}

func (k key) parse(raw any) (any, error) {
	switch k.kind {
	case kString:
		return parseString(raw)
	case kList:
		return parseList(raw)
	case kDuration:
		return parseDuration(raw)
	case kBool:
		return parseBool(raw)
	case kEnum:
		return parseEnum(raw, k.allowed)
	case kRules:
		return parseRules(raw)
	case kSteps:
		return parseSteps(raw)
	case kPort:
		if n, ok := raw.(int); ok {
			return strconv.Itoa(n), nil
		}
		return parseString(raw)
	}
	return nil, fmt.Errorf("unknown kind %d", k.kind)
}

func parseString(raw any) (string, error) {
	switch v := raw.(type) {
	case string:
		return v, nil
	case nil:
		return "", nil
	}
	return "", fmt.Errorf("must be a string, not %s %v (quote it)", typeName(raw), raw)
}

// parseList accepts a YAML list of strings, or a string split into words as a
// shell would, without running one: quotes keep spaces, a backslash escapes.
func parseList(raw any) ([]string, error) {
	switch v := raw.(type) {
	case nil:
		return []string{}, nil
	case []string:
		return v, nil
	case string:
		return splitWords(v)
	case []any:
		out := make([]string, len(v))
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("item %d must be a string, not %s %v (quote it)", i+1, typeName(e), e)
			}
			out[i] = s
		}
		return out, nil
	}
	return nil, fmt.Errorf("must be a list of strings, not %s %v", typeName(raw), raw)
}

func parseDuration(raw any) (time.Duration, error) {
	switch v := raw.(type) {
	case time.Duration:
		return v, nil
	case nil:
		return 0, errors.New("must be a duration such as 250ms, 5s or 1m, not empty")
	case string:
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			return 0, fmt.Errorf("must be a duration such as 250ms, 5s or 1m, not %q", v)
		}
		return d, nil
	case int, int64, float64:
		return 0, fmt.Errorf("must be a duration with a unit, such as %vms or %vs, not the bare number %v", v, v, v)
	}
	return 0, fmt.Errorf("must be a duration such as 250ms, 5s or 1m, not %s %v", typeName(raw), raw)
}

func parseBool(raw any) (bool, error) {
	switch v := raw.(type) {
	case bool:
		return v, nil
	case nil:
		return false, errors.New("must be true or false, not empty")
	case string:
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return false, fmt.Errorf("must be true or false, not %q", v)
		}
		return b, nil
	}
	return false, fmt.Errorf("must be true or false, not %s %v", typeName(raw), raw)
}

func parseEnum(raw any, allowed []string) (string, error) {
	s, err := parseString(raw)
	if err != nil {
		return "", err
	}
	for _, a := range allowed {
		if strings.EqualFold(s, a) {
			return a, nil
		}
	}
	return "", fmt.Errorf("must be one of %s, not %q", strings.Join(allowed, ", "), s)
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "an empty"
	case string:
		return "the string"
	case int, int64, float64:
		return "the number"
	case bool:
		return "the boolean"
	case []any:
		return "the list"
	case map[string]any:
		return "the mapping"
	}
	return fmt.Sprintf("%T", v)
}

// splitWords splits s into words at unquoted white space. Single quotes keep
// everything; double quotes keep everything but a backslash-escaped " or \.
func splitWords(s string) ([]string, error) {
	words := []string{}
	var cur strings.Builder
	inWord := false
	var quote rune
	escaped := false
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case quote == '\'' && r == '\'', quote == '"' && r == '"':
			quote = 0
		case quote == '\'':
			cur.WriteRune(r)
		case r == '\\':
			escaped, inWord = true, true
		case quote == '"':
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("has an unclosed %c quote: %q", quote, s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

func nonEmpty(v any) string {
	if strings.TrimSpace(v.(string)) == "" {
		return "must not be empty"
	}
	return ""
}

func nonEmptyList(v any) string {
	if len(v.([]string)) == 0 {
		return "must name at least one entry"
	}
	return ""
}

func envList(v any) string {
	for _, e := range v.([]string) {
		name, _, ok := strings.Cut(e, "=")
		if !ok || name == "" || strings.IndexFunc(name, unicode.IsSpace) >= 0 {
			return fmt.Sprintf("entries must look like KEY=value, not %q", e)
		}
	}
	return ""
}

func between(lo, hi time.Duration) func(any) string {
	return func(v any) string {
		if d := v.(time.Duration); d < lo || d > hi {
			return fmt.Sprintf("must be between %s and %s, not %s", lo, hi, d)
		}
		return ""
	}
}

// suggest returns " (did you mean x?)" for the known key closest to k.
func suggest(k string) string {
	names := make([]string, len(keys))
	for i, key := range keys {
		names[i] = key.name
	}
	return closest(k, names)
}

func suggestEnv(name string) string {
	names := make([]string, len(keys))
	for i, key := range keys {
		names[i] = envName(key.name)
	}
	return closest(name, names)
}

func closest(s string, names []string) string {
	best, bestD := "", 4
	for _, n := range names {
		if d := distance(s, n); d < bestD {
			best, bestD = n, d
		}
	}
	if best == "" {
		return "; see 'devrun config' for the known ones"
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = slices.Min([]int{prev[j] + 1, cur[j-1] + 1, prev[j-1] + cost})
		}
		prev = cur
	}
	return prev[len(b)]
}

func portOrEmpty(v any) string {
	s := v.(string)
	if s == "" {
		return ""
	}
	if _, ok := portNumber(s); !ok {
		return fmt.Sprintf("must be a port number from 1 to 65535, not %q", s)
	}
	return ""
}

// noNUL rejects a string, or a list item, holding a NUL byte: no program
// can be given one in an argument or in its environment.
func noNUL(v any) string {
	switch v := v.(type) {
	case string:
		if strings.ContainsRune(v, 0) {
			return fmt.Sprintf("must not hold a NUL byte, as %q does", v)
		}
	case []string:
		for i, e := range v {
			if strings.ContainsRune(e, 0) {
				return fmt.Sprintf("item %d must not hold a NUL byte, as %q does", i+1, e)
			}
		}
	}
	return ""
}

// both passes when a and b do.
func both(a, b func(any) string) func(any) string {
	return func(v any) string {
		if msg := a(v); msg != "" {
			return msg
		}
		return b(v)
	}
}

// portList checks container.ports: every entry parses, and no two publish the
// same address and port.
func portList(v any) string {
	seen := map[string]string{}
	for _, e := range v.([]string) {
		p, err := ParsePort(e)
		if err != nil {
			return err.Error()
		}
		at := fmt.Sprintf("%s/%s", netip.AddrPortFrom(p.IP, p.Host), p.Proto)
		if prev, ok := seen[at]; ok {
			return fmt.Sprintf("%q and %q both publish %s", prev, e, at)
		}
		seen[at] = e
	}
	return ""
}

// volumeList checks container.volumes: every entry parses, and no two mount
// at the same place.
func volumeList(v any) string {
	seen := map[string]string{}
	for _, e := range v.([]string) {
		_, dst, _, err := parseVolume(e)
		if err != nil {
			return err.Error()
		}
		dst = path.Clean(dst)
		if prev, ok := seen[dst]; ok {
			return fmt.Sprintf("%q and %q both mount at %s", prev, e, dst)
		}
		seen[dst] = e
	}
	return ""
}

func platformOrEmpty(v any) string {
	if s := v.(string); s != "" {
		if _, err := parsePlatform(s); err != nil {
			return "must be empty (the engine's platform) or " + platformSyntax + ", not " + strconv.Quote(s)
		}
	}
	return ""
}

// lower normalises a value accepted whatever its case.
func lower(v any) any { return strings.ToLower(v.(string)) }

func userOrEmpty(v any) string {
	if s := v.(string); s != "" && !isUser(s) {
		return fmt.Sprintf("must be empty (your UID:GID), a user name or UID, or USER:GROUP with a group name or GID, without spaces, not %q", s)
	}
	return ""
}

func networkOrEmpty(v any) string {
	if s := v.(string); s != "" && !isNetwork(s) {
		return fmt.Sprintf("must be empty (the engine's default network), a network name (letters, digits, _ . -) or container:NAME, not %q", s)
	}
	return ""
}

func imageRefs(digest bool) func(any) string {
	return func(v any) string {
		switch s := v.(type) {
		case string:
			if !isImageRef(s, digest) {
				return fmt.Sprintf("must be an image reference such as alpine:3.20 or registry.example.com/team/app@sha256:…, with a lower-case name, not %q", s)
			}
		case []string:
			for _, e := range s {
				if !isImageRef(e, digest) {
					return fmt.Sprintf("entries must be image names with an optional tag, such as app:dev or registry.example.com/team/app, with a lower-case name, not %q", e)
				}
			}
		}
		return ""
	}
}

func stageOrEmpty(v any) string {
	if s := v.(string); s != "" && !reStage.MatchString(s) {
		return fmt.Sprintf("must be empty (the last stage) or the name of a stage of the Dockerfile (a letter, then letters, digits, _ . -), not %q", s)
	}
	return ""
}

func serviceName(v any) string {
	for _, s := range strings.Split(v.(string), ",") {
		if !reService.MatchString(strings.TrimSpace(s)) {
			return fmt.Sprintf("must be a compose service name (letters, digits, _ . -), or several separated by commas, not %q", v)
		}
	}
	return ""
}

func packagePath(v any) string {
	if s := v.(string); strings.HasPrefix(s, "-") {
		return fmt.Sprintf("must be a package such as . or ./cmd/api, not %q, which go build would take for a flag", s)
	}
	return ""
}

func commandLine(v any) string {
	if l := v.([]string); len(l) > 0 && strings.TrimSpace(l[0]) == "" {
		return fmt.Sprintf("must be empty (go build) or start with the program to run, not an empty word: %q", l)
	}
	return ""
}

func nonEmptyEntries(v any) string {
	for i, e := range v.([]string) {
		if strings.TrimSpace(e) == "" {
			return fmt.Sprintf("item %d is empty", i+1)
		}
	}
	return ""
}

// globList checks watch.include and watch.exclude as the watcher compiles them.
func globList(v any) string {
	for _, p := range v.([]string) {
		if _, err := path.Match(strings.ReplaceAll(p, "**", "*"), ""); err != nil {
			return fmt.Sprintf("entries must be globs such as **/*.go or web/**, not %q: %v", p, err)
		}
		if _, err := patternmatcher.New([]string{filepath.FromSlash(p)}); err != nil {
			return fmt.Sprintf("entries must be globs such as **/*.go or web/**, not %q: %v", p, err)
		}
	}
	return ""
}

// readyOrEmpty checks run.ready: tcp:PORT, tcp:HOST:PORT or an http:// URL.
func readyOrEmpty(v any) string {
	s := v.(string)
	const want = "must be tcp:PORT, tcp:HOST:PORT or an http:// URL such as http://127.0.0.1:8080/healthz"
	switch {
	case s == "":
		return ""
	case strings.HasPrefix(s, "tcp:"):
		addr := strings.TrimPrefix(s, "tcp:")
		if !strings.Contains(addr, ":") {
			addr = "127.0.0.1:" + addr
		}
		_, port, err := net.SplitHostPort(addr)
		if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 1 || n > 65535 {
			return fmt.Sprintf("%s, not %q", want, s)
		}
		return ""
	case strings.HasPrefix(s, "http://"):
		if u, err := url.Parse(s); err != nil || u.Host == "" {
			return fmt.Sprintf("%s, not %q", want, s)
		}
		return ""
	}
	return fmt.Sprintf("%s, not %q", want, s)
}

// parallelBuilds checks build.parallel: a number from 0 to 64.
func parallelBuilds(v any) string {
	if n, err := strconv.Atoi(v.(string)); err != nil || n < 0 || n > 64 {
		return fmt.Sprintf("must be a number from 1 to 64, or 0 for one build for each CPU, not %q", v)
	}
	return ""
}

// addrOrEmpty checks an address: HOST:PORT, or a bare PORT (on 127.0.0.1).
func addrOrEmpty(v any) string {
	s := v.(string)
	if s == "" {
		return ""
	}
	_, port, err := net.SplitHostPort(Addr(s))
	if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 0 || n > 65535 {
		return fmt.Sprintf("must be HOST:PORT or a port, such as 127.0.0.1:3000 or 3000, not %q", s)
	}
	return ""
}

// fixedAddr checks an address with a fixed port: HOST:PORT or a port, not
// 0, which would move with every version.
func fixedAddr(v any) string {
	s := v.(string)
	if msg := addrOrEmpty(s); msg != "" {
		return msg
	}
	if _, port, _ := net.SplitHostPort(Addr(s)); port == "0" {
		return fmt.Sprintf("must have a fixed port for the editor to attach to again after each swap, such as 127.0.0.1:2345, not %q", s)
	}
	return ""
}

// pathOrEmpty checks a URL path: it starts with /.
func pathOrEmpty(v any) string {
	s := v.(string)
	if s == "" || (strings.HasPrefix(s, "/") && !strings.ContainsAny(s, " \t\n")) {
		return ""
	}
	return fmt.Sprintf("must be a path of the app starting with /, such as /healthz, not %q", s)
}

// Addr makes a bare port an address on 127.0.0.1: 3000 → 127.0.0.1:3000.
func Addr(s string) string {
	if _, err := strconv.Atoi(s); err == nil {
		return "127.0.0.1:" + s
	}
	return s
}

var reDNSLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// dnsLabelOrEmpty checks kube.namespace and kube.container: Kubernetes
// names them with a DNS label (RFC 1123).
func dnsLabelOrEmpty(v any) string {
	if s := v.(string); s != "" && !reDNSLabel.MatchString(s) {
		return fmt.Sprintf("must be a Kubernetes name (lower-case letters, digits and -, at most 63, starting and ending with a letter or digit), not %q", s)
	}
	return ""
}

var reDNSSubdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// dnsSubdomainOrEmpty checks kube.deployment: a Deployment's name is a
// DNS subdomain (RFC 1123).
func dnsSubdomainOrEmpty(v any) string {
	if s := v.(string); s != "" && (len(s) > 253 || !reDNSSubdomain.MatchString(s)) {
		return fmt.Sprintf("must be a Deployment's name (lower-case letters, digits, - and ., at most 253, starting and ending with a letter or digit), not %q", s)
	}
	return ""
}
