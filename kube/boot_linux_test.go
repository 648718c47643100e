package kube

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// The boot loader run for real: natively for this machine's architecture,
// and for the other one under qemu's user-mode emulator where it is
// installed (Debian's qemu-user-static). What it execs is a shell script it
// has just written, so the exec runs on the host in both cases.
func TestBootLoader(t *testing.T) {
	for _, arch := range []string{"amd64", "arm64"} {
		t.Run(arch, func(t *testing.T) {
			var prefix []string
			if arch != runtime.GOARCH {
				emu, err := exec.LookPath("qemu-" + map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[arch] + "-static")
				if err != nil {
					t.Skipf("no emulator for linux/%s: %v", arch, err)
				}
				prefix = []string{emu}
			}
			b, err := Boot(arch)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			boot := filepath.Join(dir, "boot")
			if err := os.WriteFile(boot, b, 0o555); err != nil {
				t.Fatal(err)
			}
			run := func(stdin []byte, args ...string) (string, int) {
				t.Helper()
				argv := append(append(prefix, boot), args...)
				cmd := exec.Command(argv[0], argv[1:]...)
				cmd.Stdin = bytes.NewReader(stdin)
				cmd.Env = append(os.Environ(), "BOOT_TEST=kept")
				out, err := cmd.CombinedOutput()
				var exit *exec.ExitError
				if errors.As(err, &exit) {
					return string(out), exit.ExitCode()
				}
				if err != nil {
					t.Fatal(err)
				}
				return string(out), 0
			}

			// A script larger than the loader's 64 KiB buffer, written whole
			// and run with the arguments and environment given to boot.
			script := "#!/bin/sh\necho \"$0 $* $BOOT_TEST\"\n" + strings.Repeat("# padding to cross the read buffer\n", 6000)
			dest := filepath.Join(dir, "prog")
			out, code := run([]byte(script), dest, dest, "one", "two")
			if code != 0 || out != dest+" one two kept\n" {
				t.Fatalf("boot: exit %d, output %q; want 0 and %q", code, out, dest+" one two kept\n")
			}
			got, err := os.ReadFile(dest)
			if err != nil || string(got) != script {
				t.Fatalf("the written file differs from what was sent (%d bytes of %d; %v)", len(got), len(script), err)
			}
			if fi, _ := os.Stat(dest); fi.Mode().Perm() != 0o755 {
				t.Errorf("mode %v, want 0755", fi.Mode().Perm())
			}

			// The same again: an existing file is truncated, not appended to.
			out, code = run([]byte("#!/bin/sh\necho short\n"), dest, dest)
			if code != 0 || out != "short\n" {
				t.Errorf("boot over an existing file: exit %d, output %q", code, out)
			}

			// Failures, each with the exit code bootExit explains.
			if _, code := run(nil, filepath.Join(dir, "missing", "prog"), dest); code != 1 {
				t.Errorf("boot into a missing directory: exit %d, want 1", code)
			}
			if _, code := run([]byte("data"), filepath.Join(dir, "other"), filepath.Join(dir, "nothing-here")); code != 127 {
				t.Errorf("boot exec of a missing program: exit %d, want 127", code)
			}
			for _, c := range []int32{1, 2, 3, 4, 127} {
				if strings.HasPrefix(bootExit(c), "exit code") {
					t.Errorf("bootExit(%d) does not say what failed", c)
				}
			}
		})
	}
}
