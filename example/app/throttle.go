package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// throttle counts failed logins per account and per client IP in Redis
// (SEC-45). Each counter is a hash {s: start of the window in Unix ms, n:
// failures} whose window is judged with the application's clock, so a test
// that moves the clock moves the window; the key's Redis TTL (the window
// length, refreshed on each failure) only collects garbage. While a counter
// is at its limit, logins for that account or from that IP get 429 until
// the window that began with the first failure ends: a temporary lock of at
// most Window, which an attacker cannot extend by trying again.
type throttle struct {
	rdb          redis.UniversalClient
	prefix       string
	accountLimit int
	ipLimit      int
	window       time.Duration
	now          func() time.Time
}

// failScript records one failure under KEYS[1] and returns the count in
// the current window. ARGV: now (ms), window (ms).
var failScript = redis.NewScript(`
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local s = tonumber(redis.call('HGET', KEYS[1], 's'))
local n
if s == nil or now - s >= window then
  redis.call('HSET', KEYS[1], 's', ARGV[1], 'n', 1)
  n = 1
else
  n = redis.call('HINCRBY', KEYS[1], 'n', 1)
end
redis.call('PEXPIRE', KEYS[1], window)
return n
`)

// accountKey names an account's counter by a hash of the normalized email,
// so the key length does not depend on user input.
func (t *throttle) accountKey(email string) string {
	sum := sha256.Sum256([]byte(email))
	return t.prefix + "throttle:acct:" + hex.EncodeToString(sum[:16])
}

func (t *throttle) ipKey(ip string) string { return t.prefix + "throttle:ip:" + ip }

// check returns how long the caller must wait before trying to log in to
// account from ip, or 0 when it may try now.
func (t *throttle) check(ctx context.Context, email, ip string) (time.Duration, error) {
	keys := []string{t.accountKey(email), t.ipKey(ip)}
	limits := []int{t.accountLimit, t.ipLimit}
	cmds := make([]*redis.SliceCmd, len(keys))
	_, err := t.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.HMGet(ctx, k, "s", "n")
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("%w: reading login throttle: %w", ErrUnavailable, err)
	}
	now := t.now().UnixMilli()
	var wait time.Duration
	for i, cmd := range cmds {
		v := cmd.Val()
		s, _ := strconv.ParseInt(str(v[0]), 10, 64)
		n, _ := strconv.Atoi(str(v[1]))
		end := s + t.window.Milliseconds()
		if n >= limits[i] && now < end {
			wait = max(wait, time.Duration(end-now)*time.Millisecond)
		}
	}
	return wait, nil
}

// fail records a failed login for account and ip.
func (t *throttle) fail(ctx context.Context, email, ip string) error {
	now, win := t.now().UnixMilli(), t.window.Milliseconds()
	_, err := t.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		failScript.Eval(ctx, p, []string{t.accountKey(email)}, now, win)
		failScript.Eval(ctx, p, []string{t.ipKey(ip)}, now, win)
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w: recording failed login: %w", ErrUnavailable, err)
	}
	return nil
}

// reset clears an account's counter after a successful login. The IP's
// counter is kept: one good password must not unlock guessing at others.
func (t *throttle) reset(ctx context.Context, email string) error {
	if err := t.rdb.Unlink(ctx, t.accountKey(email)).Err(); err != nil {
		return fmt.Errorf("%w: resetting login throttle: %w", ErrUnavailable, err)
	}
	return nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
