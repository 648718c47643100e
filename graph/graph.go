// Package graph knows what a Go build reads. For a main package it asks the
// go command (go list -deps), with the build's own tags, flags and
// environment (GOOS, GOARCH, CGO_ENABLED, GOFLAGS, GOWORK), for every
// package of the dependency graph, and keeps those that live on this disk
// outside the module cache and GOROOT: the main module's, those of replace
// directives with local paths, and those of go.work's use directories. For
// each it records the files the build reads (Go, cgo, C, C++, assembly,
// syso and embedded files) and those it would read were their build
// constraints to change (the Go files that tags or GOOS leave out), and the
// module and workspace files that steer the build.
//
// A Graph is a value: Load makes a new one, and it is never changed after;
// it is safe for concurrent use.
package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Options says which build the graph is of.
type Options struct {
	Dir     string   // where the build runs; default "."
	Package string   // the main package; default "."
	Tags    []string // -tags
	Flags   []string // further build flags (-mod, -modfile, -race, ...): go list takes the build's
	Env     []string // KEY=value entries added to the environment, as the build's
}

// A Graph is what one build reads.
type Graph struct {
	// Files maps each file the build reads, by absolute path, to the import
	// path of the package that reads it; the module and workspace files
	// (go.mod, go.sum, go.work, go.work.sum) map to "".
	Files map[string]string
	// Ignored maps each Go file of a package directory that the build's
	// constraints leave out (foo_windows.go on Linux, a //go:build tag) to
	// its package: a change there can make it part of the build.
	Ignored map[string]string
	// Dirs maps each package directory to its import path.
	Dirs map[string]string
	// EmbedDirs maps each directory that holds embedded files (and those
	// between it and its package's directory) to the package: a file added
	// there may be embedded too.
	EmbedDirs map[string]string
	// Main is the import path of the main package.
	Main string
	// Roots are the directories of the modules (and the workspace) on this
	// disk whose packages the build reads: what must be watched.
	Roots []string
	// Errors are the go command's complaints about packages it could not
	// load (a missing import while an edit is under way): the graph holds
	// what it could load.
	Errors []string
	// Took is how long the go command took.
	Took time.Duration
}

// pkg is the part of go list -json that the graph needs.
type pkg struct {
	Dir, ImportPath string
	Standard        bool
	Module          *struct {
		Path, Dir, GoMod string
		Main             bool
	}
	GoFiles, CgoFiles, CFiles, CXXFiles, MFiles, HFiles, FFiles, SFiles []string
	SwigFiles, SwigCXXFiles, SysoFiles, EmbedFiles                      []string
	IgnoredGoFiles, IgnoredOtherFiles                                   []string
	Error                                                               *struct{ Err string }
	DepsErrors                                                          []*struct{ Err string }
}

var fields = "Dir,ImportPath,Standard,Module,GoFiles,CgoFiles,CFiles,CXXFiles,MFiles,HFiles,FFiles,SFiles," +
	"SwigFiles,SwigCXXFiles,SysoFiles,EmbedFiles,IgnoredGoFiles,IgnoredOtherFiles,Error,DepsErrors"

