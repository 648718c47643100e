package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestParsePort(t *testing.T) {
	lo := defaultPortIP
	for _, tc := range []struct {
		in   string
		want Port
	}{
		{"8080", Port{lo, 8080, 8080, "tcp"}},
		{"1", Port{lo, 1, 1, "tcp"}},
		{"65535/udp", Port{lo, 65535, 65535, "udp"}},
		{"080", Port{lo, 80, 80, "tcp"}},
		{"9000:8080", Port{lo, 9000, 8080, "tcp"}},
		{"9000:8080/tcp", Port{lo, 9000, 8080, "tcp"}},
		{"0.0.0.0:9000:8080/udp", Port{netip.MustParseAddr("0.0.0.0"), 9000, 8080, "udp"}},
		{"192.168.1.2:80:80", Port{netip.MustParseAddr("192.168.1.2"), 80, 80, "tcp"}},
		{"[::1]:8080:80", Port{netip.MustParseAddr("::1"), 8080, 80, "tcp"}},
		{"[::]:53:53/udp", Port{netip.MustParseAddr("::"), 53, 53, "udp"}},
		{"[::ffff:1.2.3.4]:80:80", Port{netip.MustParseAddr("::ffff:1.2.3.4"), 80, 80, "tcp"}},
	} {
		got, err := ParsePort(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParsePort(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
		if back, err := ParsePort(got.String()); err != nil || back != got {
			t.Errorf("ParsePort(%q.String() = %q) = %v, %v", tc.in, got.String(), back, err)
		}
	}
	for _, tc := range []struct{ in, why string }{
		{"", "it is empty"},
		{"[::1]", "it has an IP address but no :HOST:CONTAINER after it"},
		{"[::1", "its IPv6 address has no closing ]"},
		{"[::1]:", "it has an IP address but no :HOST:CONTAINER after it"},
		{"[::1]:80", "it has one port after its IP address, not HOST:CONTAINER"},
		{"[::1]:80:80:80", "it has 3 ports after its IP address"},
		{"[::1]80:80", "it has an IP address but no :HOST:CONTAINER after it"},
		{"[1.2.3.4]:80:80", `"1.2.3.4" in brackets is not an IPv6 address (an IPv4 address goes without brackets)`},
		{"[fe80::1%eth0]:80:80", `its IPv6 address "fe80::1%eth0" has a zone`},
		{"[]:80:80", `"" in brackets is not an IPv6 address`},
		{":80", `its host port "" is not a number from 1 to 65535`},
		{"80:", `its container port "" is not a number from 1 to 65535`},
		{":", `its host port ""`},
		{"1.2.3.4:80:80/sctp", `its protocol "sctp" is not tcp or udp`},
		{"80/tcp/udp", `its protocol "tcp/udp" is not tcp or udp`},
		{"80/TCP", `its protocol "TCP" is not tcp or udp (lower-case)`},
		{"80/", `its protocol "" is not tcp or udp`},
		{"0", `its port "0" is not a number from 1 to 65535`},
		{"99999", `its port "99999" is not a number from 1 to 65535`},
		{"65536", `its port "65536"`},
		{"000000080", `its port "000000080"`},
		{"+80", `its port "+80"`},
		{" 80", `its port " 80"`},
		{"-1", `its port "-1"`},
		{"http", `its port "http"`},
		{"8000-8010", `its port "8000-8010"`},
		{"a:b:c:d", "it has 4 parts separated by colons, at most 3 (an IPv6 address goes in brackets, as in [::1]:8080:80)"},
		{"::1:80:80", "it has 5 parts separated by colons"},
		{"localhost:80:80", `its IP "localhost" is not an IPv4 address`},
		{"1.2.3.4:80", `its host port "1.2.3.4" is not a number from 1 to 65535 (an IP address needs IP:HOST:CONTAINER)`},
		{"1.2.3.4::80", `its host port ""`},
		{"1.2.3.4:0:80", `its host port "0"`},
	} {
		_, err := ParsePort(tc.in)
		want := strconv.Quote(tc.in) + " is not " + portSyntax + ": "
		if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("ParsePort(%q) = %v\nwant %q ... %q", tc.in, err, want, tc.why)
		}
	}
}

func TestParseVolume(t *testing.T) {
	for _, tc := range []struct{ in, src, dst, opts string }{
		{"/srv/data:/data", "/srv/data", "/data", ""},
		{"/srv/data:/data:ro", "/srv/data", "/data", "ro"},
		{"cache:/root/.cache", "cache", "/root/.cache", ""},
		{"my_vol.1:/v:rw,Z,rshared,nocopy,cached", "my_vol.1", "/v", "rw,Z,rshared,nocopy,cached"},
		{`C:\x:/y`, `C:\x`, "/y", ""},
		{`C:\Users\me\src:/src:ro`, `C:\Users\me\src`, "/src", "ro"},
		{`d:/work:/work`, `d:/work`, "/work", ""},
		{`\\server\share:/mnt`, `\\server\share`, "/mnt", ""},
		{"/a:/devrunner", "/a", "/devrunner", ""},
		{"./data:/data", "./data", "/data", ""},
		{"../shared:/shared:ro", "../shared", "/shared", "ro"},
		{".:/src", ".", "/src", ""},
	} {
		src, dst, opts, err := parseVolume(tc.in)
		if err != nil || src != tc.src || dst != tc.dst || opts != tc.opts {
			t.Errorf("parseVolume(%q) = %q, %q, %q, %v; want %q, %q, %q", tc.in, src, dst, opts, err, tc.src, tc.dst, tc.opts)
		}
	}
	for _, tc := range []struct{ in, why string }{
		{"", "it has no :DST"},
		{"/srv/data", "it has no :DST"},
		{`C:\x`, "it has no :DST"},
		{":/data", "its SRC is empty"},
		{"/srv:", "its DST is empty"},
		{"/srv:data", `its DST "data" is not an absolute path`},
		{`/srv:C:\data`, `its DST "C" is not an absolute path`},
		{"data/x:/data", `its SRC "data/x" is neither an absolute path nor a volume name`},
		{"~/data:/data", `its SRC "~/data" is neither`},
		{"data dir:/data", `its SRC "data dir" is neither`},
		{"/a:/", "it mounts over the container's /"},
		{"/a://", "it mounts over the container's /"},
		{"/a:/devrun", "it mounts at /devrun, where devrun mounts its binaries"},
		{"/a:/devrun/x", "it mounts at /devrun/x, where devrun"},
		{"/a:/devrun/", "it mounts at /devrun/, where devrun"},
		{"/a:/b:rx", `its option "rx" is not one of ro, rw, z, Z`},
		{"/a:/b:", `its option "" is not one of`},
		{"/a:/b:ro,", `its option "" is not one of`},
		{"/a:/b:RO", `its option "RO" is not one of`},
		{"/a:/b:ro,rw", `its options "ro" and "rw" are of one kind`},
		{"/a:/b:z,Z", `its options "z" and "Z" are of one kind`},
		{"/a:/b:nocopy", "its option nocopy is for a volume, not a host path"},
		{"/a:/b:c:d", "it has 4 parts separated by colons, not 2 or 3"},
		{"C:x:/y", `its SRC "C" is neither an absolute path nor a volume name; a Windows path needs a \ or / after its drive letter, and in a flag or a DEVRUN_ variable quotes, as in 'C:\dir:/dst'`},
	} {
		_, _, _, err := parseVolume(tc.in)
		want := strconv.Quote(tc.in) + " is not " + volumeSyntax + ": "
		if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("parseVolume(%q) = %v\nwant %q ... %q", tc.in, err, want, tc.why)
		}
	}
}

