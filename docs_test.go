package sessionshield_test

import (
	"os"
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
