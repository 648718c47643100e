// Package s07 is one of the app's services, on a library of real size.
package s07

import (
	_ "go.mongodb.org/mongo-driver/v2/mongo"

	"example.com/realapp/internal/model/m07"
	"example.com/realapp/internal/model/m08"
	"example.com/realapp/internal/model/m09"
)

// Describe says what the service serves.
func Describe() string { return "s07:" + m07.Name() + "," + m08.Name() + "," + m09.Name() }
