package benchmarks

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// TableOptions chooses what RunTable runs.
type TableOptions struct {
	// Count is how many times each benchmark runs; the table shows the
	// run with the median ns/op. The rounds are interleaved across
	// contenders so that a noisy neighbour slows them all alike.
	// Default: 3.
	Count int
	// Slugs limits the table to these contenders. Default: all.
	Slugs []string
	// Progress, when set, gets one line per benchmark run.
	Progress io.Writer
}

// Row is one contender's line of the table.
type Row struct {
	Contender  Contender
	ReadSerial testing.BenchmarkResult
	ReadPar    testing.BenchmarkResult
	Login      testing.BenchmarkResult
	Memory     Memory
}

// RunTable runs every benchmark of the selected contenders with
// testing.Benchmark and returns the rows. The iteration count or duration
// comes from the -test.benchtime flag (testing.Init registers it).
func RunTable(ctx context.Context, env *Env, opts TableOptions) ([]Row, error) {
	if opts.Count <= 0 {
		opts.Count = 3
	}
	var cs []Contender
	for _, c := range Contenders() {
		if len(opts.Slugs) == 0 || slices.Contains(opts.Slugs, c.Slug) {
			cs = append(cs, c)
		}
	}
	rows := make([]Row, len(cs))
	serial := make([][]testing.BenchmarkResult, len(cs))
	par := make([][]testing.BenchmarkResult, len(cs))
	login := make([][]testing.BenchmarkResult, len(cs))
	for i, c := range cs {
		rows[i].Contender = c
		m, err := MeasureMemory(ctx, env, c)
		if err != nil {
			return nil, fmt.Errorf("%s: memory: %w", c, err)
		}
		rows[i].Memory = m
	}
	for round := range opts.Count {
		for i, c := range cs {
			t, err := c.New(ctx, env, env.Prefix(c.Slug))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", c, err)
			}
			var failed string
			run := func(kind string, f func(b *testing.B)) testing.BenchmarkResult {
				r := testing.Benchmark(func(b *testing.B) {
					f(b)
					if b.Failed() {
						failed = kind
					}
				})
				if opts.Progress != nil {
					fmt.Fprintf(opts.Progress, "round %d %-28s %-8s %s%s\n", round+1, c.Slug, kind, r.String(), r.MemString())
				}
				return r
			}
			serial[i] = append(serial[i], run("read", func(b *testing.B) { BenchRead(b, t, false) }))
			par[i] = append(par[i], run("read-par", func(b *testing.B) { BenchRead(b, t, true) }))
			login[i] = append(login[i], run("login", func(b *testing.B) { BenchLogin(b, t) }))
			if err := t.Close(); err != nil {
				return nil, fmt.Errorf("%s: cleanup: %w", c, err)
			}
			if failed != "" {
				return nil, fmt.Errorf("%s: the %s benchmark failed (a request was refused)", c, failed)
			}
		}
	}
	for i := range rows {
		rows[i].ReadSerial = median(serial[i])
		rows[i].ReadPar = median(par[i])
		rows[i].Login = median(login[i])
	}
	return rows, nil
}

// median returns the result with the median ns/op.
func median(rs []testing.BenchmarkResult) testing.BenchmarkResult {
	s := slices.Clone(rs)
	slices.SortFunc(s, func(a, b testing.BenchmarkResult) int { return int(a.NsPerOp() - b.NsPerOp()) })
	return s[len(s)/2]
}

