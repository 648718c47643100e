// Package s15 is one of the app's services, on a library of real size.
package s15

import (
	_ "github.com/redis/go-redis/v9"

	"example.com/realapp/internal/model/m05"
	"example.com/realapp/internal/model/m06"
	"example.com/realapp/internal/model/m07"
)

// Describe says what the service serves.
func Describe() string { return "s15:" + m05.Name() + "," + m06.Name() + "," + m07.Name() }
