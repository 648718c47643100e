package config

import (
	"errors"
	"fmt"
	"net/netip"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// This file holds the parsers of values that have a syntax of their own:
// published ports, bind mounts, platforms, image references, users and
// networks. They never panic, and their errors quote the offending value.

// A Port is one entry of container.ports.
type Port struct {
	IP        netip.Addr // the host address it is published on
	Host      uint16     // the port on the host
	Container uint16     // the port in the container
	Proto     string     // "tcp" or "udp"
}

// defaultPortIP is where a port is published when its entry names no IP.
var defaultPortIP = netip.AddrFrom4([4]byte{127, 0, 0, 1})

// portSyntax says what ParsePort accepts.
const portSyntax = "PORT, HOST:CONTAINER or IP:HOST:CONTAINER ([IPv6] in brackets), with ports from 1 to 65535 and an optional /tcp or /udp"

// ParsePort reads a published port: PORT, HOST:CONTAINER, IP:HOST:CONTAINER
// or [IPv6]:HOST:CONTAINER, each with an optional /tcp or /udp (tcp when
// none is given). Without an IP the port is published on defaultPortIP only.
// Its error quotes s, says what is allowed and what is wrong with s.
func ParsePort(s string) (Port, error) {
	p, err := parsePort(s)
	if err != nil {
		return Port{}, fmt.Errorf("%q is not %s: %w", s, portSyntax, err)
	}
	return p, nil
}

const ipv6Hint = "an IPv6 address goes in brackets, as in [::1]:8080:80"

func parsePort(s string) (Port, error) {
	p := Port{IP: defaultPortIP, Proto: "tcp"}
	if s == "" {
		return Port{}, errors.New("it is empty")
	}
	spec, proto, hasProto := strings.Cut(s, "/")
	if hasProto {
		if proto != "tcp" && proto != "udp" {
			return Port{}, fmt.Errorf("its protocol %q is not tcp or udp (lower-case)", proto)
		}
		p.Proto = proto
	}
	var ports []string
	if rest, ok := strings.CutPrefix(spec, "["); ok {
		addr, after, ok := strings.Cut(rest, "]")
		if !ok {
			return Port{}, errors.New("its IPv6 address has no closing ]")
		}
		ip, err := netip.ParseAddr(addr)
		if err != nil || !ip.Is6() {
			return Port{}, fmt.Errorf("%q in brackets is not an IPv6 address (an IPv4 address goes without brackets)", addr)
		}
		if ip.Zone() != "" {
			return Port{}, fmt.Errorf("its IPv6 address %q has a zone, which ports cannot be published on", addr)
		}
		after, ok = strings.CutPrefix(after, ":")
		if !ok || after == "" {
			return Port{}, errors.New("it has an IP address but no :HOST:CONTAINER after it")
		}
		p.IP, ports = ip, strings.Split(after, ":")
		if len(ports) == 1 {
			return Port{}, errors.New("it has one port after its IP address, not HOST:CONTAINER")
		}
		if len(ports) != 2 {
			return Port{}, fmt.Errorf("it has %d ports after its IP address, not HOST:CONTAINER", len(ports))
		}
	} else {
		parts := strings.Split(spec, ":")
		switch len(parts) {
		case 1:
			n, ok := portNumber(parts[0])
			if !ok {
				return Port{}, fmt.Errorf("its port %q is not a number from 1 to 65535", parts[0])
			}
			p.Host, p.Container = n, n
			return p, nil
		case 2:
			ports = parts
		case 3:
			ip, err := netip.ParseAddr(parts[0])
			if err != nil || !ip.Is4() {
				return Port{}, fmt.Errorf("its IP %q is not an IPv4 address (%s)", parts[0], ipv6Hint)
			}
			p.IP, ports = ip, parts[1:]
		default:
			return Port{}, fmt.Errorf("it has %d parts separated by colons, at most 3 (%s)", len(parts), ipv6Hint)
		}
	}
	for i, what := range []string{"host", "container"} {
		n, ok := portNumber(ports[i])
		if !ok {
			hint := ""
			if _, err := netip.ParseAddr(ports[i]); err == nil {
				hint = " (an IP address needs IP:HOST:CONTAINER)"
			}
			return Port{}, fmt.Errorf("its %s port %q is not a number from 1 to 65535%s", what, ports[i], hint)
		}
		if i == 0 {
			p.Host = n
		} else {
			p.Container = n
		}
	}
	return p, nil
}

// String formats p as IP:HOST:CONTAINER/PROTO, which ParsePort reads back.
func (p Port) String() string {
	ip := p.IP.String()
	if p.IP.Is6() {
		ip = "[" + ip + "]"
	}
	return fmt.Sprintf("%s:%d:%d/%s", ip, p.Host, p.Container, p.Proto)
}

// portNumber reads a port number from 1 to 65535 written in decimal digits
// only (no sign, no spaces).
func portNumber(s string) (uint16, bool) {
	if s == "" || len(s) > 5 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, false
	}
	return uint16(n), true
}