// WriteTable prints the rows as a Markdown table, with the machine, the
// Redis version and the date above it and the target ratios below it.
func WriteTable(w io.Writer, env *Env, rows []Row, count int, benchtime string) {
	host, _ := os.Hostname()
	_ = host
	fmt.Fprintf(w, "Measured %s on %s/%s, %d CPUs (GOMAXPROCS %d), %s, %s at %s.\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(),
		runtime.GOMAXPROCS(0), runtime.Version(), env.ServerInfo(context.Background()), env.URL)
	fmt.Fprintf(w, "In-process (httptest.NewRecorder + ServeHTTP); benchtime %s, median of %d interleaved runs; "+
		"parallel = %d goroutines; bytes/session = MEMORY USAGE after one login of %q with a 5-byte key prefix.\n\n",
		benchtime, count, Parallelism()*runtime.GOMAXPROCS(0), MemoryUserID)
	fmt.Fprintln(w, "| contender | cmds/read | round trips/read | allocs/read | B/read | ns/read serial | ns/read parallel | bytes/session (session / +index) | round trips/login | cmds/login | allocs/login | ns/login |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, r := range rows {
		mem := "0 (no Redis)"
		if r.Contender.Redis {
			mem = fmt.Sprintf("%d / %d", r.Memory.SessionBytes, r.Memory.TotalBytes)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %d | %d | %d | %d | %s | %s | %s | %d | %d |\n",
			r.Contender.Name,
			metric(r.ReadSerial, "cmds/op"), metric(r.ReadSerial, "roundtrips/op"),
			r.ReadSerial.AllocsPerOp(), r.ReadSerial.AllocedBytesPerOp(),
			r.ReadSerial.NsPerOp(), r.ReadPar.NsPerOp(), mem,
			metric(r.Login, "roundtrips/op"), metric(r.Login, "cmds/op"),
			r.Login.AllocsPerOp(), r.Login.NsPerOp())
	}
	fmt.Fprintln(w)
	writeTargets(w, rows)
}

func metric(r testing.BenchmarkResult, unit string) string {
	v := r.Extra[unit]
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%.2f", v)
}

// writeTargets checks sessionshield against the targets of issue 5, with
// ratios taken from this same run. It reports; it asserts nothing.
func writeTargets(w io.Writer, rows []Row) {
	find := func(slug string) *Row {
		for i := range rows {
			if rows[i].Contender.Slug == slug {
				return &rows[i]
			}
		}
		return nil
	}
	ss, floor, gc, harness := find("sessionshield"), find("floor"), find("gincontrib-redis"), find("harness")
	if ss == nil {
		return
	}
	var lines []string
	check := func(ok bool, format string, args ...any) {
		mark := "FAIL"
		if ok {
			mark = "pass"
		}
		lines = append(lines, fmt.Sprintf("- %s: %s", mark, fmt.Sprintf(format, args...)))
	}
	rt := ss.ReadSerial.Extra["roundtrips/op"]
	check(rt == 1, "guarded read: %.2f Redis round trips (target exactly 1)", rt)
	if floor != nil {
		x := float64(ss.ReadPar.NsPerOp()) / float64(floor.ReadPar.NsPerOp())
		check(x <= 1.25, "guarded read, parallel: %.2fx the one-GET floor (target at most 1.25x)", x)
		x = float64(ss.ReadSerial.NsPerOp()) / float64(floor.ReadSerial.NsPerOp())
		lines = append(lines, fmt.Sprintf("- info: guarded read, serial: %.2fx the one-GET floor", x))
	}
	if gc != nil {
		x := float64(gc.ReadPar.NsPerOp()) / float64(ss.ReadPar.NsPerOp())
		check(x >= 2, "guarded read, parallel: gin-contrib redis store takes %.2fx sessionshield's time (target at least 2x)", x)
	}
	allocs := ss.ReadSerial.AllocsPerOp()
	note := ""
	if harness != nil {
		note = fmt.Sprintf("; %d without the harness's %d (gin, JSON body, recorder)", allocs-harness.ReadSerial.AllocsPerOp(), harness.ReadSerial.AllocsPerOp())
	}
	check(allocs <= 90, "guarded read: %d allocs (target at most 90)%s", allocs, note)
	lrt := ss.Login.Extra["roundtrips/op"]
	check(lrt <= 1, "login: %.2f Redis round trips (target at most 1)", lrt)
	check(ss.Memory.SessionBytes <= 200, "session in Redis: %d bytes (target at most 200)", ss.Memory.SessionBytes)
	check(ss.Memory.TotalBytes <= 320, "session + user index in Redis: %d bytes (target at most 320)", ss.Memory.TotalBytes)
	fmt.Fprintln(w, "Targets for sessionshield (ratios from this run):")
	fmt.Fprintln(w)
	fmt.Fprintln(w, strings.Join(lines, "\n"))
}
