// Package redistest is the one place the tests of this module get a Redis.
//
// The server is chosen once per test binary:
//
//  1. REDIS_URL, when set (parsed with redis.ParseURL). If it does not answer,
//     every test that asks for Redis fails: a CI run that meant to test against
//     a real server never silently falls back.
//  2. Otherwise 127.0.0.1:6379, when a PING answers within a short timeout.
//  3. Otherwise an in-process miniredis, so that `go test ./...` passes on a
//     machine that has only Go installed. REDISTEST_MINIREDIS=1 forces it
//     (CI uses that to prove the fallback still works).
//
// The first test that asks for Redis prints, once per test binary, which
// server was chosen and why, on the binary's standard error: go test shows it
// with -v, and for a package with a failing test.
//
// Tests of several packages run at the same time against one server, so every
// test works under its own key prefix (see Prefix) and nothing ever flushes
// the server.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

var (
	once sync.Once
	opts *redis.Options
	// inProcess is true when the chosen server is the in-process miniredis.
	inProcess bool
	initErr   error
)

func setup() {
	var why string
	opts, why, initErr = choose()
	if initErr == nil {
		// The address and database only: a REDIS_URL may hold a password.
		fmt.Fprintf(os.Stderr, "redistest: using %s at %s, db %d (%s)\n", kind(), opts.Addr, opts.DB, why)
	}
}

// choose picks the server (see the package documentation) and says why.
func choose() (*redis.Options, string, error) {
	if url := os.Getenv("REDIS_URL"); url != "" {
		o, err := redis.ParseURL(url)
		if err != nil {
			return nil, "", fmt.Errorf("redistest: REDIS_URL: %w", err)
		}
		if err := ping(o); err != nil {
			return nil, "", fmt.Errorf("redistest: REDIS_URL is set but the server does not answer: %w", err)
		}
		return o, "REDIS_URL", nil
	}
	local := &redis.Options{Addr: "127.0.0.1:6379", DialTimeout: 300 * time.Millisecond}
	why := "REDISTEST_MINIREDIS=1"
	if os.Getenv("REDISTEST_MINIREDIS") != "1" {
		if ping(local) == nil {
			return &redis.Options{Addr: local.Addr}, "no REDIS_URL; the local server answered", nil
		}
		why = "no REDIS_URL, and nothing answers on " + local.Addr
	}
	m := miniredis.NewMiniRedis()
	if err := m.Start(); err != nil {
		return nil, "", fmt.Errorf("redistest: starting miniredis: %w", err)
	}
	inProcess = true
	return &redis.Options{Addr: m.Addr()}, why, nil
}

// kind names the chosen server.
func kind() string {
	if inProcess {
		return "the in-process miniredis"
	}
	return "Redis"
}

func ping(o *redis.Options) error {
	c := redis.NewClient(o)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return c.Ping(ctx).Err()
}

// Options returns a copy of the options of the chosen server, failing t when
// there is none.
func Options(t testing.TB) *redis.Options {
	t.Helper()
	once.Do(setup)
	if initErr != nil {
		t.Fatal(initErr)
	}
	o := *opts
	return &o
}

// RequireRealRedis skips t when the tests run against the in-process
// miniredis, for assertions only a real server can answer (MEMORY USAGE,
// INFO commandstats). In CI REDIS_URL is set, so these tests always run there.
func RequireRealRedis(t testing.TB) {
	t.Helper()
	if Options(t); inProcess {
		t.Skip("needs a real Redis server (set REDIS_URL or run one on 127.0.0.1:6379)")
	}
}

// Client returns a new client of the chosen server, closed when t ends.
func Client(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(Options(t))
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Counter is a go-redis hook that counts the commands a client sends and the
// round trips they take (a pipeline or a transaction is one round trip). The
// handshake of a new connection (HELLO, CLIENT SETINFO) is not counted: it
// is paid once per pooled connection, not per request.
type Counter struct {
	commands   atomic.Int64
	roundTrips atomic.Int64
	mu         sync.Mutex
	names      []string
}

// CountingClient returns a new client of the chosen server with a Counter
// installed, both released when t ends.
func CountingClient(t testing.TB) (*redis.Client, *Counter) {
	t.Helper()
	c := Client(t)
	n := &Counter{}
	c.AddHook(n)
	return c, n
}

// DialHook implements redis.Hook.
func (n *Counter) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook implements redis.Hook.
func (n *Counter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !handshake(cmd) {
			n.roundTrips.Add(1)
			n.add(cmd)
		}
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook implements redis.Hook.
func (n *Counter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		counted := false
		for _, c := range cmds {
			if !handshake(c) {
				n.add(c)
				counted = true
			}
		}
		if counted {
			n.roundTrips.Add(1)
		}
		return next(ctx, cmds)
	}
}

// handshake reports whether cmd belongs to go-redis's connection setup.
func handshake(cmd redis.Cmder) bool {
	switch cmd.Name() {
	case "hello", "client", "auth", "select":
		return true
	}
	return false
}

func (n *Counter) add(cmd redis.Cmder) {
	n.commands.Add(1)
	n.mu.Lock()
	n.names = append(n.names, cmd.FullName())
	n.mu.Unlock()
}

// Reset sets the counts back to zero.
func (n *Counter) Reset() {
	n.commands.Store(0)
	n.roundTrips.Store(0)
	n.mu.Lock()
	n.names = nil
	n.mu.Unlock()
}

// Commands returns how many commands were sent since the last Reset.
func (n *Counter) Commands() int64 { return n.commands.Load() }

// RoundTrips returns how many round trips were made since the last Reset.
func (n *Counter) RoundTrips() int64 { return n.roundTrips.Load() }

// Names returns the names of the commands sent since the last Reset, in order.
func (n *Counter) Names() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.names...)
}

// Prefix returns a key prefix no other test uses, and deletes every key under
// it when t ends (SCAN and UNLINK: a test never flushes the shared server).
func Prefix(t testing.TB) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	p := "sstest:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() { Cleanup(p) })
	return p
}

// Cleanup deletes every key under prefix from the chosen server.
func Cleanup(prefix string) {
	if opts == nil {
		return
	}
	c := redis.NewClient(opts)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	iter := c.Scan(ctx, 0, prefix+"*", 500).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
		if len(keys) == 500 {
			c.Unlink(ctx, keys...)
			keys = keys[:0]
		}
	}
	if len(keys) > 0 {
		c.Unlink(ctx, keys...)
	}
}
