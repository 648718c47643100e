package rules

import (
	"bufio"
	"bytes"
	"go/parser"
	"go/token"
	"hash/maphash"
	"os"
	"strings"
	"sync"
)

// Contents remembers what files hold, to tell a change that changes
// nothing (an editor's "save all", touch, a formatter with nothing to do,
// a branch switch that left a file as it was) from one that does, and,
// for Go files, whether the change touched what the build graph depends
// on: the imports, the //go:embed and the //go:build lines. It keeps a
// size and two 64-bit hashes a file. It is safe for concurrent use.
type Contents struct {
	mu   sync.Mutex
	seed maphash.Seed
	sums map[string]sum
}

type sum struct {
	size         int64
	body, header uint64
}

// NewContents returns an empty Contents.
func NewContents() *Contents {
	return &Contents{seed: maphash.MakeSeed(), sums: map[string]sum{}}
}

// A Change says how a file changed.
type Change struct {
	Content bool // what it holds is not what was recorded (or nothing was, or it is gone)
	Header  bool // a Go file's imports, //go:embed or //go:build lines changed, or it is new or gone
}

// Compare reads the file at the absolute path p, records it, and says how
// it changed since it was last recorded.
func (c *Contents) Compare(p string) Change {
	now, ok := c.read(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	old, had := c.sums[p]
	if !ok {
		delete(c.sums, p)
		return Change{Content: true, Header: had || strings.HasSuffix(p, ".go")}
	}
	c.sums[p] = now
	if !had {
		return Change{Content: true, Header: true}
	}
	return Change{Content: old.size != now.size || old.body != now.body, Header: old.header != now.header}
}

// Record records what the files at the absolute paths ps hold, and
// returns how many it read and their bytes.
func (c *Contents) Record(ps ...string) (files int, bytes int64) {
	for _, p := range ps {
		s, ok := c.read(p)
		if !ok {
			continue
		}
		c.mu.Lock()
		c.sums[p] = s
		c.mu.Unlock()
		files++
		bytes += s.size
	}
	return files, bytes
}

// Known reports whether p has been recorded.
func (c *Contents) Known(p string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.sums[p]
	return ok
}

func (c *Contents) read(p string) (sum, bool) {
	b, err := os.ReadFile(p)
	if err != nil {
		return sum{}, false
	}
	s := sum{size: int64(len(b)), body: maphash.Bytes(c.seed, b)}
	if strings.HasSuffix(p, ".go") {
		s.header = maphash.Bytes(c.seed, goHeader(p, b))
	}
	return s, true
}

// goHeader returns what of a Go file the build graph depends on: its
// package clause and imports, and its //go:embed and //go:build lines.
func goHeader(name string, src []byte) []byte {
	var h bytes.Buffer
	f, err := parser.ParseFile(token.NewFileSet(), name, src, parser.ImportsOnly)
	if err != nil {
		h.WriteString("unparsable\n") // as the build sees it: broken, until it parses
	} else {
		h.WriteString(f.Name.Name + "\n")
		for _, imp := range f.Imports {
			h.WriteString(imp.Path.Value + "\n")
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "//go:embed") || strings.HasPrefix(line, "//go:build") || strings.HasPrefix(line, "// +build") {
			h.WriteString(line + "\n")
		}
	}
	return h.Bytes()
}
