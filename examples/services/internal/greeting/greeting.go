// Package greeting is shared by both services: an edit here rebuilds and
// swaps both.
package greeting

// Text is what both services greet with.
const Text = "hello"
