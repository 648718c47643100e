// Package s14 is one of the app's services, on a library of real size.
package s14

import (
	_ "cloud.google.com/go/storage"

	"example.com/realapp/internal/model/m04"
	"example.com/realapp/internal/model/m05"
	"example.com/realapp/internal/model/m06"
)

// Describe says what the service serves.
func Describe() string { return "s14:" + m04.Name() + "," + m05.Name() + "," + m06.Name() }
