// Package m04 is one of the app's models.
package m04

import "example.com/realapp/internal/core"

// Name is the model's name, tagged with the version.
func Name() string { return core.Tag("M04") }

// Kind is the model's kind, as the API names it.
const Kind = "m04." + core.Version
