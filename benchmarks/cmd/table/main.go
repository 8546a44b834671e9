// Command table runs the session benchmarks against the Redis that
// REDIS_URL names (default redis://127.0.0.1:6379/0) and prints the
// comparison table in Markdown:
//
//	cd benchmarks && go run ./cmd/table
//
// Flags: -benchtime (default 2000x), -count (default 3), -only (comma
// separated contender slugs), -v (one line per benchmark run on stderr).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/sessionshield/sessionshield/benchmarks"
)

func main() {
	testing.Init()
	benchtime := flag.String("benchtime", "2000x", "iterations (Nx) or duration of each benchmark run")
	count := flag.Int("count", 3, "runs of each benchmark; the table shows the median")
	only := flag.String("only", "", "comma-separated contender slugs (default: all)")
	verbose := flag.Bool("v", false, "print each benchmark run on stderr")
	flag.Parse()
	if err := flag.Set("test.benchtime", *benchtime); err != nil {
		fail(err)
	}
	ctx := context.Background()
	env, err := benchmarks.NewEnv(ctx)
	if err != nil {
		fail(err)
	}
	defer env.Close()
	opts := benchmarks.TableOptions{Count: *count}
	if *only != "" {
		opts.Slugs = strings.Split(*only, ",")
	}
	if *verbose {
		opts.Progress = os.Stderr
	}
	rows, err := benchmarks.RunTable(ctx, env, opts)
	if err != nil {
		fail(err)
	}
	benchmarks.WriteTable(os.Stdout, env, rows, *count, *benchtime)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "table:", err)
	os.Exit(1)
}
