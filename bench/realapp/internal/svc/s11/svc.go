// Package s11 is one of the app's services, on a library of real size.
package s11

import (
	_ "github.com/jackc/pgx/v5/pgxpool"

	"example.com/realapp/internal/model/m01"
	"example.com/realapp/internal/model/m02"
	"example.com/realapp/internal/model/m03"
)

// Describe says what the service serves.
func Describe() string { return "s11:" + m01.Name() + "," + m02.Name() + "," + m03.Name() }
