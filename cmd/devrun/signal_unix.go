//go:build unix

package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// stopSignals ask devrun to stop: Ctrl-C, kill, and SIGHUP, which a closed
// terminal sends: it gets the same clean stop.
var stopSignals = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP}

// onBuildSignal calls prod for every SIGUSR1 until ctx is done.
func onBuildSignal(ctx context.Context, prod func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGUSR1)
	go func() {
		defer signal.Stop(ch)
		for {
			select {
			case <-ch:
				prod()
			case <-ctx.Done():
				return
			}
		}
	}()
}
