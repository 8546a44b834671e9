package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/logging"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionshield/sessionshield/internal/redistest"
)

// bufLogger returns a logger writing text records into a new buffer.
func bufLogger() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// deadAddr returns a loopback address where nothing listens.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// TestOpenDevelopmentFallsBackToInProcessRedis is `go run ./example` on a
// machine with only Go: nothing answers where Redis should be, so the app
// starts an in-process Redis, says so with its address, and works.
func TestOpenDevelopmentFallsBackToInProcessRedis(t *testing.T) {
	log, logs := bufLogger()
	redis.SetLogger(RedisLogger(log)) // as main does
	t.Cleanup(logging.Enable)
	a, err := Open(t.Context(), Config{Logger: log, devRedisAddr: deadAddr(t)})
	require.NoError(t, err)
	t.Cleanup(a.Close)

	out := logs.String()
	assert.Contains(t, out, "using an in-process Redis (miniredis)")
	assert.Contains(t, out, "SESSION_SECRET is not set")
	assert.NotContains(t, out, "go-redis", "the failed probe of localhost is not logged by go-redis")
	rdb, ok := a.rdb.(*redis.Client)
	require.True(t, ok)
	assert.Contains(t, out, "addr="+rdb.Options().Addr, "the in-process Redis's address is logged for redis-cli")

	router, err := a.Router()
	require.NoError(t, err)
	srv := httptest.NewServer(router)
	t.Cleanup(srv.Close)
	res, err := srv.Client().Post(srv.URL+"/signup", "application/json", strings.NewReader(creds("kim@example.com", "kim's password")))
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusCreated, res.StatusCode)
	id, err := a.rdb.HGet(t.Context(), a.users.indexKey(), "kim@example.com").Result()
	require.NoError(t, err)
	assert.NotEmpty(t, id)

	a.Close()
	assert.Error(t, a.rdb.Ping(context.Background()).Err(), "Close stops the in-process Redis and its client")
}

// TestOpenDevelopmentUsesLocalRedis: when something answers at the
// development address, the app uses it and does not start its own.
func TestOpenDevelopmentUsesLocalRedis(t *testing.T) {
	log, logs := bufLogger()
	addr := redistest.Options(t).Addr
	a, err := Open(t.Context(), Config{Logger: log, Secret: testSecret, KeyPrefix: redistest.Prefix(t), devRedisAddr: addr})
	require.NoError(t, err)
	t.Cleanup(a.Close)
	assert.Contains(t, logs.String(), "using the Redis on "+addr)
	assert.NotContains(t, logs.String(), "in-process")
	require.NoError(t, a.rdb.Ping(t.Context()).Err())
}

func TestOpenProductionRequiresRedisURL(t *testing.T) {
	log, _ := bufLogger()
	_, err := Open(t.Context(), Config{Env: EnvProduction, Secret: testSecret, Logger: log, devRedisAddr: redistest.Options(t).Addr})
	require.ErrorIs(t, err, ErrConfig)
	assert.Contains(t, err.Error(), "REDIS_URL is required in production")
}

// TestOpenWarnsUnlessNoEviction checks the eviction-policy startup warning against
// a real server whose maxmemory-policy the test sets.
func TestOpenWarnsUnlessNoEviction(t *testing.T) {
	srv := redistest.StartServer(t, "--maxmemory-policy", "allkeys-lru")
	url := "redis://" + srv.Addr + "/0"

	log, logs := bufLogger()
	a, err := Open(t.Context(), Config{RedisURL: url, Secret: testSecret, Logger: log})
	require.NoError(t, err)
	assert.Contains(t, logs.String(), evictionFix)
	require.NoError(t, a.rdb.ConfigSet(t.Context(), "maxmemory-policy", "noeviction").Err())
	a.Close()

	log, logs = bufLogger()
	a, err = Open(t.Context(), Config{RedisURL: url, Secret: testSecret, Logger: log})
	require.NoError(t, err)
	a.Close()
	assert.NotContains(t, logs.String(), "maxmemory-policy")
	assert.Contains(t, logs.String(), "using Redis from REDIS_URL")
}

