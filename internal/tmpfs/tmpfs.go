// Package tmpfs gives tests a directory on a memory file system: a small one
// to fill up, or a fast one for trees of many files (creating a file on this
// machine's ext4 disk costs close to a millisecond of system time).
package tmpfs

import "testing"

// Dir mounts a tmpfs of size (such as "64m") on a new directory for the
// test's life. It returns the directory, or ok false where mounting needs
// privileges the test lacks or the OS has no tmpfs.
func Dir(t testing.TB, size string) (dir string, ok bool) {
	t.Helper()
	dir = t.TempDir()
	if err := mount(dir, size); err != nil {
		t.Logf("no tmpfs (%v): using %s", err, dir)
		return dir, false
	}
	t.Cleanup(func() {
		if err := unmount(dir); err != nil {
			t.Errorf("unmounting %s: %v", dir, err)
		}
	})
	return dir, true
}
