package docker

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/devrun/devrun/config"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// Labels on every container devrun creates. devrun only ever stops or
// removes containers that carry LabelProject with its project's value.
const (
	LabelManaged = "dev.devrun.managed"
	LabelProject = "dev.devrun.project" // a hash of the project's directory
	LabelConfig  = "dev.devrun.config"  // a hash of the container's configuration
	LabelDir     = "dev.devrun.dir"     // the project's directory, for people
	LabelService = "dev.devrun.service" // the service of devrun.yaml's services, if any
)

// mountPoint is where the container sees pid1 and the app's binary.
const mountPoint = "/devrun"

// ProjectHash names a project directory in labels and container names.
func ProjectHash(dir string) string {
	sum := sha256.Sum256([]byte(dir))
	return hex.EncodeToString(sum[:])[:12]
}

// createOptions turns o into the engine's create request, labelled with the
// hash of everything else in it.
func createOptions(o *Options) (client.ContainerCreateOptions, error) {
	exposed, bindings, err := parsePorts(o.Ports)
	if err != nil {
		return client.ContainerCreateOptions{}, err
	}
	user := o.User
	if user == "" && os.Getuid() >= 0 {
		user = fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid())
	}
	cmd := []string{"-stop-signal", strconv.Itoa(o.StopSignal), "-stop-timeout", o.StopTimeout.String(), "--", mountPoint + "/app"}
	var capAdd []string
	if o.Debug != nil {
		listen, err := o.Debug.listen(o.Network, exposed, bindings)
		if err != nil {
			return client.ContainerCreateOptions{}, err
		}
		host, port, _ := net.SplitHostPort(listen)
		if ip, err := netip.ParseAddr(host); err != nil || ip.IsUnspecified() {
			host = "127.0.0.1" // where pid1 asks Delve for the app's state
		}
		cmd = []string{"-stop-signal", strconv.Itoa(o.StopSignal), "-stop-timeout", o.StopTimeout.String(), "-debug", net.JoinHostPort(host, port), "--",
			mountPoint + "/dlv", "exec", "--headless", "--accept-multiclient", "--api-version=2", "--listen=" + listen}
		if !o.Debug.Wait {
			cmd = append(cmd, "--continue")
		}
		// pid1 gives Delve the app's stdout and stderr as 3 and 4.
		cmd = append(cmd, "--redirect=stdout:/dev/fd/3", "--redirect=stderr:/dev/fd/4", mountPoint+"/app", "--")
		capAdd = []string{"SYS_PTRACE"} // Delve traces the app: in debug mode only
	}
	cfg := &container.Config{
		Image:        o.Image,
		Entrypoint:   []string{mountPoint + "/pid1"},
		Cmd:          append(cmd, o.Args...),
		Env:          o.Env,
		User:         user,
		ExposedPorts: exposed,
		AttachStdout: true,
		AttachStderr: true,
	}
	noInit := false // pid1 is the init: an engine configured with init: true would put one above it
	host := &container.HostConfig{
		Init:         &noInit,
		PortBindings: bindings,
		Binds:        o.Volumes,
		NetworkMode:  container.NetworkMode(o.Network),
		CapAdd:       capAdd,
	}
	if !o.Copy {
		host.Mounts = []mount.Mount{{Type: mount.TypeBind, Source: o.MountDir, Target: mountPoint, ReadOnly: true}}
	}
	hash, err := configHash(cfg, host, o.PID1)
	if err != nil {
		return client.ContainerCreateOptions{}, err
	}
	project := ProjectHash(o.Project)
	cfg.Labels = map[string]string{LabelManaged: "true", LabelProject: project, LabelConfig: hash, LabelDir: o.Project}
	name := containerName(o.Project, project)
	if o.Service != "" {
		// Each service of a project has containers of its own.
		cfg.Labels[LabelService] = o.Service
		name = containerName(filepath.Join(o.Project, o.Service), ProjectHash(o.Project+"\x00"+o.Service))
	}
	return client.ContainerCreateOptions{Config: cfg, HostConfig: host, Name: name}, nil
}

