package runner

import (
	"context"
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
	if err := tr.start(); err != nil {
		t.Fatal(err)
	}
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

// The reaper of adopted orphans never collects a leader that os/exec will
// wait for, even one that exits the moment it starts: its exit status
// stays os/exec's to report (it read "waitid: no child processes" 1 time
// in 300 when the reaper ran between the start and the leader's record).
func TestReaperLeavesLeadersToOSExec(t *testing.T) {
	stop := make(chan struct{})
	reaping := make(chan struct{})
	go func() {
		defer close(reaping)
		for {
			select {
			case <-stop:
				return
			default:
				reapOrphans()
			}
		}
	}()
	defer func() { close(stop); <-reaping }()
	h := &Host{}
	for i := range 300 {
		p, err := h.Start(context.Background(), Artifact("/bin/true"))
		if err != nil {
			t.Fatal(err)
		}
		<-p.Done()
		if err := p.Err(); err != nil {
			t.Fatalf("start %d: the leader's exit was taken from os/exec: %v", i, err)
		}
		p.Stop(context.Background())
	}
}
