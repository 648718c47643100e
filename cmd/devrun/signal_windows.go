package main

import (
	"context"
	"os"
	"syscall"
)

// stopSignals ask devrun to stop: Ctrl-C and Ctrl-Break, and SIGTERM, as
// which Go reports the console window being closed.
var stopSignals = []os.Signal{os.Interrupt, syscall.SIGTERM}

// onBuildSignal does nothing: Windows has no SIGUSR1. Use b + Enter, or run
// devrun build beside devrun up.
func onBuildSignal(context.Context, func()) {}
