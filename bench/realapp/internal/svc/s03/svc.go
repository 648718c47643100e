// Package s03 is one of the app's services, on a library of real size.
package s03

import (
	_ "github.com/gin-gonic/gin"

	"example.com/realapp/internal/model/m03"
	"example.com/realapp/internal/model/m04"
	"example.com/realapp/internal/model/m05"
)

// Describe says what the service serves.
func Describe() string { return "s03:" + m03.Name() + "," + m04.Name() + "," + m05.Name() }
