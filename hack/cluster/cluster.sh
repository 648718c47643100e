#!/usr/bin/env bash
# cluster.sh up|down: a real single-node Kubernetes on this machine, for
# devrun's Kubernetes tests (issue 16), with nothing pulled or downloaded
# but Go modules:
#
#   - the control plane and the node from one binary, hack/cluster/kube,
#     built from the Go module proxy and cached by its go.sum and the Go
#     version (the first build takes long; the next up starts at once);
#   - Debian's containerd, private: sockets and directories of its own under
#     the cluster's directory, never /run/containerd, which dockerd adopts;
#   - images built here and imported (the pause image is a static Go
#     program), pulled never: pods say imagePullPolicy: Never.
#
# up starts etcd, the apiserver on https://127.0.0.1:16443, the controller
# manager, the scheduler, containerd and kubelet, each recording its PID,
# waits for the node to be Ready, and writes $dir/kubeconfig. down stops
# them by those PIDs, removes the pods' containers, mounts and network
# namespaces, and restores the sysctls kubelet changes. Both are safe to run
# again; up runs down first.
set -euo pipefail

dir=${DEVRUN_CLUSTER_DIR:-/tmp/devrun-cluster}
here=$(cd "$(dirname "$0")" && pwd)
node=$(hostname)
sock=$dir/containerd/containerd.sock

step() { printf '== %s\n' "$*"; }

# kube builds (or finds) the binary, and prints its path.
kube_binary() {
	local key cache
	key=$(cat "$here/kube/go.mod" "$here/kube/go.sum" "$here/kube/main.go" <(go env GOVERSION) | sha256sum | cut -c1-16)
	cache=${XDG_CACHE_HOME:-$HOME/.cache}/devrun/kube-$key
	if [ ! -x "$cache/kube" ]; then
		mkdir -p "$cache"
		step "building the cluster's binary (kube $key) from the Go module proxy; cached in $cache" >&2
		local start=$SECONDS
		(cd "$here/kube" && CGO_ENABLED=0 GOFLAGS= GOWORK=off go build -trimpath \
			-ldflags "-s -w -X k8s.io/component-base/version.gitVersion=v1.37.2 -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37" \
			-o "$cache/kube.new" .) >&2
		mv "$cache/kube.new" "$cache/kube"
		echo "built in $((SECONDS - start)) s" >&2
	fi
	echo "$cache/kube"
}

# start NAME CMD...: starts CMD in the background, logging to
# $dir/NAME.log, and records its PID in $dir/NAME.pid.
start() {
	local name=$1
	shift
	"$@" > "$dir/$name.log" 2>&1 &
	echo $! > "$dir/$name.pid"
}

# wait_for WHAT SECONDS CMD...: polls CMD until it succeeds.
wait_for() {
	local what=$1 secs=$2
	shift 2
	local deadline=$((SECONDS + secs))
	until "$@" > /dev/null 2>&1; do
		if [ $SECONDS -ge $deadline ]; then
			echo "cluster: $what did not come within ${secs}s; see $dir/*.log" >&2
			return 1
		fi
		sleep 0.2
	done
}

down() {
	[ -d "$dir" ] || return 0
	set +e
	if [ -S "$sock" ] && command -v crictl > /dev/null; then
		for p in $(crictl --runtime-endpoint "unix://$sock" pods -q 2> /dev/null); do
			crictl --runtime-endpoint "unix://$sock" stopp "$p" > /dev/null 2>&1
			crictl --runtime-endpoint "unix://$sock" rmp "$p" > /dev/null 2>&1
		done
	fi
	for name in kubelet kube-scheduler kube-controller-manager kube-apiserver containerd etcd; do
		[ -f "$dir/$name.pid" ] || continue
		local pid
		pid=$(cat "$dir/$name.pid")
		kill "$pid" 2> /dev/null
		for _ in $(seq 50); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2> /dev/null
		rm -f "$dir/$name.pid"
	done
	pkill -f "containerd-shim.*-address $sock" 2> /dev/null
	grep " $dir/" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2> /dev/null
	ip link del cni-devrun0 2> /dev/null
	for n in $(ls /var/run/netns 2> /dev/null); do
		grep -qx "$n" "$dir/netns.before" 2> /dev/null || ip netns del "$n" 2> /dev/null
	done
	if [ -f "$dir/sysctl.before" ]; then
		while read -r k v; do sysctl -qw "$k=$v" 2> /dev/null; done < "$dir/sysctl.before"
	fi
	rm -rf "$dir"
	set -e
}