func TestParsePlatform(t *testing.T) {
	for in, want := range map[string]string{
		"linux/amd64": "linux/amd64", "linux/arm64/v8": "linux/arm64/v8", "Linux/AMD64": "linux/amd64",
		"linux/arm/v7": "linux/arm/v7", "windows/amd64": "windows/amd64", "linux/ppc64le": "linux/ppc64le", "linux/x86_64": "linux/x86_64",
	} {
		if got, err := parsePlatform(in); err != nil || got != want {
			t.Errorf("parsePlatform(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "linux", "linux/", "/amd64", "/", "linux//v8", "linux/amd64/", "linux/arm64/v8/x", "linux/amd 64", " linux/amd64", "linux/amd64,linux/arm64", "linux\\amd64", "linux/amd64\n"} {
		if got, err := parsePlatform(in); err == nil || !strings.Contains(err.Error(), strconv.Quote(in)+" is not "+platformSyntax) {
			t.Errorf("parsePlatform(%q) = %q, %v; want an error", in, got, err)
		}
	}
}

func TestImageRefs(t *testing.T) {
	for _, s := range []string{"alpine", "alpine:3.20", "library/alpine:3.20", "docker.io/library/alpine:latest", "localhost:5000/team/app:dev-1",
		"registry.example.com/a/b/c", "[::1]:5000/app", "my_app__x", "a-b", "app:V1.0_x"} {
		if !isImageRef(s, false) || !isImageRef(s, true) {
			t.Errorf("isImageRef(%q) = false", s)
		}
	}
	digested := "alpine@sha256:" + strings.Repeat("ab", 32)
	if !isImageRef(digested, true) || isImageRef(digested, false) {
		t.Errorf("a digest is for container.image only: %q", digested)
	}
	for _, s := range []string{"", "Alpine", "alpine:", ":3.20", "alpine 3.20", "alpine:3.20:x", "-app", "app-", "a//b", "/app", "app:" + strings.Repeat("x", 129), strings.Repeat("a", 256), "app@sha256:short"} {
		if isImageRef(s, true) {
			t.Errorf("isImageRef(%q) = true", s)
		}
	}
}

func TestUsersAndNetworks(t *testing.T) {
	for _, s := range []string{"root", "1000", "1000:1000", "app:staff", "www-data", "_svc", "0:0", "4294967294", "host$"} {
		if !isUser(s) {
			t.Errorf("isUser(%q) = false", s)
		}
	}
	for _, s := range []string{"", ":", "1000:", ":1000", "a b", "1000 :1000", "a:b:c", "4294967296", "-x", "1x", "me@host"} {
		if isUser(s) {
			t.Errorf("isUser(%q) = true", s)
		}
	}
	for _, s := range []string{"host", "none", "bridge", "proj_default", "my-net.1", "container:app", "container:0123abc"} {
		if !isNetwork(s) {
			t.Errorf("isNetwork(%q) = false", s)
		}
	}
	for _, s := range []string{"", "my net", " host", "container:", "-net", "a/b", "container:a b"} {
		if isNetwork(s) {
			t.Errorf("isNetwork(%q) = true", s)
		}
	}
}

// TestEveryCheckNamesKeyAndSource gives each key a bad value the way a user
// would and reads the whole message.
func TestEveryCheckNamesKeyAndSource(t *testing.T) {
	portErr := func(in, why string) string {
		return `container.ports (from flag --container.ports): ` + strconv.Quote(in) + ` is not PORT, HOST:CONTAINER or IP:HOST:CONTAINER ([IPv6] in brackets), with ports from 1 to 65535 and an optional /tcp or /udp: ` + why
	}
	for _, tc := range []struct {
		name, yaml string
		args       []string
		want       string
	}{
		{name: "ipv6 alone", args: []string{"--container.ports", "[::1]"}, want: portErr("[::1]", "it has an IP address but no :HOST:CONTAINER after it")},
		{name: "ipv6 unclosed", args: []string{"--container.ports", "[::1"}, want: portErr("[::1", "its IPv6 address has no closing ]")},
		{name: "ipv6 colon", args: []string{"--container.ports", "[::1]:"}, want: portErr("[::1]:", "it has an IP address but no :HOST:CONTAINER after it")},
		{name: "ipv6 one port", args: []string{"--container.ports", "[::1]:80"}, want: portErr("[::1]:80", "it has one port after its IP address, not HOST:CONTAINER")},
		{name: "no host port", args: []string{"--container.ports", ":80"}, want: portErr(":80", `its host port "" is not a number from 1 to 65535`)},
		{name: "no container port", args: []string{"--container.ports", "80:"}, want: portErr("80:", `its container port "" is not a number from 1 to 65535`)},
		{name: "sctp", args: []string{"--container.ports", "1.2.3.4:80:80/sctp"}, want: portErr("1.2.3.4:80:80/sctp", `its protocol "sctp" is not tcp or udp (lower-case)`)},
		{name: "two protocols", args: []string{"--container.ports", "80/tcp/udp"}, want: portErr("80/tcp/udp", `its protocol "tcp/udp" is not tcp or udp (lower-case)`)},
		{name: "port 0", args: []string{"--container.ports", "0"}, want: portErr("0", `its port "0" is not a number from 1 to 65535`)},
		{name: "port too big", args: []string{"--container.ports", "99999"}, want: portErr("99999", `its port "99999" is not a number from 1 to 65535`)},
		{name: "four parts", args: []string{"--container.ports", "a:b:c:d"}, want: portErr("a:b:c:d", "it has 4 parts separated by colons, at most 3 (an IPv6 address goes in brackets, as in [::1]:8080:80)")},
		{name: "second entry", args: []string{"--container.ports", "8080 80:x"}, want: portErr("80:x", `its container port "x"`)},
		{name: "same port twice", yaml: "container:\n  ports: [\"8080\", \"8080:80\"]\n", want: `container.ports (from devrun.yaml): "8080" and "8080:80" both publish 127.0.0.1:8080/tcp`},
		{name: "volume relative", args: []string{"--container.volumes", "data/x:/data"}, want: `container.volumes (from flag --container.volumes): "data/x:/data" is not SRC:DST or SRC:DST:OPTIONS, with SRC an absolute host path (C:\dir on Windows), a path relative to the project directory (./data) or a volume name and DST an absolute path in the container: its SRC "data/x" is neither an absolute path nor a volume name`},
		{name: "volume dst", yaml: "container:\n  volumes: ['C:\\x:y']\n", want: `container.volumes (from devrun.yaml): "C:\\x:y" is not SRC:DST`},
		{name: "volume windows flag", args: []string{"--container.volumes", `C:\x:/y`}, want: `container.volumes (from flag --container.volumes): "C:x:/y" is not SRC:DST`},
		{name: "volume option", args: []string{"--container.volumes", "/a:/b:ro,rw"}, want: `its options "ro" and "rw" are of one kind: give one of them`},
		{name: "volume twice", args: []string{"--container.volumes", "/a:/b /c:/b/"}, want: `container.volumes (from flag --container.volumes): "/a:/b" and "/c:/b/" both mount at /b`},
		{name: "env empty name", args: []string{"--run.env", "=x"}, want: `run.env (from flag --run.env): entries must look like KEY=value, not "=x"`},
		{name: "env leading space", yaml: "container:\n  env: [' A=1']\n", want: `container.env (from devrun.yaml): entries must look like KEY=value, not " A=1"`},
		{name: "env newline in name", yaml: "build:\n  env: [\"A\\n=1\"]\n", want: `build.env (from devrun.yaml): entries must look like KEY=value, not "A\n=1"`},
		{name: "build arg", args: []string{"--image.args", "VERSION"}, want: `image.args (from flag --image.args): entries must look like KEY=value, not "VERSION"`},
		{name: "platform os only", args: []string{"--image.platform", "linux"}, want: `image.platform (from flag --image.platform): must be empty (the engine's platform) or os/arch or os/arch/variant, such as linux/amd64 or linux/arm64/v8 (case does not matter), not "linux"`},
		{name: "platform no arch", args: []string{"--image.platform", "linux/"}, want: `image.platform (from flag --image.platform): must be empty`},
		{name: "platform no os", yaml: "image:\n  platform: /amd64\n", want: `image.platform (from devrun.yaml): must be empty (the engine's platform) or os/arch`},
		{name: "platform list", args: []string{"--image.platform", "linux/amd64,linux/arm64"}, want: `not "linux/amd64,linux/arm64"`},
		{name: "user space", args: []string{"--container.user", "a b"}, want: `container.user (from flag --container.user): must be empty (your UID:GID), a user name or UID, or USER:GROUP with a group name or GID, without spaces, not "a b"`},
		{name: "user no group", args: []string{"--container.user", "1000:"}, want: `container.user (from flag --container.user): must be empty`},
		{name: "network space", args: []string{"--container.network", "my net"}, want: `container.network (from flag --container.network): must be empty (the engine's default network), a network name (letters, digits, _ . -) or container:NAME, not "my net"`},
		{name: "image upper case", args: []string{"--container.image", "Alpine:3.20"}, want: `container.image (from flag --container.image): must be an image reference such as alpine:3.20`},
		{name: "image empty", args: []string{"--container.image", ""}, want: `container.image (from flag --container.image): must not be empty`},
		{name: "image tag", args: []string{"--image.tags", "app:v1 bad:tag:x"}, want: `image.tags (from flag --image.tags): entries must be image names with an optional tag, such as app:dev or registry.example.com/team/app, with a lower-case name, not "bad:tag:x"`},
		{name: "target", args: []string{"--image.target", "build stage"}, want: `image.target (from flag --image.target): must be empty (the last stage) or the name of a stage`},
		{name: "service", args: []string{"--compose.service", "my app"}, want: `compose.service (from flag --compose.service): must be a compose service name (letters, digits, _ . -), or several separated by commas, not "my app"`},
		{name: "service empty", args: []string{"--compose.service", ""}, want: `compose.service (from flag --compose.service): must be a compose service name`},
		{name: "image port", args: []string{"--image.port", "+80"}, want: `image.port (from flag --image.port): must be a port number from 1 to 65535, not "+80"`},
		{name: "package flag", args: []string{"--build.package", "-race"}, want: `build.package (from flag --build.package): must be a package such as . or ./cmd/api, not "-race", which go build would take for a flag`},
		{name: "command empty word", yaml: "build:\n  command: ['', x]\n", want: `build.command (from devrun.yaml): must be empty (go build) or start with the program to run`},
		{name: "watch path empty", yaml: "watch:\n  paths: [., '']\n", want: `watch.paths (from devrun.yaml): item 2 is empty`},
		{name: "glob", args: []string{"--watch.exclude", "web/[x"}, want: `watch.exclude (from flag --watch.exclude): entries must be globs such as **/*.go or web/**, not "web/[x": syntax error in pattern`},
		{name: "include glob", yaml: "watch:\n  include: ['a\\']\n", want: `watch.include (from devrun.yaml): entries must be globs such as **/*.go or web/**, not "a\\": syntax error in pattern`},
		{name: "nul in args", yaml: "run:\n  args: [ok, \"a\\0b\"]\n", want: `run.args (from devrun.yaml): item 2 must not hold a NUL byte, as "a\x00b" does`},
		{name: "nul in string", yaml: "build:\n  ldflags: \"-s\\0\"\n", want: `build.ldflags (from devrun.yaml): must not hold a NUL byte`},
		{name: "output empty", args: []string{"--build.output", ""}, want: "build.output (from flag --build.output): must not be empty"},
		{name: "output dot", args: []string{"--build.output", "."}, want: `build.output (from flag --build.output): "." is the project directory itself (`},
		{name: "output dot slash", yaml: "build:\n  output: ./\n", want: `build.output (from devrun.yaml): "./" is the project directory itself`},
		{name: "output parent", args: []string{"--build.output", ".."}, want: `build.output (from flag --build.output): ".." is `},
		{name: "output root", args: []string{"--build.output", "/"}, want: `, above the project directory `},
		{name: "output via sub", args: []string{"--build.output", "sub/.."}, want: `"sub/.." is the project directory itself`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.yaml, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v\nwant an error containing %q", err, tc.want)
			}
		})
	}
}

