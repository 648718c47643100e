// Package m07 is one of the app's models.
package m07

import "example.com/realapp/internal/core"

// Name is the model's name, tagged with the version.
func Name() string { return core.Tag("M07") }

// Kind is the model's kind, as the API names it.
const Kind = "m07." + core.Version
