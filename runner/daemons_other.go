//go:build !linux

package runner

// BecomeSubreaper does nothing where the system has no subreapers: a
// process the app daemonises outlives it there.
func BecomeSubreaper() error { return nil }

func stopDaemons() int { return 0 }
