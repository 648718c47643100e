package image

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/moby/moby/client"
)

// refusingEngine answers Ping and ImageBuild with an error; Build reaches
// nothing else of it here (the embedded nil Engine would panic).
type refusingEngine struct{ Engine }

var errRefused = errors.New("refused by the test")

func (refusingEngine) Ping(context.Context, client.PingOptions) (client.PingResult, error) {
	return client.PingResult{}, errRefused
}

func (refusingEngine) ImageBuild(context.Context, io.Reader, client.ImageBuildOptions) (client.ImageBuildResult, error) {
	return client.ImageBuildResult{}, errRefused
}

// Build without a Log discards its messages: the warnings about secrets in
// the context and about the classic builder used to dereference the nil Log.
func TestBuildWithoutALog(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{"Dockerfile": "FROM scratch\nCOPY . /\n", ".env": "TOKEN=x", "main.go": "package main"})
	for _, builder := range []string{BuilderAuto, BuilderClassic} {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("builder %s, no Log: panic: %v", builder, r)
				}
			}()
			_, err := Build(context.Background(), BuildOptions{Engine: refusingEngine{}, Dir: dir, Builder: builder})
			if !errors.Is(err, errRefused) {
				t.Errorf("builder %s, no Log: got %v, want the engine's error", builder, err)
			}
		}()
	}
}
