// Package s06 is one of the app's services, on a library of real size.
package s06

import (
	_ "github.com/redis/go-redis/v9"

	"example.com/realapp/internal/model/m06"
	"example.com/realapp/internal/model/m07"
	"example.com/realapp/internal/model/m08"
)

// Describe says what the service serves.
func Describe() string { return "s06:" + m06.Name() + "," + m07.Name() + "," + m08.Name() }
