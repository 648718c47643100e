// Package s13 is one of the app's services, on a library of real size.
package s13

import (
	_ "google.golang.org/grpc"

	"example.com/realapp/internal/model/m03"
	"example.com/realapp/internal/model/m04"
	"example.com/realapp/internal/model/m05"
)

// Describe says what the service serves.
func Describe() string { return "s13:" + m03.Name() + "," + m04.Name() + "," + m05.Name() }