func TestGoodValuesPass(t *testing.T) {
	c, err := load(t, "container:\n  volumes: ['C:\\src:/src:ro', 'cache:/root/.cache']\n  ports: ['[::1]:8080:80', '8081:80/udp', '0.0.0.0:9000:9000']\n",
		"--image.platform", "Linux/ARM64/v8", "--container.user", "1000:1000", "--container.network", "container:db",
		"--image.tags", "registry.example.com:5000/team/app:dev app", "--container.image", "alpine@sha256:"+strings.Repeat("0", 64),
		"--build.output", "../elsewhere/bin", "--build.command", "make OUT={out}", "--watch.include", "**/*.go web/**", "--image.port", "8080",
		"--run.env", "A=1 B= C==", "--image.target", "build-stage.1", "--compose.service", "api_1")
	if err != nil {
		t.Fatal(err)
	}
	if c.Image.Platform != "linux/arm64/v8" {
		t.Errorf("image.platform = %q, want it in lower case", c.Image.Platform)
	}
	if c, err := load(t, "", "--container.volumes", `'C:\x:/y' "D:\\w:/w:ro"`); err != nil || len(c.Container.Volumes) != 2 || c.Container.Volumes[0] != `C:\x:/y` || c.Container.Volumes[1] != `D:\w:/w:ro` {
		t.Errorf("Windows paths in a flag, quoted: %v", err)
	}
	abs := filepath.Join(t.TempDir(), "out")
	if _, err := load(t, "", "--build.output", abs); err != nil {
		t.Errorf("an absolute build.output outside the project: %v", err)
	}
}

