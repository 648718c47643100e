// Package s04 is one of the app's services, on a library of real size.
package s04

import (
	_ "google.golang.org/grpc"

	"example.com/realapp/internal/model/m04"
	"example.com/realapp/internal/model/m05"
	"example.com/realapp/internal/model/m06"
)

// Describe says what the service serves.
func Describe() string { return "s04:" + m04.Name() + "," + m05.Name() + "," + m06.Name() }
