// Package s10 is one of the app's services, on a library of real size.
package s10

import (
	_ "github.com/aws/aws-sdk-go-v2/service/s3"

	"example.com/realapp/internal/model/m00"
	"example.com/realapp/internal/model/m01"
	"example.com/realapp/internal/model/m02"
)

// Describe says what the service serves.
func Describe() string { return "s10:" + m00.Name() + "," + m01.Name() + "," + m02.Name() }
