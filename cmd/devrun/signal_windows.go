package main

import "context"

// onBuildSignal does nothing: Windows has no SIGUSR1. Use b + Enter, or run
// devrun build beside devrun up.
func onBuildSignal(context.Context, func()) {}