func TestOutputDirAgainstProjectDir(t *testing.T) {
	root := t.TempDir()
	proj := filepath.Join(root, "a", "proj")
	for _, tc := range []struct {
		out string
		bad bool
	}{
		{".devrun/bin", false}, {"bin", false}, {"../bin", false}, {filepath.Join(root, "out"), false}, {filepath.Join(proj, "bin"), false},
		{".", true}, {"./", true}, {proj, true}, {proj + string(filepath.Separator), true}, {"..", true}, {"../..", true}, {root, true}, {"bin/../..", true},
	} {
		if msg := outputDir(tc.out, proj); (msg != "") != tc.bad {
			t.Errorf("outputDir(%q, %q) = %q; want bad %v", tc.out, proj, msg, tc.bad)
		}
	}
	// A symbolic link to the project, or above it, is the project, or above it.
	if err := os.MkdirAll(proj, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{proj, root} {
		link := filepath.Join(t.TempDir(), "link")
		if err := os.Symlink(target, link); err != nil {
			t.Skip("no symbolic links here:", err)
		}
		if msg := outputDir(link, proj); msg == "" {
			t.Errorf("outputDir(%q → %q, %q) accepted it", link, target, proj)
		}
	}
	if err := os.Symlink(filepath.Join(root, "real"), filepath.Join(proj, "bin")); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(root, "real"), 0o755)
	if msg := outputDir("bin", proj); msg != "" {
		t.Errorf("a link in the project to a directory outside: %s", msg)
	}
	// The project directory may be given relative to the working directory.
	wd, _ := os.Getwd()
	if msg := outputDir(wd, "."); msg == "" {
		t.Errorf("outputDir(%q, \".\") accepted the working directory", wd)
	}
}

