package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestREADMEBenchmarksExist: every benchmark command the README gives for a
// figure names a package that exists and a benchmark that is in it, so a
// reader who runs it measures what the figure says (running them all takes
// minutes of filling stores; this catches a moved package or a renamed
// benchmark).
func TestREADMEBenchmarksExist(t *testing.T) {
	t.Parallel()
	cmds := regexp.MustCompile("go test [^`\n]*-bench[= ]'?(\\w+)'?[^`\n]*? (\\.(?:/[\\w/]*)?)(?:[`\\s]|$)").FindAllStringSubmatch(readme(t), -1)
	if len(cmds) < 5 {
		t.Fatalf("found %d benchmark commands in README.md, want the table's and the sections' (at least 5)", len(cmds))
	}
	for _, m := range cmds {
		name, dir := m[1], m[2]
		files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
		if err != nil || len(files) == 0 {
			t.Errorf("%q: no test files in %s", m[0], dir)
			continue
		}
		found := false
		for _, f := range files {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			found = found || strings.Contains(string(src), "func Benchmark"+name)
		}
		if !found {
			t.Errorf("%q: no Benchmark%s… in %s", m[0], name, dir)
		}
	}
}
