// Command devrun is a live-reload runner for Go: it builds the app, runs it,
// and rebuilds and swaps it on every saved change.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage marks errors in how devrun was called: exit code 2.
var errUsage = errors.New("usage")

// run runs devrun with args and returns its exit code. The first stop
// signal (SIGINT, SIGTERM, or SIGHUP when the terminal closes) asks for a
// clean stop; a second one makes it kill the app at once. The signals are
// caught from the start to the end on one channel that holds two: a second
// one that arrives while the first is being handled is never lost, nor
// left to the system's default action.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, stopSignals...)
	defer signal.Stop(sigs)
	force := make(chan struct{})
	finished := make(chan struct{})
	defer close(finished)
	go func() {
		for n := 0; n < 2; n++ {
			select {
			case <-sigs:
			case <-finished:
				return
			}
			if n == 0 {
				cancel()
			} else {
				close(force)
			}
		}
	}()
	cmd := newRoot(stdout, stderr, force)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		fmt.Fprintln(stderr, "devrun:", line)
	}
	if errors.Is(err, errUsage) {
		return 2
	}
	return 1
}
