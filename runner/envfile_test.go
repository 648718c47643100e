package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadEnvFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, ".env")
	os.WriteFile(p, []byte("# the app's settings\nA=1\nexport B=\"two words\"\nC='x=y'\n\nD=${A}2\n"), 0o644)
	env, err := ReadEnvFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(env, "|"); got != "A=1|B=two words|C=x=y|D=12" {
		t.Errorf("ReadEnvFile = %q", got)
	}
	for content, want := range map[string]string{
		"A=1\nthis is bad\n": ".env:2: ",
		"A=1\nB='unclosed\n": ".env:2: ",
		"A=1\n=x\n":          `.env:2: "" is not a variable's name`,
		"A=1\nB=2\nA B=1\n":  `.env:3: "A B" is not a variable's name`,
		"A=1\n9LIVES=cat\n":  `.env:2: "9LIVES" is not a variable's name`,
	} {
		os.WriteFile(p, []byte(content), 0o644)
		if _, err := ReadEnvFile(p); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ReadEnvFile of %q: %v; want %q", content, err, want)
		}
	}
	if _, err := ReadEnvFile(filepath.Join(dir, "nope")); err == nil || !strings.Contains(err.Error(), "reading the env file") {
		t.Errorf("a missing file: %v", err)
	}
}
