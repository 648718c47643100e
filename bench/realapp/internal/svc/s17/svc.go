// Package s17 is one of the app's services, on a library of real size.
package s17

import (
	_ "github.com/prometheus/client_golang/prometheus"

	"example.com/realapp/internal/model/m07"
	"example.com/realapp/internal/model/m08"
	"example.com/realapp/internal/model/m09"
)

// Describe says what the service serves.
func Describe() string { return "s17:" + m07.Name() + "," + m08.Name() + "," + m09.Name() }