// volumeSyntax says what parseVolume accepts.
const volumeSyntax = "SRC:DST or SRC:DST:OPTIONS, with SRC an absolute host path (C:\\dir on Windows), a path relative to the project directory (./data) or a volume name and DST an absolute path in the container"

// volumeOptions are the options of a bind mount the engine knows, by group:
// at most one of each group.
var volumeOptions = map[string]string{
	"ro": "rw", "rw": "rw",
	"z": "label", "Z": "label",
	"shared": "propagation", "rshared": "propagation", "slave": "propagation", "rslave": "propagation", "private": "propagation", "rprivate": "propagation",
	"nocopy":     "copy",
	"consistent": "consistency", "cached": "consistency", "delegated": "consistency",
}

const volumeOptionList = "ro, rw, z, Z, shared, rshared, slave, rslave, private, rprivate, nocopy, consistent, cached or delegated, comma-separated, one of each kind"

var (
	reVolumeName  = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)
	reDriveLetter = regexp.MustCompile(`^[a-zA-Z]:[\\/]`)
)

// containerMount is where devrun mounts its own binaries in the container.
const containerMount = "/devrun"

// isRelative reports whether a volume's SRC is a path relative to the
// project directory: ".", "..", or one starting with ./ or ../ (or .\ and
// ..\ on Windows).
func isRelative(src string) bool {
	for _, p := range []string{"./", "../", `.\`, `..\`} {
		if strings.HasPrefix(src, p) {
			return true
		}
	}
	return src == "." || src == ".."
}

// ResolveVolume returns the bind mount v, valid for container.volumes,
// with a SRC relative to the project directory made absolute against dir.
func ResolveVolume(v, dir string) string {
	src, rest, ok := strings.Cut(v, ":")
	if !ok || !isRelative(src) {
		return v
	}
	return filepath.Join(dir, src) + ":" + rest
}

// parseVolume reads a bind mount, SRC:DST[:OPTIONS], as the engine does on
// Linux, except that a SRC may start with a Windows drive letter (C:\x:/y).
// Its error quotes s, says what is allowed and what is wrong with s.
func parseVolume(s string) (src, dst, opts string, err error) {
	src, dst, opts, err = splitVolume(s)
	if err != nil {
		return "", "", "", fmt.Errorf("%q is not %s: %w", s, volumeSyntax, err)
	}
	return src, dst, opts, nil
}

func splitVolume(s string) (src, dst, opts string, err error) {
	drive, rest := "", s
	if reDriveLetter.MatchString(s) {
		drive, rest = s[:2], s[2:]
	}
	parts := strings.Split(rest, ":")
	switch len(parts) {
	case 1:
		return "", "", "", errors.New("it has no :DST")
	case 2:
		src, dst = parts[0], parts[1]
	case 3:
		src, dst, opts = parts[0], parts[1], parts[2]
	default:
		return "", "", "", fmt.Errorf("it has %d parts separated by colons, not 2 or 3", len(parts))
	}
	src = drive + src
	switch {
	case src == "":
		return "", "", "", errors.New("its SRC is empty")
	case strings.HasPrefix(src, "/"), drive != "", strings.HasPrefix(src, `\\`):
	case isRelative(src): // ./data, as compose reads it: from the project directory
	case reVolumeName.MatchString(src):
	case len(src) == 1 && reDriveLetter.MatchString(src+":/"): // C:x:/y, a drive letter that lost its backslash
		return "", "", "", fmt.Errorf("its SRC %q is neither an absolute path nor a volume name; a Windows path needs a \\ or / after its drive letter, and in a flag or a DEVRUN_ variable quotes, as in 'C:\\dir:/dst', since a backslash there escapes the next character", src)
	default:
		return "", "", "", fmt.Errorf("its SRC %q is neither an absolute path nor a volume name (letters, digits, _ . -); a path relative to the project directory starts with ./ or ../; ~ is not resolved", src)
	}
	switch {
	case dst == "":
		return "", "", "", errors.New("its DST is empty")
	case !strings.HasPrefix(dst, "/"):
		return "", "", "", fmt.Errorf("its DST %q is not an absolute path", dst)
	case strings.Trim(dst, "/") == "":
		return "", "", "", errors.New("it mounts over the container's /")
	case path.Clean(dst) == containerMount || strings.HasPrefix(path.Clean(dst), containerMount+"/"):
		return "", "", "", fmt.Errorf("it mounts at %s, where devrun mounts its binaries", dst)
	}
	if len(parts) == 3 {
		seen := map[string]string{}
		for _, o := range strings.Split(opts, ",") {
			group, ok := volumeOptions[o]
			if !ok {
				return "", "", "", fmt.Errorf("its option %q is not one of %s", o, volumeOptionList)
			}
			if o == "nocopy" && !reVolumeName.MatchString(src) {
				return "", "", "", errors.New("its option nocopy is for a volume, not a host path")
			}
			if prev, dup := seen[group]; dup {
				return "", "", "", fmt.Errorf("its options %q and %q are of one kind: give one of them", prev, o)
			}
			seen[group] = o
		}
	}
	return src, dst, opts, nil
}

// platformSyntax says what parsePlatform accepts.
const platformSyntax = "os/arch or os/arch/variant, such as linux/amd64 or linux/arm64/v8 (case does not matter)"

var rePlatformPart = regexp.MustCompile(`^[a-z0-9_-]+$`)

// parsePlatform reads os/arch[/variant], case-insensitively, and returns it
// in lower case.
func parsePlatform(s string) (string, error) {
	lower := strings.ToLower(s)
	parts := strings.Split(lower, "/")
	if len(parts) < 2 || len(parts) > 3 {
		return "", fmt.Errorf("%q is not %s", s, platformSyntax)
	}
	for _, p := range parts {
		if !rePlatformPart.MatchString(p) {
			return "", fmt.Errorf("%q is not %s", s, platformSyntax)
		}
	}
	return lower, nil
}

// An image reference, as github.com/distribution/reference reads it.
var (
	refDomainComponent = `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])`
	refDomain          = `(?:` + refDomainComponent + `(?:\.` + refDomainComponent + `)*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?`
	refComponent       = `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
	refName            = `(?:` + refDomain + `/)?` + refComponent + `(?:/` + refComponent + `)*`
	refTag             = `[\w][\w.-]{0,127}`
	refDigest          = `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[[:xdigit:]]{32,}`
	reImageRef         = regexp.MustCompile(`^(` + refName + `)(?::` + refTag + `)?(?:@` + refDigest + `)?$`)
	reImageTag         = regexp.MustCompile(`^(` + refName + `)(?::` + refTag + `)?$`)
)

// isImageRef reports whether s is an image reference, NAME[:TAG][@DIGEST];
// without digest, only NAME[:TAG].
func isImageRef(s string, digest bool) bool {
	re := reImageTag
	if digest {
		re = reImageRef
	}
	m := re.FindStringSubmatch(s)
	return m != nil && len(m[1]) <= 255
}

var (
	reUser    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*\$?$`)
	reNetwork = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	reStage   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]*$`)
	reService = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
)

// isUser reports whether s is a user the engine can run a process as: a
// name or a numeric ID, optionally followed by :GROUP, a name or an ID.
func isUser(s string) bool {
	u, g, hasGroup := strings.Cut(s, ":")
	if !isUserPart(u) {
		return false
	}
	return !hasGroup || isUserPart(g)
}

func isUserPart(s string) bool {
	if s != "" && strings.TrimLeft(s, "0123456789") == "" {
		_, err := strconv.ParseUint(s, 10, 32)
		return err == nil
	}
	return reUser.MatchString(s)
}

// isNetwork reports whether s names a network or another container's
// (container:NAME).
func isNetwork(s string) bool {
	if name, ok := strings.CutPrefix(s, "container:"); ok {
		return reNetwork.MatchString(name)
	}
	return reNetwork.MatchString(s)
}
