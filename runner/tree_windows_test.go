package runner

import (
	"os"
	"os/exec"
	"testing"
	"time"

	"golang.org/x/sys/windows"
)

const helperEnv = "RUNNER_TEST_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "sleep":
		time.Sleep(time.Hour)
		return
	case "exit":
		return
	}
	os.Exit(m.Run())
}

func helperCmd(mode string) *exec.Cmd {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	return cmd
}

// alive reports whether p runs.
func alive(p *os.Process) bool {
	h, err := windows.OpenProcess(windows.SYNCHRONIZE, false, uint32(p.Pid))
	if err != nil {
		return false
	}
	defer windows.CloseHandle(h)
	ev, _ := windows.WaitForSingleObject(h, 0)
	return ev == uint32(windows.WAIT_TIMEOUT)
}

// Ending a tree after its leader exited and was reaped (every build does)
// ends nothing else: devrun acts on the tree's job, never on the PID,
// which Windows hands to the next process at once. It ran taskkill /T /F
// on that PID.
func TestTreeEndsOnlyItsOwnProcesses(t *testing.T) {
	cmd := helperCmd("exit")
	tr := newTree(cmd)
	if err := tr.start(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	tr.waited()
	stranger := helperCmd("sleep")
	if err := stranger.Start(); err != nil {
		t.Fatal(err)
	}
	defer stranger.Process.Kill()
	tr.kill()
	tr.release()
	if !alive(stranger.Process) {
		t.Error("ending a tree whose leader was reaped ended another process")
	}
}

// A running tree is seen alive through its job, and kill ends it.
func TestTreeKillEndsItsJob(t *testing.T) {
	cmd := helperCmd("sleep")
	tr := newTree(cmd)
	if err := tr.start(); err != nil {
		t.Fatal(err)
	}
	if !tr.alive() {
		t.Fatal("the tree does not run")
	}
	tr.kill()
	cmd.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for tr.alive() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if tr.alive() {
		t.Error("the tree runs after kill")
	}
	tr.release()
}
