package sessionshield_test

import (
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestREADMEQuickStartIsCompiled checks that the README's quick start is
// exactly example/quickstart/main.go, which `go build ./...` and `go vet
// ./...` compile: the snippet users copy cannot rot.
func TestREADMEQuickStartIsCompiled(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("example/quickstart/main.go")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(readme), "<!-- quickstart:begin -->\n```go\n")
	if !ok {
		t.Fatal("README has no quick start block")
	}
	block, _, ok = strings.Cut(block, "```\n<!-- quickstart:end -->")
	if !ok {
		t.Fatal("README's quick start block is not closed")
	}
	if block != string(src) {
		t.Fatalf("README's quick start differs from example/quickstart/main.go; copy the file into the README")
	}
}

// TestExamplesArePlayable checks that every godoc example of the library's
// packages can be copied and run alone: pkg.go.dev shows an example as a
// whole program (its imports and the declarations it uses from its own
// file, such as the examples' send helper) only when go/doc can build one.
// Moving a helper the examples use into another file would silently turn
// them into fragments that do not compile when pasted.
func TestExamplesArePlayable(t *testing.T) {
	for _, dir := range []string{"ginsession", "fingerprint"} {
		paths, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
		if err != nil {
			t.Fatal(err)
		}
		fset := token.NewFileSet()
		var files []*ast.File
		for _, p := range paths {
			f, err := parser.ParseFile(fset, p, nil, parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasSuffix(f.Name.Name, "_test") { // the external test package holds the examples
				files = append(files, f)
			}
		}
		examples := doc.Examples(files...)
		if len(examples) == 0 {
			t.Errorf("%s: no examples found", dir)
		}
		for _, ex := range examples {
			if ex.Play == nil {
				t.Errorf("%s: Example%s is not a complete program on pkg.go.dev (a helper it uses is in another file?)", dir, ex.Name)
			}
		}
		t.Logf("%s: %d examples, each a complete program", dir, len(examples))
	}
}
