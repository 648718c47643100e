// Package s09 is one of the app's services, on a library of real size.
package s09

import (
	_ "k8s.io/client-go/kubernetes"

	"example.com/realapp/internal/model/m00"
	"example.com/realapp/internal/model/m01"
	"example.com/realapp/internal/model/m09"
)

// Describe says what the service serves.
func Describe() string { return "s09:" + m09.Name() + "," + m00.Name() + "," + m01.Name() }
