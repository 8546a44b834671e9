package app

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// throttle limits login attempts per account and per client IP, successful
// logins per account, and signups per client IP, with counters in Redis.
//
// Each counter is a hash {s: start of the window in Unix ms, n: attempts}
// whose window is judged with the application's clock, so a test that moves
// the clock moves the window; the key's Redis TTL (the window length) only
// collects garbage. An attempt is counted before the password is checked,
// atomically with the check of the limit (reserveScript), so parallel
// requests cannot all slip under the limit: at most limit attempts per
// window ever reach argon2id. A successful login gives its attempt back
// (the account's counter is deleted, the IP's decremented), so only
// failures add up. While a counter is at its limit the caller gets 429
// until the window that began with its first attempt ends: a lock of at
// most the window length, which trying again does not extend.
//
// Successes have a counter of their own per account, with its own limit
// and (shorter) window: each success costs an argon2id hash too, and
// whoever holds the password could otherwise keep the server's cores busy
// and slow every other user's login. It is reserved with the others before
// the password is checked, so parallel logins cannot overshoot it either;
// a failure gives it back (failed), a success keeps it. The counters of one
// attempt are reserved one by one (they may live on different Cluster
// nodes), so in a burst an attempt can be refused by one counter while it
// holds another, and a parallel attempt refused by that one: a burst may get
// fewer than a limit's attempts through, never more.
type throttle struct {
	rdb           redis.UniversalClient
	prefix        string
	accountLimit  int
	ipLimit       int
	signupLimit   int
	window        time.Duration
	successLimit  int
	successWindow time.Duration
	now           func() time.Time
}

// The messages of the throttle's 429 answers.
const (
	msgFailedLogins = "too many failed logins, try again later"
	msgLogins       = "too many logins to this account, try again later"
	msgSignups      = "too many signups, try again later"
)

// reserveScript counts one attempt under KEYS[1] unless the counter is at
// its limit. ARGV: now (ms), window (ms), limit. It returns {wait, start}:
// wait is 0 when the attempt was counted, else the milliseconds left in the
// window; start identifies the window, for releaseScript.
var reserveScript = redis.NewScript(`
local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local s = tonumber(redis.call('HGET', KEYS[1], 's'))
if s == nil or now - s >= window then
  redis.call('HSET', KEYS[1], 's', ARGV[1], 'n', 1)
  redis.call('PEXPIRE', KEYS[1], window)
  return {0, now}
end
local n = tonumber(redis.call('HGET', KEYS[1], 'n')) or 0
if n >= limit then
  -- at most one window, even when this instance's clock is behind the
  -- one that started it
  return {math.min(s + window - now, window), s}
end
redis.call('HINCRBY', KEYS[1], 'n', 1)
redis.call('PEXPIRE', KEYS[1], window)
return {0, s}
`)

// releaseScript gives back one attempt counted by reserveScript, if the
// window it was counted in (ARGV[1]) is still the current one.
var releaseScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 's') == ARGV[1] then
  local n = tonumber(redis.call('HGET', KEYS[1], 'n')) or 0
  if n > 0 then redis.call('HINCRBY', KEYS[1], 'n', -1) end
