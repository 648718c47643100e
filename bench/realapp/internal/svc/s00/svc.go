// Package s00 is one of the app's services, on a library of real size.
package s00

import (
	_ "k8s.io/client-go/kubernetes"

	"example.com/realapp/internal/model/m00"
	"example.com/realapp/internal/model/m01"
	"example.com/realapp/internal/model/m02"
)

// Describe says what the service serves.
func Describe() string { return "s00:" + m00.Name() + "," + m01.Name() + "," + m02.Name() }