// TestOpenProductionRefusesEvictingRedis: in production an evicting Redis
// (which evicted lockout counters and session indexes in the review) stops
// the start with a one-line reason that says how to fix it, and so does a
// policy the app cannot read; with noeviction the app starts.
func TestOpenProductionRefusesEvictingRedis(t *testing.T) {
	srv := redistest.StartServer(t, "--maxmemory-policy", "volatile-lru")
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = admin.Close() })
	cfg := Config{Env: EnvProduction, RedisURL: "redis://" + srv.Addr + "/0", Secret: testSecret}

	cfg.Logger, _ = bufLogger()
	a, err := Open(t.Context(), cfg)
	require.ErrorIs(t, err, ErrConfig)
	assert.Nil(t, a)
	assert.Contains(t, err.Error(), `"volatile-lru"`)
	assert.Contains(t, err.Error(), "CONFIG SET maxmemory-policy noeviction")
	assert.Contains(t, err.Error(), "redis.conf")
	assert.NotContains(t, err.Error(), "\n", "a one-line reason")

	// A user whose ACL forbids CONFIG GET: the policy cannot be checked.
	require.NoError(t, admin.ConfigSet(t.Context(), "maxmemory-policy", "noeviction").Err())
	require.NoError(t, admin.Do(t.Context(), "ACL", "SETUSER", "noconfig", "on", ">pw", "~*", "&*", "+@all", "-config").Err())
	blind := cfg
	blind.RedisURL = "redis://noconfig:pw@" + srv.Addr + "/0"
	_, err = Open(t.Context(), blind)
	require.ErrorIs(t, err, ErrConfig)
	assert.Contains(t, err.Error(), "+config|get")
	assert.NotContains(t, err.Error(), "pw@")

	var logs *logBuffer
	cfg.Logger, logs = bufLogger()
	a, err = Open(t.Context(), cfg)
	require.NoError(t, err)
	a.Close()
	assert.NotContains(t, logs.String(), "maxmemory-policy")
}

// TestRunServesAndShutsDownGracefully runs the program's main loop: it
// serves until its context is cancelled (SIGINT or SIGTERM in main), lets
// an in-flight request finish, and returns nil.
func TestRunServesAndShutsDownGracefully(t *testing.T) {
	log, logs := bufLogger()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	cfg := Config{Addr: "127.0.0.1:0", RedisURL: "redis://" + redistest.Options(t).Addr, Secret: testSecret, KeyPrefix: redistest.Prefix(t), Logger: log}
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()

	// The port the kernel chose, from the "listening" line.
	listening := regexp.MustCompile(`msg=listening addr=http://(127\.0\.0\.1:\d+)`)
	var addr string
	require.Eventually(t, func() bool {
		if m := listening.FindStringSubmatch(logs.String()); m != nil {
			addr = m[1]
		}
		return addr != ""
	}, 10*time.Second, 10*time.Millisecond, "Run logs where it listens")
	base := "http://" + addr

	// A signup in flight when the signal comes. With Expect: 100-continue
	// the client sends the body only when the handler starts reading it, so
	// the context is cancelled while the server is provably inside the
	// handler, which then hashes the password (tens of milliseconds).
	inflight := make(chan int, 1)
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Minute}}
	go func() {
		req, _ := http.NewRequest(http.MethodPost, base+"/signup", strings.NewReader(creds("lee@example.com", "lee's password")))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Expect", "100-continue")
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{Got100Continue: cancel}))
		res, err := client.Do(req)
		if err != nil {
			inflight <- 0
			return
		}
		res.Body.Close()
		inflight <- res.StatusCode
	}()

	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(ShutdownTimeout + 5*time.Second):
		t.Fatal("Run did not return after its context was cancelled")
	}
	select {
	case status := <-inflight:
		assert.Equal(t, http.StatusCreated, status, "the in-flight request completed")
	case <-time.After(5 * time.Second):
		t.Fatal("the in-flight request got no answer")
	}
	assert.Contains(t, logs.String(), "shutting down")
	_, err := net.DialTimeout("tcp", addr, time.Second)
	assert.Error(t, err, "nothing listens after Run returns")
}

// TestRedisLogger: go-redis's own messages become records of the app's
// logger.
func TestRedisLogger(t *testing.T) {
	log, logs := bufLogger()
	RedisLogger(log).Printf(context.Background(), "redis: connection pool: failed to dial after %d attempts: %v", 1, errors.New("refused"))
	out := logs.String()
	assert.Contains(t, out, "level=WARN")
	assert.Contains(t, out, fmt.Sprintf("message=%q", "connection pool: failed to dial after 1 attempts: refused"))
}
