package docker

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/network"
)

// TestParsePortsRejectsWithoutPanic: entries that once panicked (a slice
// index of -1 for a bracket without "]:") are errors naming the key and the
// entry.
func TestParsePortsRejectsWithoutPanic(t *testing.T) {
	for _, s := range []string{
		"[::1]", "[::1", "[::1]:", "[::1]:80", "[::1]:80:80:80", "[", "[]", "[]:80:80", ":80", "80:", "1.2.3.4:80:80/sctp",
		"80/tcp/udp", "0", "99999", "a:b:c:d", "", "/", "[::1]80:80", "[1.2.3.4]:80:80",
	} {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("parsePorts(%q) panics: %v", s, r)
				}
			}()
			_, _, err := parsePorts([]string{"8080", s})
			if err == nil || !strings.HasPrefix(err.Error(), "container.ports: ") || !strings.Contains(err.Error(), `"`+s+`"`) {
				t.Errorf("parsePorts(%q) = %v, want an error naming container.ports and the entry", s, err)
			}
		}()
	}
}

func TestParsePortsConverts(t *testing.T) {
	exposed, bindings, err := parsePorts([]string{"8080", "9000:80", "0.0.0.0:9001:80/udp", "[::1]:9002:80"})
	if err != nil {
		t.Fatal(err)
	}
	lo := netip.MustParseAddr("127.0.0.1")
	want := network.PortMap{
		network.MustParsePort("8080/tcp"): {{HostIP: lo, HostPort: "8080"}},
		network.MustParsePort("80/tcp"):   {{HostIP: lo, HostPort: "9000"}, {HostIP: netip.MustParseAddr("::1"), HostPort: "9002"}},
		network.MustParsePort("80/udp"):   {{HostIP: netip.MustParseAddr("0.0.0.0"), HostPort: "9001"}},
	}
	if len(exposed) != len(want) || len(bindings) != len(want) {
		t.Fatalf("exposed %v, bindings %v; want %v", exposed, bindings, want)
	}
	for port, b := range want {
		if _, ok := exposed[port]; !ok {
			t.Errorf("%s is not exposed", port)
		}
		if got := bindings[port]; len(got) != len(b) || got[0] != b[0] || len(b) > 1 && got[1] != b[1] {
			t.Errorf("bindings[%s] = %v, want %v", port, got, b)
		}
	}
}

func TestIsRemote(t *testing.T) {
	for host, want := range map[string]bool{
		"unix:///var/run/docker.sock":         false,
		"npipe:////./pipe/docker_engine":      false,
		"tcp://127.0.0.1:2375":                false,
		"tcp://localhost:2375":                false,
		"tcp://[::1]:2376":                    false,
		"tcp://192.168.1.5:2376":              true,
		"tcp://docker.example.com:2376":       true,
		"ssh://me@build-box":                  true,
		"https://127.0.0.1:2376":              false,
		"http://docker.example.com":           true,
		"tcp://127.0.0.1":                     false,
		"unix:///home/me/.colima/docker.sock": false,
	} {
		if got := IsRemote(host); got != want {
			t.Errorf("IsRemote(%q) = %v, want %v", host, got, want)
		}
	}
}
