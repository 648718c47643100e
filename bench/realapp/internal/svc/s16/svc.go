// Package s16 is one of the app's services, on a library of real size.
package s16

import (
	_ "go.mongodb.org/mongo-driver/v2/mongo"

	"example.com/realapp/internal/model/m06"
	"example.com/realapp/internal/model/m07"
	"example.com/realapp/internal/model/m08"
)

// Describe says what the service serves.
func Describe() string { return "s16:" + m06.Name() + "," + m07.Name() + "," + m08.Name() }
