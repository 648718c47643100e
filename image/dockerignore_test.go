package image

import (
	"slices"
	"strings"
	"testing"
)

// The .dockerignore that devrun init writes keeps .git, environment files
// and keys out of the build context that Build sends, and the module in.
func TestInitDockerignoreKeepsGitAndSecretsOut(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"go.mod":                  "module example.com/app\n\ngo 1.26\n",
		"main.go":                 "package main\n\nfunc main() {}\n",
		"internal/store/store.go": "package store",
		".git/HEAD":               "ref: refs/heads/main\n",
		".git/config":             "[core]\n",
		".git/objects/ab/cdef":    "blob",
		".env":                    "DATABASE_URL=postgres://secret\n",
		".env.local":              "TOKEN=secret\n",
		"config/.env":             "TOKEN=secret\n",
		"certs/server.key":        "-----BEGIN PRIVATE KEY-----\n",
		"certs/server.pem":        "-----BEGIN CERTIFICATE-----\n",
		"id_rsa":                  "-----BEGIN OPENSSH PRIVATE KEY-----\n",
	})
	names, err := Init(InitOptions{Dir: dir, Package: "."})
	if err != nil || !slices.Contains(names, ".dockerignore") {
		t.Fatalf("Init = %v, %v; want a .dockerignore written", names, err)
	}
	ctx, err := Context(dir, "Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	files, err := Files(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f == ".git" || strings.HasPrefix(f, ".git/") {
			t.Errorf("the context holds %s", f)
		}
	}
	if s := Secrets(files); len(s) > 0 {
		t.Errorf("the context holds secrets: %v", s)
	}
	for _, f := range []string{".env", ".env.local", "config/.env", "certs/server.key", "certs/server.pem", "id_rsa"} {
		if slices.Contains(files, f) {
			t.Errorf("the context holds %s", f)
		}
	}
	for _, f := range []string{"go.mod", "main.go", "internal/store/store.go", "Dockerfile"} {
		if !slices.Contains(files, f) {
			t.Errorf("the context lacks %s: %v", f, files)
		}
	}
}

// What the build embeds (//go:embed dist, a common name for a frontend's
// output) or compiles from a directory the .dockerignore leaves out (tmp)
// is kept in the build context: the .dockerignore devrun init writes holds
// an exception for it, and nothing else of its list is lifted.
func TestInitDockerignoreKeepsWhatTheBuildReads(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"go.mod":               "module example.com/app\n\ngo 1.26\n",
		"main.go":              "package main\n\nimport (\n\t\"embed\"\n\n\t_ \"example.com/app/tmp/gen\"\n)\n\n//go:embed dist\nvar dist embed.FS\n\nfunc main() { _ = dist }\n",
		"dist/index.html":      "<h1>app</h1>\n",
		"dist/assets/app.js":   "console.log(1)\n",
		"tmp/gen/gen.go":       "package gen\n",
		"node_modules/x/x.js":  "module.exports = 1\n",
		"web/dist/unused.html": "not embedded\n",
		".env":                 "TOKEN=secret\n",
	})
	if _, err := Init(InitOptions{Dir: dir, Package: "."}); err != nil {
		t.Fatal(err)
	}
	ctx, err := Context(dir, "Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	files, err := Files(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"main.go", "dist/index.html", "dist/assets/app.js", "tmp/gen/gen.go"} {
		if !slices.Contains(files, f) {
			t.Errorf("the context lacks %s, which the build reads: %v", f, files)
		}
	}
	for _, f := range []string{"node_modules/x/x.js", ".env"} {
		if slices.Contains(files, f) {
			t.Errorf("the context holds %s", f)
		}
	}
}
