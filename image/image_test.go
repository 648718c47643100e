package image

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func write(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// The Dockerfile and .dockerignore are sent even when .dockerignore
// excludes them; .git and secrets are not.
func TestContextAlwaysSendsTheBuildFiles(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		".dockerignore": "*\n!main.go\n", "Dockerfile": "FROM scratch\n", "main.go": "package main",
		".git/HEAD": "ref", ".env": "A=1", "other.go": "package main",
	})
	ctx, err := Context(dir, "Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	files, _ := Files(ctx)
	slices.Sort(files)
	if want := []string{".dockerignore", "Dockerfile", "main.go"}; !slices.Equal(files, want) {
		t.Errorf("context %v, want %v", files, want)
	}
}

func TestInitWritesAndTheClassicFallbackParses(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{"go.mod": "module example.com/Web-App\n\ngo 1.25.3\n", "cmd/web/main.go": "package main\n\nimport (\n\t\"net/http\"\n\t\"time\"\n)\n\nvar _ = time.LoadLocation\nvar _ = http.Get\n\nfunc main() {}\n"})
	names, err := Init(InitOptions{Dir: dir, Package: "./cmd/web", Port: 9000})
	if err != nil || len(names) != 2 {
		t.Fatalf("Init = %v, %v", names, err)
	}
	df, _ := os.ReadFile(filepath.Join(dir, "Dockerfile"))
	for _, want := range []string{"golang:1.25-alpine", "-tags timetzdata -o /out/web-app ./cmd/web", "EXPOSE 9000", "ca-certificates.crt"} {
		if !strings.Contains(string(df), want) {
			t.Errorf("Dockerfile lacks %q:\n%s", want, df)
		}
	}
	if err := checkDockerfile(df); err != nil {
		t.Errorf("the Dockerfile does not parse: %v", err)
	}
	classic := cacheMount.ReplaceAll(df, nil)
	if strings.Contains(string(classic), "--mount") {
		t.Errorf("the classic Dockerfile keeps a --mount:\n%s", classic)
	}
	if err := checkDockerfile(classic); err != nil || !strings.Contains(string(classic), "RUN go build -trimpath") {
		t.Errorf("the classic Dockerfile: %v\n%s", err, classic)
	}
	if _, err := Init(InitOptions{Dir: dir, Package: "."}); err == nil || !strings.Contains(err.Error(), "Dockerfile and .dockerignore already exist") {
		t.Errorf("Init over existing files: %v", err)
	}
}
