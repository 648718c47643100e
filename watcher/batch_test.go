package watcher

import (
	"testing"
	"time"
)

// A negative Quiet is none: watch.debounce 0 starts the build at the first
// change, instead of falling back to the default as a zero Quiet does.
func TestQuietZeroAndNone(t *testing.T) {
	for _, tc := range []struct{ in, want time.Duration }{{0, 10 * time.Millisecond}, {-1, 0}, {time.Second, time.Second}} {
		o := Options{Quiet: tc.in}
		o.setDefaults()
		if o.Quiet != tc.want {
			t.Errorf("Quiet %v became %v, want %v", tc.in, o.Quiet, tc.want)
		}
	}
}
