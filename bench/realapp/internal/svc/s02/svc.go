// Package s02 is one of the app's services, on a library of real size.
package s02

import (
	_ "github.com/jackc/pgx/v5/pgxpool"

	"example.com/realapp/internal/model/m02"
	"example.com/realapp/internal/model/m03"
	"example.com/realapp/internal/model/m04"
)

// Describe says what the service serves.
func Describe() string { return "s02:" + m02.Name() + "," + m03.Name() + "," + m04.Name() }