// FuzzPorts feeds arbitrary entries to ParsePort: it never panics, a
// rejection quotes the entry and says what is allowed, and what it accepts
// is in range and reads back the same from its String.
func FuzzPorts(f *testing.F) {
	for _, s := range []string{
		"8080", "9000:8080", "127.0.0.1:9000:8080/udp", "[::1]:9000:8080", "[::1]", "[::1", "[::1]:", "[::1]:80", ":80", "80:",
		"1.2.3.4:80:80/sctp", "80/tcp/udp", "0", "99999", "a:b:c:d", "[", "]", "[]:", "/", ":", "[fe80::1%eth0]:1:1", "[::ffff:1.2.3.4]:1:1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePort(s)
		if err != nil {
			if want := strconv.Quote(s) + " is not " + portSyntax + ": "; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("ParsePort(%q) = %v: it does not start with %q", s, err, want)
			}
			if msg := portList([]string{"80", s}); msg != err.Error() {
				t.Errorf("portList gives %q, ParsePort %q", msg, err)
			}
			return
		}
		if p.Host == 0 || p.Container == 0 || p.Proto != "tcp" && p.Proto != "udp" || !p.IP.IsValid() || p.IP.Zone() != "" {
			t.Errorf("ParsePort(%q) = %#v", s, p)
		}
		if back, err := ParsePort(p.String()); err != nil || back != p {
			t.Errorf("ParsePort(%q) = %v, whose String %q reads back as %v, %v", s, p, p.String(), back, err)
		}
	})
}

