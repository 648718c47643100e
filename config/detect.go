package config

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
)

// mainPackage finds the main package of the module in dir: dir itself when
// it holds one, or else the only cmd/<name> that does. It returns "." when
// it finds neither, so that the build says what is wrong.
func mainPackage(dir string) string {
	if isMain(dir) {
		return "."
	}
	found := MainPackages(dir)
	if len(found) == 1 {
		return found[0]
	}
	return "."
}

// MainPackages returns the main packages of the module in dir under
// cmd/ (./cmd/api, ./cmd/worker), sorted.
func MainPackages(dir string) []string {
	dirs, _ := filepath.Glob(filepath.Join(dir, "cmd", "*"))
	var found []string
	for _, d := range dirs {
		if isMain(d) {
			found = append(found, "./cmd/"+filepath.Base(d))
		}
	}
	return found
}

// IsMain reports whether dir holds a main package (a non-test Go file of
// package main).
func IsMain(dir string) bool { return isMain(dir) }

// isMain reports whether dir holds a non-test Go file of package main.
func isMain(dir string) bool {
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		file, err := parser.ParseFile(token.NewFileSet(), f, src, parser.PackageClauseOnly)
		if err == nil && file.Name.Name == "main" {
			return true
		}
	}
	return false
}

// BinaryName is the name given to the app's binary: the base name of its
// package's directory.
func (c *Config) BinaryName(dir string) string {
	abs, err := filepath.Abs(filepath.Join(dir, c.Build.Package))
	if err != nil || filepath.Base(abs) == string(filepath.Separator) {
		return "app"
	}
	return filepath.Base(abs)
}
