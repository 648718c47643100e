// Package s08 is one of the app's services, on a library of real size.
package s08

import (
	_ "github.com/prometheus/client_golang/prometheus"

	"example.com/realapp/internal/model/m00"
	"example.com/realapp/internal/model/m08"
	"example.com/realapp/internal/model/m09"
)

// Describe says what the service serves.
func Describe() string { return "s08:" + m08.Name() + "," + m09.Name() + "," + m00.Name() }
