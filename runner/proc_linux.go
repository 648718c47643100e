package runner

import (
	"bytes"
	"os"
	"strconv"
	"sync"
	"syscall"
)

// setParentDeathSignal makes the kernel kill the group leader if devrun dies
// without stopping it (SIGKILL, a crash). The signal is tied to the OS thread
// that started the process; Go keeps that thread alive unless it is locked.
func setParentDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }

// groupAlive reports whether a process of the group pgid is still running.
// Zombies do not count: they hold no port and no file, and the process that
// reaps them may be neither devrun nor quick.
func groupAlive(pgid int) bool {
	for _, p := range processes() {
		if p.pgid == pgid && p.pid > 0 && !p.zombie {
			return true
		}
	}
	return false
}

// A process is what /proc/<pid>/stat says of one.
type process struct {
	pid, ppid, pgid int
	zombie          bool // exited, not yet reaped (or being reaped)
}

// processes lists every process of the system, or nil without /proc.
func processes() []process {
	d, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	ps := make([]process, 0, len(names))
	buf := make([]byte, 512)
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		if p, ok := readStat(pid, buf); ok {
			ps = append(ps, p)
		}
	}
	return ps
}

// readStat parses /proc/<pid>/stat into p, using buf.
func readStat(pid int, buf []byte) (process, bool) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return process{}, false
	}
	n, _ := f.Read(buf)
	f.Close()
	stat := buf[:n]
	// The comm field may hold spaces and parentheses: fields start after the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return process{}, false
	}
	fields := bytes.Fields(stat[i+1:])
	if len(fields) < 3 {
		return process{}, false
	}
	ppid, _ := strconv.Atoi(string(fields[1]))
	pgid, _ := strconv.Atoi(string(fields[2]))
	state := string(fields[0])
	return process{pid: pid, ppid: ppid, pgid: pgid, zombie: state == "Z" || state == "X"}, true
}

// members lists the live processes of a tree: those of the process group
// pgid (none for -1: a group that is gone), those whose environment holds InstanceEnv=instance (a child that
// moved to a group or a session of its own, or whose parent exited), and
// the descendants of either (a child that cleared its environment). While
// devrun is the reaper of its descendants' orphans, only its descendants
// are looked at: they are all the tree can hold.
func members(pgid int, instance string) []member {
	var ps []process
	if subreaper.Load() {
		ps, _ = ownProcesses() // all the tree can hold; nil falls back to all
	}
	if ps == nil {
		ps = processes()
	}
	if ps == nil { // no /proc: the process group alone
		if pgid <= 0 || syscall.Kill(-pgid, 0) != nil {
			return nil
		}
		return []member{{pid: pgid, pgid: pgid}}
	}
	self := os.Getpid()
	children := map[int][]int{}
	for _, p := range ps {
		children[p.ppid] = append(children[p.ppid], p.pid)
	}
	byPID := make(map[int]process, len(ps))
	for _, p := range ps {
		byPID[p.pid] = p
	}
	candidates := ps
	if subreaper.Load() {
		candidates = candidates[:0:0]
		for _, pid := range descendants(self, children) {
			candidates = append(candidates, byPID[pid])
		}
	}
	mark := []byte(InstanceEnv + "=" + instance + "\x00")
	in := map[int]bool{}
	for _, p := range candidates {
		if p.pid == self || p.zombie || in[p.pid] {
			continue
		}
		if pgid > 0 && p.pgid == pgid || carries(p.pid, mark) {
			for _, d := range append([]int{p.pid}, descendants(p.pid, children)...) {
				in[d] = true
			}
		}
	}
	var ms []member
	for pid := range in {
		if p := byPID[pid]; !p.zombie && pid != self {
			ms = append(ms, member{pid: pid, pgid: p.pgid})
		}
	}
	return ms
}

