package benchmarks

import (
	"context"
	"testing"
)

// benchEnv connects to Redis or skips the benchmark.
func benchEnv(b *testing.B) *Env {
	b.Helper()
	env, err := NewEnv(context.Background())
	if err != nil {
		b.Skip(err)
	}
	b.Cleanup(func() { _ = env.Close() })
	return env
}

func benchTarget(b *testing.B, env *Env, c Contender) *Target {
	b.Helper()
	t, err := c.New(context.Background(), env, env.Prefix(c.Slug))
	if err != nil {
		b.Fatalf("%s: %v", c, err)
	}
	b.Cleanup(func() {
		if err := t.Close(); err != nil {
			b.Errorf("%s: cleanup: %v", c, err)
		}
	})
	return t
}

// BenchmarkProfileRead measures GET /profile for each contender, from one
// goroutine and from 4×GOMAXPROCS.
func BenchmarkProfileRead(b *testing.B) {
	env := benchEnv(b)
	for _, c := range Contenders() {
		b.Run(c.Slug, func(b *testing.B) {
			t := benchTarget(b, env, c)
			b.Run("serial", func(b *testing.B) { BenchRead(b, t, false) })
			b.Run("parallel", func(b *testing.B) { BenchRead(b, t, true) })
		})
	}
}

// BenchmarkLogin measures POST /login for each contender and reports what
// one session occupies in Redis.
func BenchmarkLogin(b *testing.B) {
	env := benchEnv(b)
	for _, c := range Contenders() {
		b.Run(c.Slug, func(b *testing.B) {
			t := benchTarget(b, env, c)
			BenchLogin(b, t)
			m, err := MeasureMemory(context.Background(), env, c)
			if err != nil {
				b.Fatal(err)
			}
			ReportMemory(b, m)
		})
	}
}