end
return 0
`)

// counter is one throttle key, its limit and window, and the message of
// the 429 when it is at its limit.
type counter struct {
	key    string
	limit  int
	window time.Duration
	msg    string
}

// refusal says why a reserve counted nothing: how long the client must wait
// (for Retry-After) and the message of the 429. The zero value admits.
type refusal struct {
	wait time.Duration
	msg  string
}

// ticket records the attempts a reserve counted, so they can be given back.
type ticket struct {
	keys   []string
	starts []int64
}

// accountKey names an account's counter of failures by a hash of the
// normalized email, so the key length does not depend on user input.
func (t *throttle) accountKey(email string) string {
	return t.prefix + "throttle:acct:" + emailDigest(email)
}

// successKey names an account's counter of successes, like accountKey.
func (t *throttle) successKey(email string) string {
	return t.prefix + "throttle:ok:" + emailDigest(email)
}

func emailDigest(email string) string {
	sum := sha256.Sum256([]byte(email))
	return hex.EncodeToString(sum[:16])
}

// ipKey names a client's counter of the given kind. IPv6 clients are
// counted per /64, the block one subscriber usually holds: counting single
// addresses would let anyone with a /64 rotate through 2^64 of them.
func (t *throttle) ipKey(kind, ip string) string {
	if a, err := netip.ParseAddr(ip); err == nil {
		a = a.Unmap()
		ip = a.String()
		if a.Is6() {
			p, _ := a.Prefix(64)
			ip = p.String()
		}
	}
	return t.prefix + "throttle:" + kind + ":" + ip
}

// reserveLogin counts a login attempt for account and ip, and a possible
// success for account. It returns a refusal when any of the three counters
// is at its limit (nothing is counted then), or a ticket for release,
// failed or succeeded.
func (t *throttle) reserveLogin(ctx context.Context, email, ip string) (refusal, ticket, error) {
	return t.reserve(ctx,
		counter{t.accountKey(email), t.accountLimit, t.window, msgFailedLogins},
		counter{t.ipKey("ip", ip), t.ipLimit, t.window, msgFailedLogins},
		counter{t.successKey(email), t.successLimit, t.successWindow, msgLogins})
}

// reserveSignup counts a signup from ip.
func (t *throttle) reserveSignup(ctx context.Context, ip string) (refusal, ticket, error) {
	return t.reserve(ctx, counter{t.ipKey("signup", ip), t.signupLimit, t.window, msgSignups})
}

// reserve runs reserveScript on each counter in one pipeline. The
// counters may live in different Redis Cluster slots, so each is its own
// script call; when one refuses, the attempts the others counted are given
// back.
func (t *throttle) reserve(ctx context.Context, counters ...counter) (refusal, ticket, error) {
	now := t.now().UnixMilli()
	cmds := make([]*redis.Cmd, len(counters))
	// EVAL, not EVALSHA: a NOSCRIPT from one node of a Cluster must not
	// make a retry count twice on another, and the script is short.
	_, err := t.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, c := range counters {
			cmds[i] = reserveScript.Eval(ctx, p, []string{c.key}, now, c.window.Milliseconds(), c.limit)
		}
		return nil
	})
	var (
		r   refusal
		tk  ticket
		bad error
	)
	for i, cmd := range cmds {
		v, cerr := cmd.Int64Slice()
		if cerr != nil || len(v) != 2 {
			// Keep going: the attempts other counters did count are given
			// back below, so a Redis failing halfway leaves no drift.
			bad = cmp.Or(err, cerr, fmt.Errorf("unexpected reply %v", cmd.Val()))
			continue
		}
		if wait := time.Duration(v[0]) * time.Millisecond; wait > 0 {
			if wait > r.wait {
				r = refusal{wait, counters[i].msg}
			}
			continue
		}
		tk.keys = append(tk.keys, counters[i].key)
		tk.starts = append(tk.starts, v[1])
	}
	switch {
	case bad != nil:
		t.release(ctx, tk)
		return refusal{}, ticket{}, fmt.Errorf("%w: counting login attempts: %w", ErrUnavailable, bad)
	case r.wait > 0:
		t.release(ctx, tk)
		return r, ticket{}, nil
	}
	return r, tk, nil
}

// split returns the part of tk whose keys are in keys, and the rest.
func (tk ticket) split(keys ...string) (in, out ticket) {
	for i, k := range tk.keys {
		p := &out
		if slices.Contains(keys, k) {
			p = &in
		}
		p.keys = append(p.keys, k)
		p.starts = append(p.starts, tk.starts[i])
	}
	return in, out
}

// release gives back the attempts of tk. It is best effort and outlives a
// cancelled request: a release that fails leaves a counter one too high
// until its window ends, which errs on the safe side. go-redis may retry a
// pipeline after a read timeout, so in rare cases a release (or a reserve)
// is applied twice; a counter never goes below zero.
func (t *throttle) release(ctx context.Context, tk ticket) {
	if len(tk.keys) == 0 {
		return
	}
	ctx = context.WithoutCancel(ctx)
	_, _ = t.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range tk.keys {
			releaseScript.Eval(ctx, p, []string{k}, strconv.FormatInt(tk.starts[i], 10))
		}
		return nil
	})
}

// succeeded ends the throttling of a successful login: the account's
// counter of failures is deleted and the attempt is given back to the IP's
// counter; the success stays counted. The rest of the IP's failures stay:
// one good password must not unlock guessing at other accounts.
func (t *throttle) succeeded(ctx context.Context, email string, tk ticket) error {
	acct := t.accountKey(email)
	_, rest := tk.split(acct, t.successKey(email))
	if err := t.rdb.Unlink(ctx, acct).Err(); err != nil {
		return fmt.Errorf("%w: resetting login throttle: %w", ErrUnavailable, err)
	}
	t.release(ctx, rest)
	return nil
}

// failed gives back the success that reserveLogin counted for a login
// whose password was wrong; its failures stay counted. Like release it is
// best effort.
func (t *throttle) failed(ctx context.Context, email string, tk ticket) {
	ok, _ := tk.split(t.successKey(email))
	t.release(ctx, ok)
}

// forget deletes the login throttle counters (failures and successes) of
// the account with email. They may live in different Cluster slots, so
// each is its own UNLINK, in one pipeline.
func (t *throttle) forget(ctx context.Context, email string) error {
	_, err := t.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Unlink(ctx, t.accountKey(email))
		p.Unlink(ctx, t.successKey(email))
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w: deleting login throttle: %w", ErrUnavailable, err)
	}
	return nil
}
