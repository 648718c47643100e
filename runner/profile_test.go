package runner

import (
	"slices"
	"testing"
)

func TestFastFlagsAddWhatTheUserLeftUnset(t *testing.T) {
	for _, tc := range []struct {
		name        string
		flags       []string
		ldflags     string
		goflags     string
		wantFlags   []string
		wantLDFlags string
	}{
		{name: "nothing set", wantFlags: []string{"-buildvcs=false"}, wantLDFlags: "-s -w"},
		{name: "ldflags of the user's", ldflags: "-X main.version=dev", wantFlags: []string{"-buildvcs=false"}, wantLDFlags: "-X main.version=dev -s -w"},
		{name: "quoted ldflags kept as written", ldflags: "-X 'main.v=a  b'", wantFlags: []string{"-buildvcs=false"}, wantLDFlags: "-X 'main.v=a  b' -s -w"},
		{name: "DWARF asked for", ldflags: "-w=false", wantFlags: []string{"-buildvcs=false"}, wantLDFlags: "-w=false"},
		{name: "symbols asked for", ldflags: "--s=false", wantFlags: []string{"-buildvcs=false"}, wantLDFlags: "--s=false -w"},
		{name: "-s -w already", ldflags: "-s -w", wantFlags: []string{"-buildvcs=false"}, wantLDFlags: "-s -w"},
		{name: "VCS stamp asked for", flags: []string{"-buildvcs=true"}, wantFlags: []string{"-buildvcs=true"}, wantLDFlags: "-s -w"},
		{name: "VCS stamp in GOFLAGS", goflags: "-mod=mod -buildvcs=auto", wantFlags: nil, wantLDFlags: "-s -w"},
		{name: "double dash", flags: []string{"--buildvcs"}, wantFlags: []string{"--buildvcs"}, wantLDFlags: "-s -w"},
		{name: "ldflags in build.flags replace build.ldflags", flags: []string{"-ldflags=-X main.v=1"}, ldflags: "-s", wantFlags: []string{"-ldflags=-X main.v=1", "-buildvcs=false"}, wantLDFlags: "-s"},
		{name: "ldflags in GOFLAGS", goflags: "-ldflags=-X=main.v=1", wantFlags: []string{"-buildvcs=false"}, wantLDFlags: ""},
		{name: "pattern form", ldflags: "main=-X main.v=1", wantFlags: []string{"-buildvcs=false"}, wantLDFlags: "main=-X main.v=1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := slices.Clone(tc.flags)
			flags, ldflags := FastFlags(tc.flags, tc.ldflags, tc.goflags)
			if !slices.Equal(flags, tc.wantFlags) || ldflags != tc.wantLDFlags {
				t.Errorf("FastFlags(%q, %q, %q) = %q, %q; want %q, %q", tc.flags, tc.ldflags, tc.goflags, flags, ldflags, tc.wantFlags, tc.wantLDFlags)
			}
			if !slices.Equal(in, tc.flags) {
				t.Errorf("FastFlags changed its argument: %q, was %q", tc.flags, in)
			}
		})
	}
}