// FuzzValues gives one key an arbitrary value, as a flag: Load never panics,
// and every line of its error names that key and the flag.
func FuzzValues(f *testing.F) {
	seeds := map[string][]string{
		"container.ports":   {"[::1]", "[::1", "[::1]:", "[::1]:80", ":80", "80:", "1.2.3.4:80:80/sctp", "80/tcp/udp", "0", "99999", "a:b:c:d", "8080 8080"},
		"container.volumes": {`C:\x:/y`, "./a:/b", "/a:/", "/a:/b:ro,rw", "a", "/a:/b /c:/b"},
		"image.platform":    {"linux", "linux/", "/amd64", "Linux/AMD64", "linux/arm64/v8", "linux/arm64/v8/"},
		"run.env":           {"=x", " A=1", "A=1", `"A B=1"`},
		"container.user":    {"a b", "1000:", "1000:1000"},
		"container.network": {"my net", "container:"},
		"build.output":      {".", "..", "/", "", "./x/..", "'a b'"},
		"watch.debounce":    {"1m", "-1s", "x"},
		"watch.include":     {"[", `\`},
		"image.tags":        {"A", "a:b:c"},
		"build.command":     {"''", `"unclosed`},
	}
	index := map[string]int{}
	for i, k := range keys {
		index[k.name] = i
	}
	for name, values := range seeds {
		for _, v := range values {
			f.Add(uint(index[name]), v)
		}
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, i uint, value string) {
		k := keys[i%uint(len(keys))]
		fs := pflag.NewFlagSet("fuzz", pflag.ContinueOnError)
		AddFlags(fs)
		if err := fs.Set(k.name, value); err != nil {
			t.Fatal(err)
		}
		_, err := Load(Options{Dir: dir, Flags: fs})
		if err == nil {
			return
		}
		want := k.name + " (from flag --" + k.name + ")"
		for _, line := range strings.Split(err.Error(), "\n") {
			if !strings.Contains(line, want) {
				t.Errorf("--%s %q: an error line does not name %s: %q", k.name, value, want, line)
			}
		}
	})
}

// A SRC relative to the project directory is made absolute against it, as
// compose does; absolute paths and volume names stay as they are.
func TestResolveVolume(t *testing.T) {
	dir := filepath.FromSlash("/home/me/app")
	for in, want := range map[string]string{
		"./data:/data":       filepath.Join(dir, "data") + ":/data",
		"../shared:/s:ro":    filepath.Join(dir, "..", "shared") + ":/s:ro",
		".:/src":             dir + ":/src",
		"/srv/data:/data":    "/srv/data:/data",
		"cache:/root/.cache": "cache:/root/.cache",
	} {
		if got := ResolveVolume(in, dir); got != want {
			t.Errorf("ResolveVolume(%q) = %q, want %q", in, got, want)
		}
	}
}
