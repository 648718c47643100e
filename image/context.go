package image

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"

	archive "github.com/moby/go-archive"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// Context returns the build context of dir as a tar, made as the docker CLI
// makes it: .dockerignore's patterns exclude files, the Dockerfile and
// .dockerignore are sent all the same, and every file is owned by 0:0.
func Context(dir, dockerfile string) ([]byte, error) {
	excludes, err := dockerignore(dir)
	if err != nil {
		return nil, err
	}
	excludes = keepBuildFiles(excludes, filepath.ToSlash(dockerfile))
	rc, err := archive.TarWithOptions(dir, &archive.TarOptions{
		ExcludePatterns: excludes,
		ChownOpts:       &archive.ChownOpts{UID: 0, GID: 0},
	})
	if err != nil {
		return nil, fmt.Errorf("making the build context: %w", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("making the build context: %w", err)
	}
	return b, nil
}

func dockerignore(dir string) ([]string, error) {
	f, err := os.Open(filepath.Join(dir, ".dockerignore"))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading .dockerignore: %w", err)
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("reading .dockerignore: %w", err)
	}
	return patterns, nil
}

// keepBuildFiles adds exceptions for the Dockerfile and .dockerignore when
// the patterns exclude them, as the docker CLI does: the daemon needs both.
func keepBuildFiles(excludes []string, dockerfile string) []string {
	for _, f := range []string{".dockerignore", dockerfile} {
		if ok, _ := patternmatcher.MatchesOrParentMatches(f, excludes); ok {
			excludes = append(excludes, "!"+f)
		}
	}
	return excludes
}

// Files lists the regular files and links in a context tar.
func Files(context []byte) ([]string, error) {
	var names []string
	err := eachFile(context, func(h *tar.Header, _ io.Reader) error {
		if h.Typeflag != tar.TypeDir {
			names = append(names, path.Clean(h.Name))
		}
		return nil
	})
	return names, err
}

func eachFile(context []byte, fn func(*tar.Header, io.Reader) error) error {
	tr := tar.NewReader(bytes.NewReader(context))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the build context: %w", err)
		}
		if err := fn(h, tr); err != nil {
			return err
		}
	}
}

// replaceFile returns the context with name's content replaced.
func replaceFile(context []byte, name string, content []byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err := eachFile(context, func(h *tar.Header, r io.Reader) error {
		data, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		if path.Clean(h.Name) == name {
			data = content
			h.Size = int64(len(data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		_, err = tw.Write(data)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// secretLike are base-name patterns of files that look like secrets.
var secretLike = []string{".env", ".env.*", "*.pem", "*.key", "id_rsa*", "id_ed25519*", ".netrc", ".npmrc"}

// Secrets returns the context's files that look like secrets.
func Secrets(files []string) []string {
	var found []string
	for _, f := range files {
		for _, p := range secretLike {
			if ok, _ := path.Match(p, path.Base(f)); ok {
				found = append(found, f)
				break
			}
		}
	}
	return found
}
