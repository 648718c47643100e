// Package s01 is one of the app's services, on a library of real size.
package s01

import (
	_ "github.com/aws/aws-sdk-go-v2/service/s3"

	"example.com/realapp/internal/model/m01"
	"example.com/realapp/internal/model/m02"
	"example.com/realapp/internal/model/m03"
)

// Describe says what the service serves.
func Describe() string { return "s01:" + m01.Name() + "," + m02.Name() + "," + m03.Name() }
