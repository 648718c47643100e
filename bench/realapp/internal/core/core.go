// Package core is the bottom of the app's own tree: every model imports
// it, and the benchmark's deep edit changes its Version.
package core

import "strings"

// Tag names a thing of the app with the version it was built at.
func Tag(name string) string { return strings.ToLower(name) + "@" + Version }