// Load asks the go command for the graph. The call is bounded by ctx; the
// go command's process ends with it.
func Load(ctx context.Context, opts Options) (*Graph, error) {
	if opts.Dir == "" {
		opts.Dir = "."
	}
	if opts.Package == "" {
		opts.Package = "."
	}
	env := append(os.Environ(), opts.Env...)
	args := []string{"list", "-e", "-deps", "-json=" + fields}
	if len(opts.Tags) > 0 {
		args = append(args, "-tags", strings.Join(opts.Tags, ","))
	}
	args = append(args, listFlags(opts.Flags)...)
	args = append(args, opts.Package)
	start := time.Now()
	// The go command's environment, asked beside the listing.
	type paths struct {
		modCache, goroot, work string
		err                    error
	}
	envc := make(chan paths, 1)
	go func() {
		var p paths
		p.modCache, p.goroot, p.work, p.err = goPaths(ctx, opts.Dir, env)
		envc <- p
	}()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = opts.Dir
	cmd.Env = env
	cmd.WaitDelay = time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("listing the build's packages: %w", err)
	}
	// The output is decoded as it comes: a large graph's JSON is never held
	// whole.
	var pkgs []pkg
	dec := json.NewDecoder(stdout)
	var decErr error
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			decErr = fmt.Errorf("reading go list's output: %w", err)
			io.Copy(io.Discard, stdout)
			break
		}
		pkgs = append(pkgs, trim(p))
	}
	err = cmd.Wait()
	took := time.Since(start)
	env2 := <-envc
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("listing the build's packages (go %s): %w\n%s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	if decErr != nil {
		return nil, decErr
	}
	if env2.err != nil {
		return nil, env2.err
	}
	modCache, goroot := env2.modCache, env2.goroot
	g := &Graph{Files: map[string]string{}, Ignored: map[string]string{}, Dirs: map[string]string{}, EmbedDirs: map[string]string{}, Took: took}
	roots := map[string]bool{}
	for _, p := range pkgs {
		if p.Error != nil {
			g.Errors = append(g.Errors, p.Error.Err)
		}
		if p.Standard || p.Dir == "" || within(p.Dir, modCache) || within(p.Dir, goroot) {
			continue
		}
		g.Dirs[p.Dir] = p.ImportPath
		g.Main = p.ImportPath // go list -deps lists the package named last
		for _, f := range p.EmbedFiles {
			for d := filepath.Dir(filepath.Join(p.Dir, f)); d != p.Dir && within(d, p.Dir); d = filepath.Dir(d) {
				g.EmbedDirs[d] = p.ImportPath
			}
		}
		for _, list := range [][]string{p.GoFiles, p.CgoFiles, p.CFiles, p.CXXFiles, p.MFiles, p.HFiles, p.FFiles, p.SFiles,
			p.SwigFiles, p.SwigCXXFiles, p.SysoFiles, p.EmbedFiles} {
			for _, f := range list {
				g.Files[filepath.Join(p.Dir, f)] = p.ImportPath
			}
		}
		for _, f := range p.IgnoredGoFiles {
			if !strings.HasSuffix(f, "_test.go") {
				g.Ignored[filepath.Join(p.Dir, f)] = p.ImportPath
			}
		}
		if m := p.Module; m != nil && m.Dir != "" && !within(m.Dir, modCache) {
			roots[m.Dir] = true
			for _, f := range []string{m.GoMod, filepath.Join(m.Dir, "go.sum")} {
				if f != "" {
					g.Files[f] = ""
				}
			}
		}
	}
	if work := env2.work; work != "" && work != "off" {
		g.Files[work] = ""
		g.Files[work+".sum"] = ""
		roots[filepath.Dir(work)] = true
	}
	for r := range roots {
		g.Roots = append(g.Roots, r)
	}
	slices.Sort(g.Roots)
	return g, nil
}

// listFlags keeps the build flags go list accepts and that can change the
// graph; the others (-o, -gcflags, -ldflags, -trimpath ...) change how
// packages are compiled, not which.
func listFlags(flags []string) []string {
	var out []string
	for i := 0; i < len(flags); i++ {
		f := flags[i]
		name, _, hasValue := strings.Cut(strings.TrimLeft(f, "-"), "=")
		switch name {
		case "race", "msan", "asan", "cover":
			out = append(out, f)
		case "mod", "modfile", "overlay", "pgo", "buildmode", "compiler", "installsuffix", "pkgdir", "toolexec", "coverpkg", "covermode":
			out = append(out, f)
			if !hasValue && i+1 < len(flags) {
				i++
				out = append(out, flags[i])
			}
		case "ldflags", "gcflags", "asmflags", "gccgoflags", "o", "p", "exec", "tags":
			if !hasValue {
				i++ // their value, which may look like a flag
			}
		}
	}
	return out
}

// goPaths returns GOMODCACHE, GOROOT and GOWORK as the build sees them.
func goPaths(ctx context.Context, dir string, env []string) (modCache, goroot, work string, err error) {
	cmd := exec.CommandContext(ctx, "go", "env", "GOMODCACHE", "GOROOT", "GOWORK")
	cmd.Dir, cmd.Env, cmd.WaitDelay = dir, env, time.Second
	out, err := cmd.Output()
	if err != nil {
		return "", "", "", fmt.Errorf("asking the go command for GOMODCACHE, GOROOT and GOWORK: %w", err)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != 3 {
		return "", "", "", fmt.Errorf("go env GOMODCACHE GOROOT GOWORK said %q", out)
	}
	return strings.TrimSpace(lines[0]), strings.TrimSpace(lines[1]), strings.TrimSpace(lines[2]), nil
}

// trim drops what the graph never needs of a package outside the main
// modules (the standard library's), so that a large graph's listing is
// not held while it is read.
func trim(p pkg) pkg {
	if p.Standard {
		return pkg{Standard: true, Error: p.Error}
	}
	return p
}

// within reports whether path is dir or lies below it.
func within(path, dir string) bool {
	if dir == "" {
		return false
	}
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// Reads reports whether the build reads the file at the absolute path p,
// and the package that does ("" for a module or workspace file).
func (g *Graph) Reads(p string) (pkg string, ok bool) {
	pkg, ok = g.Files[p]
	return pkg, ok
}

// EmbedDirOf returns the package that embeds files from the directory
// that holds p, if any.
func (g *Graph) EmbedDirOf(p string) (pkg string, ok bool) {
	pkg, ok = g.EmbedDirs[filepath.Dir(p)]
	return pkg, ok
}

// PackageOf returns the package whose directory holds the file p, if any.
func (g *Graph) PackageOf(p string) (pkg string, ok bool) {
	pkg, ok = g.Dirs[filepath.Dir(p)]
	return pkg, ok
}
