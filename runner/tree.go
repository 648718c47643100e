package runner

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync/atomic"
)

// InstanceEnv names the variable that devrun puts in the environment of
// every process it starts, the app and the build, with a value of that start
// alone. Children inherit it, whatever process group or session they move
// to: on Linux it is how a stop finds the processes of a start that left its
// process group (job-control shells, double forks, daemons). A process that
// clears its environment is still found while it descends from one that
// carries it, and, devrun being the reaper of its orphans, afterwards too
// when it starts a session of its own.
const InstanceEnv = "DEVRUN_INSTANCE"

var instances atomic.Int64

// newInstance returns a value for InstanceEnv that no other start has had.
func newInstance() string {
	var b [4]byte
	rand.Read(b[:])
	return fmt.Sprintf("%d.%d.%s", os.Getpid(), instances.Add(1), hex.EncodeToString(b[:]))
}
