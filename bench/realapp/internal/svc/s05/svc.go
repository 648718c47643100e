// Package s05 is one of the app's services, on a library of real size.
package s05

import (
	_ "cloud.google.com/go/storage"

	"example.com/realapp/internal/model/m05"
	"example.com/realapp/internal/model/m06"
	"example.com/realapp/internal/model/m07"
)

// Describe says what the service serves.
func Describe() string { return "s05:" + m05.Name() + "," + m06.Name() + "," + m07.Name() }