// ownProcesses lists devrun's descendants, walking down from devrun through
// /proc/<pid>/task/<tid>/children (Linux 3.5 with CONFIG_PROC_CHILDREN, as
// every distribution builds it), or reports false where those files are
// missing. It reads a file or two for each descendant and each of their
// threads instead of one for every process of the system: a /proc scan
// costs about 20µs a process here, 10ms on a desktop of 500, and a swap
// made several. The result is never nil when ok.
func ownProcesses() ([]process, bool) {
	self := os.Getpid()
	kids, ok := childrenOf(self)
	if !ok {
		return nil, false
	}
	ps := []process{}
	buf := make([]byte, 512)
	seen := map[int]bool{self: true}
	for len(kids) > 0 {
		pid := kids[0]
		kids = kids[1:]
		if seen[pid] {
			continue
		}
		seen[pid] = true
		p, ok := readStat(pid, buf)
		if !ok {
			continue // gone meanwhile
		}
		ps = append(ps, p)
		more, _ := childrenOf(pid)
		kids = append(kids, more...)
	}
	return ps, true
}

// childrenOf lists pid's children, from each of its threads' children file;
// false when the kernel has no such files.
func childrenOf(pid int) ([]int, bool) {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	d, err := os.Open(dir)
	if err != nil {
		return nil, false
	}
	tids, _ := d.Readdirnames(-1)
	d.Close()
	var kids []int
	found := false
	for _, tid := range tids {
		b, err := os.ReadFile(dir + "/" + tid + "/children")
		if err != nil {
			continue
		}
		found = true
		for _, f := range bytes.Fields(b) {
			if k, err := strconv.Atoi(string(f)); err == nil {
				kids = append(kids, k)
			}
		}
	}
	return kids, found
}

// descendants returns the processes below pid, given each one's children.
func descendants(pid int, children map[int][]int) []int {
	var out []int
	seen := map[int]bool{pid: true}
	for queue := children[pid]; len(queue) > 0; {
		c := queue[0]
		queue = queue[1:]
		if seen[c] {
			continue
		}
		seen[c] = true
		out = append(out, c)
		queue = append(queue, children[c]...)
	}
	return out
}

// carries reports whether the environment pid started with holds mark.
// Another user's processes cannot be read, and are none of devrun's.
func carries(pid int, mark []byte) bool {
	env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	return err == nil && (bytes.HasPrefix(env, mark) || bytes.Contains(env, append([]byte{0}, mark...)))
}

// leaders are the processes devrun started through os/exec whose exit
// os/exec has not collected yet: reapOrphans must leave them to it.
var leaders sync.Map // pid → struct{}

func (t *tree) register()   { leaders.Store(t.pgid(), struct{}{}) }
func (t *tree) unregister() { leaders.Delete(t.pgid()) }

// reapOrphans collects the exited processes that devrun adopted as the
// reaper of its descendants (the members of a stopped tree whose parent died
// first). Children devrun started itself are left to whoever waits for them:
// the leaders of trees, and the commands that run in devrun's own process
// group (the go command building pid1, git).
func reapOrphans() {
	starting.Lock()
	defer starting.Unlock()
	self, own := os.Getpid(), syscall.Getpgrp()
	ps, ok := []process(nil), false
	if kids, found := childrenOf(self); found {
		buf := make([]byte, 512)
		for _, pid := range kids {
			if p, ok := readStat(pid, buf); ok {
				ps = append(ps, p)
			}
		}
		ok = true
	}
	if !ok {
		ps = processes()
	}
	for _, p := range ps {
		if p.ppid != self || !p.zombie || p.pgid == own {
			continue
		}
		if _, ok := leaders.Load(p.pid); ok {
			continue
		}
		var ws syscall.WaitStatus
		syscall.Wait4(p.pid, &ws, syscall.WNOHANG, nil)
	}
}

// softParentDeath makes the kernel send SIGTERM rather than SIGKILL to a
// leader that ends what it started itself when told: Delve, which kills
// the app it launched.
func softParentDeath(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGTERM }
