package image

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestPlatformIsParsedOrRefused(t *testing.T) {
	for in, want := range map[string]ocispec.Platform{
		"linux/amd64":    {OS: "linux", Architecture: "amd64"},
		"linux/arm64/v8": {OS: "linux", Architecture: "arm64", Variant: "v8"},
		"Linux/AMD64":    {OS: "linux", Architecture: "amd64"},
	} {
		opts, err := BuildOptions{Platform: in}.apiOptions()
		if err != nil || len(opts.Platforms) != 1 || opts.Platforms[0].OS != want.OS ||
			opts.Platforms[0].Architecture != want.Architecture || opts.Platforms[0].Variant != want.Variant {
			t.Errorf("platform %q: %v, %v; want %v", in, opts.Platforms, err, want)
		}
	}
	if opts, err := (BuildOptions{}).apiOptions(); err != nil || len(opts.Platforms) != 0 {
		t.Errorf("no platform: %v, %v; want none, the engine's", opts.Platforms, err)
	}
	// These were dropped without a word, and the image built for the engine's platform.
	for _, in := range []string{"linux", "linux/", "/amd64", "linux/arm64/", "linux/arm64/v8/x", "linux/amd 64", "linux//v8"} {
		if opts, err := (BuildOptions{Platform: in}).apiOptions(); err == nil || !strings.Contains(err.Error(), `the platform "`+in+`" is not os/arch or os/arch/variant`) {
			t.Errorf("platform %q: %v, %v; want an error", in, opts.Platforms, err)
		}
	}
}

// TestBuildRefusesABadPlatformBeforeTheEngine: the engine (nil here) is
// never asked to build for a platform devrun could not read.
func TestBuildRefusesABadPlatformBeforeTheEngine(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, builder := range []string{BuilderClassic, BuilderBuildKit} {
		_, err := Build(context.Background(), BuildOptions{Dir: dir, Platform: "linux/", Builder: builder, Log: slog.New(slog.DiscardHandler)})
		if err == nil || !strings.Contains(err.Error(), `the platform "linux/"`) {
			t.Errorf("%s: %v, want the platform refused", builder, err)
		}
	}
}
