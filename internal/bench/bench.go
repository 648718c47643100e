// Package bench holds what the benchmark commands under bench/ share:
// writing files, running commands, free ports and the statistics they
// report. Every function ends the program (log.Fatal) on an error: a
// benchmark that cannot set itself up has nothing to measure.
package bench

import (
	"cmp"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"
)

// Write writes content to dir/name, making dir if needed.
func Write(dir, name, content string) {
	Check(os.MkdirAll(dir, 0o755))
	Check(os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
}

// Run runs name with args in dir, its errors to stderr.
func Run(dir, name string, args ...string) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	Check(cmd.Run())
}

// FreePort returns a TCP port free on 127.0.0.1 now.
func FreePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Check(err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Check ends the program on err.
func Check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

func sorted(d []time.Duration) []time.Duration {
	s := slices.Clone(d)
	slices.SortFunc(s, cmp.Compare)
	return s
}

// Min, Median and P90 of d, which must not be empty.
func Min(d []time.Duration) time.Duration    { return sorted(d)[0] }
func Median(d []time.Duration) time.Duration { return sorted(d)[len(d)/2] }
func P90(d []time.Duration) time.Duration    { return sorted(d)[(len(d)*9)/10] }

// MS formats d in whole milliseconds: 412ms.
func MS(d time.Duration) string { return fmt.Sprintf("%.0fms", float64(d)/float64(time.Millisecond)) }