func configHash(cfg *container.Config, host *container.HostConfig, pid1 string) (string, error) {
	b, err := json.Marshal([]any{cfg, host, filepath.Base(filepath.Dir(pid1))})
	if err != nil {
		return "", fmt.Errorf("hashing the container's configuration: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:12], nil
}

var unsafeName = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

func containerName(dir, project string) string {
	base := strings.Trim(unsafeName.ReplaceAllString(filepath.Base(dir), "-"), "-._")
	if base == "" {
		base = "app"
	}
	return "devrun-" + base + "-" + project[:8]
}

// parsePorts converts container.ports entries, as config.ParsePort reads
// them, to the engine's types. Without an IP, ports are published on
// 127.0.0.1 only. The config package has rejected bad entries already; here
// they are an error too, never a panic.
func parsePorts(specs []string) (network.PortSet, network.PortMap, error) {
	exposed, bindings := network.PortSet{}, network.PortMap{}
	for _, s := range specs {
		p, err := config.ParsePort(s)
		if err != nil {
			return nil, nil, fmt.Errorf("container.ports: %w", err)
		}
		port, err := network.ParsePort(fmt.Sprintf("%d/%s", p.Container, p.Proto))
		if err != nil {
			return nil, nil, fmt.Errorf("container.ports: %q: %w", s, err)
		}
		exposed[port] = struct{}{}
		bindings[port] = append(bindings[port], network.PortBinding{HostIP: p.IP, HostPort: strconv.Itoa(int(p.Host))})
	}
	return exposed, bindings, nil
}

// Options configures a Runner.
type Options struct {
	Engine  Engine
	Project string   // the project's absolute directory
	Service string   // the service of devrun.yaml's services, if any: its containers are its own
	Image   string   // the image the container runs
	Args    []string // the app's arguments
	Env     []string // KEY=value entries for the app
	Ports   []string // published ports (see parsePorts)
	Volumes []string // further bind mounts, "SRC:DST[:ro]"
	Network string   // the container's network; default the engine's
	User    string   // "UID:GID" or a name; default the host user's UID:GID
	// Copy puts binaries into the container through the API instead of a
	// bind mount: for remote engines.
	Copy        bool
	MountDir    string // the host directory bind-mounted at /devrun
	PID1        string // pid1 built for the engine's platform
	StopSignal  int    // sent to the app's process group to stop it
	StopTimeout time.Duration
	// Stdout and Stderr receive the app's output, demultiplexed.
	Stdout, Stderr io.Writer
	Log            *slog.Logger // devrun's own messages; Delve's lines too
	// Debug, when set, runs the app under Delve in the container.
	Debug *Debug
}

// Debug says how the app runs under Delve in the dev container: a new
// Delve for every version, on a port published on the host, with the
// ptrace capability that tracing needs (in debug mode only).
type Debug struct {
	Dlv    string // dlv built for the engine's platform (pid1.BuildDelve)
	Listen string // HOST:PORT on the host where Delve's port is published
	Wait   bool   // hold each version at its start until a client continues it
}

// listen returns the address Delve listens on in a container on network,
// and adds its port to the container's published ports: in the container,
// the host's port number, so that what Delve says of its address holds on
// both sides. On the host's network Delve listens on the host's address
// itself; a container that shares another's network is refused, as Delve
// would be reachable from wherever that one is.
func (d *Debug) listen(netw string, exposed network.PortSet, bindings network.PortMap) (string, error) {
	host, port, err := net.SplitHostPort(d.Listen)
	if err != nil {
		return "", fmt.Errorf("run.debug_listen: %w", err)
	}
	switch {
	case netw == "host":
		return d.Listen, nil
	case strings.HasPrefix(netw, "container:"):
		return "", fmt.Errorf("run.debug: container.network %s shares another container's network, where Delve, which runs what its clients say, could not be kept to run.debug_listen's address", netw)
	}
	p, err := network.ParsePort(port + "/tcp")
	if err != nil {
		return "", fmt.Errorf("run.debug_listen: %q: %w", d.Listen, err)
	}
	if _, ok := exposed[p]; ok {
		return "", fmt.Errorf("run.debug_listen: port %s is among container.ports too: give Delve a port of its own", port)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return "", fmt.Errorf("run.debug_listen: %q: the host must be an IP address, such as 127.0.0.1, to publish Delve's port on", d.Listen)
	}
	exposed[p] = struct{}{}
	bindings[p] = []network.PortBinding{{HostIP: ip, HostPort: port}}
	return ":" + port, nil
}