up() {
	down
	local kube
	kube=$(kube_binary)
	mkdir -p "$dir"/{etcd,apiserver,containerd,cni,kubelet,images,logs}
	ls /var/run/netns 2> /dev/null > "$dir/netns.before" || true
	for k in vm.overcommit_memory kernel.panic kernel.panic_on_oops; do
		echo "$k $(sysctl -n "$k")" >> "$dir/sysctl.before"
	done
	local t0=$SECONDS

	step "credentials: a service-account key and static tokens"
	openssl genrsa -out "$dir/sa.key" 2048 2> /dev/null
	openssl rsa -in "$dir/sa.key" -pubout -out "$dir/sa.pub" 2> /dev/null
	local token
	token=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
	cat > "$dir/tokens.csv" << CSV
admin-$token,admin,admin,system:masters
node-$token,system:node:$node,node,system:nodes
cm-$token,system:kube-controller-manager,cm
sched-$token,system:kube-scheduler,sched
CSV
	for who in admin node cm sched; do
		cat > "$dir/$who.kubeconfig" << YAML
apiVersion: v1
kind: Config
clusters: [{name: devrun, cluster: {server: "https://127.0.0.1:16443", insecure-skip-tls-verify: true}}]
users: [{name: $who, user: {token: "$who-$token"}}]
contexts: [{name: devrun, context: {cluster: devrun, user: $who, namespace: default}}]
current-context: devrun
YAML
	done
	cp "$dir/admin.kubeconfig" "$dir/kubeconfig"

	step "etcd"
	start etcd "$kube" etcd --data-dir "$dir/etcd" --unsafe-no-fsync \
		--listen-client-urls http://127.0.0.1:23790 --advertise-client-urls http://127.0.0.1:23790 \
		--listen-peer-urls http://127.0.0.1:23800 --initial-advertise-peer-urls http://127.0.0.1:23800 \
		--initial-cluster default=http://127.0.0.1:23800 --log-level warn

	step "kube-apiserver"
	start kube-apiserver "$kube" kube-apiserver --etcd-servers http://127.0.0.1:23790 \
		--bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port 16443 --cert-dir "$dir/apiserver" \
		--token-auth-file "$dir/tokens.csv" --authorization-mode Node,RBAC --allow-privileged \
		--service-cluster-ip-range 10.97.0.0/16 --endpoint-reconciler-type none \
		--service-account-key-file "$dir/sa.pub" --service-account-signing-key-file "$dir/sa.key" \
		--service-account-issuer https://kubernetes.default.svc \
		--kubelet-preferred-address-types Hostname
	wait_for "the apiserver" 120 curl -skf -H "Authorization: Bearer admin-$token" https://127.0.0.1:16443/readyz

	step "kube-controller-manager and kube-scheduler"
	start kube-controller-manager "$kube" kube-controller-manager --kubeconfig "$dir/cm.kubeconfig" \
		--authentication-kubeconfig "$dir/cm.kubeconfig" --authorization-kubeconfig "$dir/cm.kubeconfig" \
		--service-account-private-key-file "$dir/sa.key" --root-ca-file "$dir/apiserver/apiserver.crt" \
		--leader-elect=false --bind-address 127.0.0.1 --secure-port 16444 --controllers '*,-nodeipam' \
		--use-service-account-credentials
	start kube-scheduler "$kube" kube-scheduler --kubeconfig "$dir/sched.kubeconfig" \
		--authentication-kubeconfig "$dir/sched.kubeconfig" --authorization-kubeconfig "$dir/sched.kubeconfig" \
		--leader-elect=false --bind-address 127.0.0.1 --secure-port 16445

	step "containerd, private, and the images"
	cat > "$dir/cni/10-devrun.conflist" << JSON
{"cniVersion": "0.4.0", "name": "devrun", "plugins": [
  {"type": "bridge", "bridge": "cni-devrun0", "isGateway": true, "ipMasq": false,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.245.0.0/24"}]], "dataDir": "$dir/ipam"}},
  {"type": "portmap", "capabilities": {"portMappings": true}},
  {"type": "loopback"}]}
JSON
	cat > "$dir/containerd/config.toml" << TOML
version = 2
root = "$dir/containerd/root"
state = "$dir/containerd/state"
[grpc]
  address = "$sock"
[ttrpc]
  address = "$sock.ttrpc"
[debug]
  address = "$sock.debug"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "devrun.local/pause:1"
  restrict_oom_score_adj = true # this machine's root lacks CAP_SYS_RESOURCE
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$dir/cni"
TOML
	start containerd containerd --config "$dir/containerd/config.toml"
	wait_for "containerd" 30 test -S "$sock"
	images

	step "kubelet"
	cat > "$dir/kubelet/config.yaml" << YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://$sock
authentication: {anonymous: {enabled: true}, webhook: {enabled: false}}
authorization: {mode: AlwaysAllow}
port: 20250
readOnlyPort: 0
healthzPort: 0
oomScoreAdj: 0
evictionHard: {memory.available: "1Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
makeIPTablesUtilChains: false
localStorageCapacityIsolation: false
registerNode: true
YAML
	start kubelet "$kube" kubelet --config "$dir/kubelet/config.yaml" --kubeconfig "$dir/node.kubeconfig" \
		--root-dir "$dir/kubelet/root" --hostname-override "$node"
	wait_for "the node" 180 node_ready "$token"
	echo "cluster: node $node Ready in $((SECONDS - t0)) s; KUBECONFIG=$dir/kubeconfig"
}

# node_ready TOKEN: the node says it is Ready.
node_ready() {
	curl -skf -H "Authorization: Bearer admin-$1" "https://127.0.0.1:16443/api/v1/nodes/$node" |
		tr -d ' \n' | grep -q '"type":"Ready","status":"True"'
}

# images builds the pause and busybox images here and imports them into
# containerd's k8s.io namespace, as kind load does.
images() {
	local img=$dir/images
	cat > "$img/pause.go" << 'GO'
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
	(cd "$img" && printf 'module pause\n\ngo 1.22\n' > go.mod && CGO_ENABLED=0 GOFLAGS= go build -ldflags='-s -w' -o pause .)
	cp /bin/busybox "$img/busybox"
	printf 'FROM scratch\nCOPY pause /pause\nENTRYPOINT ["/pause"]\n' > "$img/Dockerfile.pause"
	printf 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n' > "$img/Dockerfile.busybox"
	docker build -q -t devrun.local/pause:1 -f "$img/Dockerfile.pause" "$img" > /dev/null
	docker build -q -t devrun.local/busybox:1 -f "$img/Dockerfile.busybox" "$img" > /dev/null
	docker save devrun.local/pause:1 devrun.local/busybox:1 -o "$img/images.tar"
	ctr --address "$sock" --namespace k8s.io images import "$img/images.tar" > /dev/null
}

case "${1:-}" in
up) up ;;
down) down ;;
binary) kube_binary ;;
*)
	echo "usage: $0 up|down|binary" >&2
	exit 2
	;;
esac
