package runner

import (
	"os"
	"os/exec"
	"testing"
)

// The scan a stop makes to find a tree's processes, against its floor, the
// listing of every process's stat file that finding a process group takes:
// go test -run '^$' -bench Scan ./runner
func BenchmarkScan(b *testing.B) {
	cmd := exec.Command("sleep", "60")
	cmd.Env = os.Environ()
	t := newTree(cmd)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	b.Run("floor: the process list", func(b *testing.B) {
		for b.Loop() {
			groupAlive(t.pgid())
		}
	})
	for _, sub := range []bool{false, true} {
		name := map[bool]string{false: "tree, every process", true: "tree, devrun's descendants (subreaper)"}[sub]
		b.Run(name, func(b *testing.B) {
			old := subreaper.Load()
			subreaper.Store(sub)
			defer subreaper.Store(old)
			for b.Loop() {
				if len(members(t.pgid(), t.instance)) != 1 {
					b.Fatal("the tree's leader is not found")
				}
			}
		})
	}
}

// members finds a child that left the tree's group, and its descendants,
// by the start's mark, and nothing of another start.
func TestMembersFindsWhatLeftTheGroup(t *testing.T) {
	leader := exec.Command("sh", "-c", "sleep 60 & sleep 60")
	leader.Env = os.Environ()
	tr := newTree(leader)
	if err := leader.Start(); err != nil {
		t.Fatal(err)
	}
	tr.started()
	defer func() { tr.kill(); leader.Wait() }()
	// A process of the start's that moved to a group of its own.
	away := exec.Command("sleep", "60")
	away.Env = append(os.Environ(), InstanceEnv+"="+tr.instance)
	setGroup(away)
	if err := away.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { away.Process.Kill(); away.Wait() }()
	// Another start's.
	other := exec.Command("sleep", "60")
	other.Env = os.Environ()
	newTree(other)
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { other.Process.Kill(); other.Wait() }()
	found := map[int]bool{}
	for _, m := range members(tr.pgid(), tr.instance) {
		found[m.pid] = true
	}
	if !found[leader.Process.Pid] || !found[away.Process.Pid] || found[other.Process.Pid] {
		t.Errorf("members %v: want the leader %d and the one away %d, not another start's %d", found, leader.Process.Pid, away.Process.Pid, other.Process.Pid)
	}
}
