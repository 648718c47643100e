package watcher

import (
	"errors"
	"fmt"
	"runtime"
	"syscall"
)

// errLimit marks errors caused by an OS limit on file watches.
var errLimit = errors.New("OS limit on file watches reached")

// withLimitHint adds to err, when an OS limit on watches caused it, what to
// change to raise the limit.
func withLimitHint(err error) error {
	switch {
	case errors.Is(err, syscall.ENOSPC) && runtime.GOOS == "linux":
		return fmt.Errorf("%w (%w): raise it with 'sudo sysctl fs.inotify.max_user_watches=524288' (add it to /etc/sysctl.d/ to keep it)", err, errLimit)
	case errors.Is(err, syscall.EMFILE) && runtime.GOOS == "linux":
		return fmt.Errorf("%w (%w): raise it with 'sudo sysctl fs.inotify.max_user_instances=1024', or close other watchers", err, errLimit)
	case errors.Is(err, syscall.EMFILE):
		return fmt.Errorf("%w (%w): raise the open-file limit with 'ulimit -n 10240', or exclude large directories", err, errLimit)
	}
	return err
}

func isLimit(err error) bool { return errors.Is(err, errLimit) }
