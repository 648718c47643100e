#!/usr/bin/env bash
# cri-probe.sh: the first experiment of the Kubernetes issue (16): can a
# private containerd, Debian's, serve the CRI here with images that were
# never pulled? It starts containerd on sockets and directories of its own
# (never /run/containerd, which dockerd would adopt), imports a pause image
# and a busybox image built locally, and drives a pod through crictl:
# runp, create, start, exec, port-forward. It stops everything it started,
# by PID, and removes what it made, whatever happens.
#
# Needs: root, containerd and runc (Debian), containernetworking-plugins,
# crictl (go install sigs.k8s.io/cri-tools/cmd/crictl@v1.37.0), docker (to
# build the two images), busybox-static, go.
set -euo pipefail

work=${CRI_PROBE_DIR:-/tmp/devrun-cri-probe}
sock=$work/containerd.sock
ns=k8s.io
crictl() { command crictl --runtime-endpoint "unix://$sock" --image-endpoint "unix://$sock" --timeout 30s "$@"; }
ctr() { command ctr --address "$sock" --namespace "$ns" "$@"; }

step() { printf '\n== %s\n' "$*"; }
cpid=""
cleanup() {
	set +e
	step "cleanup"
	if [ -n "$cpid" ]; then
		for p in $(crictl pods -q 2>/dev/null); do crictl stopp "$p" >/dev/null; crictl rmp "$p" >/dev/null; done
		kill "$cpid" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$cpid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$cpid" 2>/dev/null
	fi
	# shims outlive containerd by design: end the ones of this instance
	pkill -f "containerd-shim.*-address $sock" 2>/dev/null
	grep " $work/" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null
	ip link del cni-probe0 2>/dev/null
	# the pods' network namespaces that containerd made and did not remove
	for n in $(ls /var/run/netns 2>/dev/null); do
		grep -qx "$n" "$work/netns.before" 2>/dev/null || ip netns del "$n" 2>/dev/null
	done
	cp "$work/containerd.log" "${work}.containerd.log" 2>/dev/null # for the record
	rm -rf "$work"
}
trap cleanup EXIT

rm -rf "$work"
mkdir -p "$work/cni" "$work/img"
ls /var/run/netns 2>/dev/null > "$work/netns.before" || true

step "images: pause (a static Go program) and busybox, built here, never pulled"
cat > "$work/img/pause.go" <<'GO'
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
	<-c
}
GO
(cd "$work/img" && printf 'module pause\n\ngo 1.22\n' > go.mod && CGO_ENABLED=0 go build -ldflags='-s -w' -o pause .)
cp /bin/busybox "$work/img/busybox"
printf 'FROM scratch\nCOPY pause /pause\nENTRYPOINT ["/pause"]\n' > "$work/img/Dockerfile.pause"
printf 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n' > "$work/img/Dockerfile.busybox"
docker build -q -t devrun.local/pause:1 -f "$work/img/Dockerfile.pause" "$work/img" >/dev/null
docker build -q -t devrun.local/busybox:1 -f "$work/img/Dockerfile.busybox" "$work/img" >/dev/null
docker save devrun.local/pause:1 devrun.local/busybox:1 -o "$work/img/images.tar"

step "a private containerd on $sock"
cat > "$work/cni/10-probe.conflist" <<JSON
{"cniVersion": "0.4.0", "name": "probe", "plugins": [
  {"type": "bridge", "bridge": "cni-probe0", "isGateway": true, "ipMasq": false,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.244.77.0/24"}]], "dataDir": "$work/ipam"}},
  {"type": "portmap", "capabilities": {"portMappings": true}},
  {"type": "loopback"}]}
JSON
snap=${CRI_PROBE_SNAPSHOTTER:-overlayfs}
cat > "$work/config.toml" <<TOML
version = 2
root = "$work/root"
state = "$work/state"
[grpc]
  address = "$sock"
[ttrpc]
  address = "$sock.ttrpc"
[debug]
  address = "$sock.debug"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "devrun.local/pause:1"
  # This machine's root lacks CAP_SYS_RESOURCE: no oom_score_adj below
  # containerd's own (the sandbox's -998 fails in runc's nsexec).
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "$snap"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$work/cni"
TOML
containerd --config "$work/config.toml" > "$work/containerd.log" 2>&1 &
cpid=$!
for _ in $(seq 100); do [ -S "$sock" ] && crictl version >/dev/null 2>&1 && break; sleep 0.1; done
crictl version
crictl info | grep -E '"(Ready|RuntimeReady|NetworkReady)"|"status"|"type"' | head -10 || true

step "importing the images (ctr -n k8s.io images import, as kind load does)"
t0=$(date +%s%N)
ctr images import "$work/img/images.tar"
crictl images

step "a pod: runp, create, start"
cat > "$work/pod.json" <<JSON
{"metadata": {"name": "probe", "namespace": "default", "uid": "probe-uid", "attempt": 0},
 "port_mappings": [{"container_port": 8080, "host_port": 0}],
 "log_directory": "$work/logs", "linux": {}}
JSON
cat > "$work/ctr.json" <<JSON
{"metadata": {"name": "web"}, "image": {"image": "devrun.local/busybox:1"},
 "command": ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/etc"],
 "log_path": "web.log", "linux": {}}
JSON
pod=$(crictl runp "$work/pod.json")
ctrid=$(crictl create "$pod" "$work/ctr.json" "$work/pod.json")
crictl start "$ctrid"
crictl ps
echo "pod to running: $(( ($(date +%s%N) - t0) / 1000000 )) ms (import included)"

step "exec"
crictl exec "$ctrid" /bin/busybox echo "hello from the pod: $(date)"
crictl exec "$ctrid" /bin/busybox sh -c 'cat /proc/1/cgroup | head -3; ip addr show eth0 | grep inet'

step "port-forward"
crictl port-forward "$pod" 18099:8080 > "$work/pf.log" 2>&1 &
pf=$!
for _ in $(seq 50); do curl -s -o /dev/null 127.0.0.1:18099/hostname && break; sleep 0.1; done
echo "through the port-forward: $(curl -s 127.0.0.1:18099/hostname)"
kill $pf

step "the CRI route works here"
