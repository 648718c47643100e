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
	"syscall"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage marks errors in how devrun was called: exit code 2.
var errUsage = errors.New("usage")

// run runs devrun with args and returns its exit code. The first SIGINT or
// SIGTERM asks for a clean stop; a second one makes it kill the app at once.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	force := make(chan struct{})
	go func() {
		<-ctx.Done()
		again := make(chan os.Signal, 1)
		signal.Notify(again, os.Interrupt, syscall.SIGTERM)
		stop()
		<-again
		close(force)
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
