package runner

import (
	"slices"
	"strings"
)

// The dev profile is what devrun adds to `go build` in the loop (build.fast),
// where every binary is thrown away seconds after it starts. Each choice is
// one the user can take back by setting the flag themselves, in build.flags,
// build.ldflags or GOFLAGS: devrun adds a flag only where none is given.
//
// Only flags of the link and of the go command are chosen, none of the
// compiler's: -gcflags, -trimpath or -race change every package's cache key,
// so that the first build would compile the whole graph again instead of
// sharing the cache of the user's own `go build` and `go test`.
//
//   - -ldflags='-s -w': no symbol table and no DWARF. The link writes
//     neither, the part of a large binary's link that grows with it: on an
//     app of 1,568 packages and a 99 MB binary, a main-package edit's build
//     took 7.0-7.4 s against go build's 9.1-9.9 s (2 cores). Panics,
//     runtime/debug stacks, runtime.FuncForPC and pprof profiles still name
//     every function and file:line: they read the runtime's own table
//     (pclntab), which both flags keep. Lost: debuggers (Delve, gdb), and
//     the tools that read the ELF symbol table or DWARF, such as go tool nm,
//     perf and bpftrace. Give -w=false in build.ldflags to keep both, -s=false
//     to keep the symbol table only.
//   - -buildvcs=false: no version-control stamp, which costs the go command
//     `git status` and `git log` on every build (more in a large repository).
//     Lost: the vcs.* settings of runtime/debug.ReadBuildInfo.
var (
	fastLDFlags = []string{"-s", "-w"}
	fastFlags   = []string{"-buildvcs=false"}
)

// FastFlags returns flags and ldflags with the dev profile added: each of its
// flags that is not set already in flags, ldflags or goflags (the GOFLAGS the
// build runs with). The arguments are not modified.
func FastFlags(flags []string, ldflags, goflags string) ([]string, string) {
	out := slices.Clone(flags)
	given := append(slices.Clone(flags), strings.Fields(goflags)...)
	for _, f := range fastFlags {
		if !hasFlag(given, flagName(f)) {
			out = append(out, f)
		}
	}
	if hasFlag(given, "ldflags") || patternForm(ldflags) {
		// -ldflags in build.flags or GOFLAGS replaces build.ldflags; a
		// pattern form (main=-X ...) is the user's own choice of packages.
		return out, ldflags
	}
	given = strings.Fields(ldflags)
	if hasFlag(given, "w") {
		// DWARF asked for, or not: the symbol table goes with it (since
		// Go 1.22, -s implies -w unless -w is given).
		return out, ldflags
	}
	for _, f := range fastLDFlags {
		if !hasFlag(given, flagName(f)) {
			ldflags = strings.TrimSpace(ldflags + " " + f)
		}
	}
	return out, ldflags
}

// hasFlag reports whether args set the flag name, as -name, --name,
// -name=value or --name=value.
func hasFlag(args []string, name string) bool {
	for _, a := range args {
		if flagName(a) == name {
			return true
		}
	}
	return false
}

// flagName returns the name of the flag arg sets ("" for a non-flag).
func flagName(arg string) string {
	if !strings.HasPrefix(arg, "-") {
		return ""
	}
	name := strings.TrimPrefix(strings.TrimPrefix(arg, "-"), "-")
	name, _, _ = strings.Cut(name, "=")
	return name
}

// patternForm reports whether ldflags is in the go command's pattern form,
// pattern=flags, which applies them to some packages only.
func patternForm(ldflags string) bool {
	s := strings.TrimSpace(ldflags)
	return s != "" && !strings.HasPrefix(s, "-") && !strings.HasPrefix(s, "'") && !strings.HasPrefix(s, `"`)
}

// DebugGCFlags is the compiler's flag for a build that Delve debugs well:
// no optimisations and no inlining, in every package, so that variables
// hold their values and lines follow the source.
const DebugGCFlags = "-gcflags=all=-N -l"
