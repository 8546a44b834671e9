package benchmarks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// DefaultRedisURL is the Redis the benchmarks use when REDIS_URL is unset.
const DefaultRedisURL = "redis://127.0.0.1:6379/0"

// RedisURL returns REDIS_URL, or DefaultRedisURL when it is unset.
func RedisURL() string {
	if u := os.Getenv("REDIS_URL"); u != "" {
		return u
	}
	return DefaultRedisURL
}

// Env is what every contender shares: the Redis URL and an admin client
// (without counting hooks) for measuring memory and cleaning up.
type Env struct {
	URL   string
	Admin *redis.Client
	run   string
}

// NewEnv connects to Redis and checks that it answers.
func NewEnv(ctx context.Context) (*Env, error) {
	url := RedisURL()
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("benchmarks: REDIS_URL: %w", err)
	}
	admin := redis.NewClient(opt)
	if err := admin.Ping(ctx).Err(); err != nil {
		_ = admin.Close()
		return nil, fmt.Errorf("benchmarks: Redis at %s: %w", url, err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	return &Env{URL: url, Admin: admin, run: hex.EncodeToString(b[:])}, nil
}

// Close closes the admin client.
func (e *Env) Close() error { return e.Admin.Close() }

// prefixes counts the prefixes handed out, so each target gets its own.
var prefixes atomic.Int64

// Prefix returns a key prefix that no other target of this process, and no
// other process, uses.
func (e *Env) Prefix(slug string) string {
	return fmt.Sprintf("bench:%s:%d:%s:", e.run, prefixes.Add(1), slug)
}

// ShortPrefix returns a key prefix as long as sessionshield's default
// "sess:" (5 bytes), so that MEMORY USAGE measures what a production key
// occupies, and that no key on the server starts with yet. Session keys
// end in a 43-character random hash, so two runs cannot collide on them.
func (e *Env) ShortPrefix(ctx context.Context) (string, error) {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	for range 20 {
		var b [3]byte
		_, _ = rand.Read(b[:])
		p := "b" + string([]byte{alphabet[int(b[0])%len(alphabet)], alphabet[int(b[1])%len(alphabet)], alphabet[int(b[2])%len(alphabet)]}) + ":"
		used, err := e.Keys(ctx, p)
		if err != nil {
			return "", err
		}
		if len(used) == 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("benchmarks: no free 5-byte key prefix found")
}

// Keys returns every key under prefix, with SCAN (never KEYS: the server
// may be shared).
func (e *Env) Keys(ctx context.Context, prefix string) ([]string, error) {
	var out []string
	iter := e.Admin.Scan(ctx, 0, escapeGlob(prefix)+"*", 1000).Iterator()
	for iter.Next(ctx) {
		out = append(out, iter.Val())
	}
	return out, iter.Err()
}

// Cleanup unlinks every key under prefix.
func (e *Env) Cleanup(ctx context.Context, prefix string) error {
	keys, err := e.Keys(ctx, prefix)
	if err != nil {
		return err
	}
	for len(keys) > 0 {
		n := min(len(keys), 500)
		if err := e.Admin.Unlink(ctx, keys[:n]...).Err(); err != nil {
			return err
		}
		keys = keys[n:]
	}
	return nil
}

// ServerInfo returns the Redis version and mode from INFO server.
func (e *Env) ServerInfo(ctx context.Context) string {
	info, err := e.Admin.Info(ctx, "server").Result()
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	var version, mode string
	for _, line := range strings.Split(info, "\n") {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "redis_version:"); ok {
			version = v
		}
		if v, ok := strings.CutPrefix(line, "redis_mode:"); ok {
			mode = v
		}
	}
	return fmt.Sprintf("Redis %s (%s)", version, mode)
}

func escapeGlob(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`)
	return r.Replace(s)
}
