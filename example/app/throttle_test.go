package app

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLoginThrottleParallelGuesses fires many wrong passwords for one
// account at once: the limit must hold, counted by how many ran argon2id,
// not only by the statuses. The other counters are set out of reach so the
// account's alone decides (see TestLoginThrottleParallelDefaults).
func TestLoginThrottleParallelGuesses(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.IPLimit, c.SuccessLimit = 1000, 1000 })
	const password = "holly's password"
	e.signup("holly@example.com", password)
	before := e.app.users.verifies.Load()

	const guesses = 24
	count := e.sendAll(guesses, http.MethodPost, "/login", func(i int) string {
		return creds("holly@example.com", "guess "+strconv.Itoa(i))
	})
	assert.Equal(t, map[int]int{http.StatusUnauthorized: DefaultAccountLimit, http.StatusTooManyRequests: guesses - DefaultAccountLimit}, count)
	assert.Equal(t, int64(DefaultAccountLimit), e.app.users.verifies.Load()-before, "argon2id runs: one per counted guess, none past the limit")
	assert.Equal(t, http.StatusTooManyRequests, e.do(http.MethodPost, "/login", creds("holly@example.com", password)).status)
}

// TestLoginThrottleParallelDefaults: with the default limits the guesses
// of a burst also hold the account's success counter while they run, so a
// guess can be refused by one counter and give back what it held in the
// other: a burst gets at most the account limit of guesses (sometimes
// fewer), and every guess that ran argon2id is a 401.
func TestLoginThrottleParallelDefaults(t *testing.T) {
	e := newTestEnv(t, nil)
	e.signup("hank@example.com", "hank's password")
	before := e.app.users.verifies.Load()

	const guesses = 24
	count := e.sendAll(guesses, http.MethodPost, "/login", func(i int) string {
		return creds("hank@example.com", "guess "+strconv.Itoa(i))
	})
	ran := int(e.app.users.verifies.Load() - before)
	assert.LessOrEqual(t, ran, DefaultAccountLimit, "argon2id runs: never past the account limit")
	assert.Equal(t, map[int]int{http.StatusUnauthorized: ran, http.StatusTooManyRequests: guesses - ran}, count)
}

// TestLoginSuccessGivesBackItsAttempt: logging in successfully again and
// again from one IP never reaches the IP's limit, which counts failures.
func TestLoginSuccessGivesBackItsAttempt(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.IPLimit = 2 })
	e.signup("ivan@example.com", "ivan's password")
	for range 5 {
		e.login("ivan@example.com", "ivan's password")
	}
	ttl := e.rdb.PTTL(t.Context(), e.app.throttle.ipKey("ip", "127.0.0.1")).Val()
	assert.Greater(t, ttl, time.Duration(0), "the IP's counter exists in Redis with a TTL")
	assert.LessOrEqual(t, ttl, DefaultWindow)
	n, err := e.rdb.HGet(t.Context(), e.app.throttle.ipKey("ip", "127.0.0.1"), "n").Int()
	require.NoError(t, err)
	assert.Equal(t, 0, n, "every successful attempt was given back")
	_, err = e.rdb.HGet(t.Context(), e.app.throttle.accountKey("ivan@example.com"), "n").Result()
	assert.Error(t, err, "the account's counter is deleted on success")

	// Failures still add up after the successes.
	for range 2 {
		assert.Equal(t, http.StatusUnauthorized, e.do(http.MethodPost, "/login", creds("ivan@example.com", "wrong password")).status)
	}
	assert.Equal(t, http.StatusTooManyRequests, e.do(http.MethodPost, "/login", creds("ivan@example.com", "ivan's password")).status)
}

func TestSignupThrottlePerIP(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.SignupLimit = 3 })
	e.signup("judy1@example.com", "judy's password")
	e.signup("judy2@example.com", "judy's password")
	assert.Equal(t, http.StatusConflict, e.do(http.MethodPost, "/signup", creds("judy1@example.com", "judy's password")).status,
		"a 409 counts: it tells whether an email is registered")
	r := e.do(http.MethodPost, "/signup", creds("judy3@example.com", "judy's password"))
	assert.Equal(t, http.StatusTooManyRequests, r.status)
	assert.Equal(t, errorBody("too many signups, try again later"), r.body)
	assert.Equal(t, strconv.Itoa(int(DefaultWindow/time.Second)), r.header.Get("Retry-After"))
	assert.Equal(t, "no-store", r.header.Get("Cache-Control"))
	exists, err := e.rdb.HExists(t.Context(), e.app.users.indexKey(), "judy3@example.com").Result()
	require.NoError(t, err)
	assert.False(t, exists, "the refused signup created nothing")

	e.clock.Advance(DefaultWindow)
	e.signup("judy3@example.com", "judy's password")
}

func TestThrottleIPv6CountsPer64(t *testing.T) {
	th := &throttle{prefix: "p:"}
	same := th.ipKey("ip", "2001:db8:1:2::1")
	assert.Equal(t, same, th.ipKey("ip", "2001:db8:1:2:ffff:ffff:ffff:ffff"), "one /64, one counter")
	assert.Equal(t, "p:throttle:ip:2001:db8:1:2::/64", same)
	assert.NotEqual(t, same, th.ipKey("ip", "2001:db8:1:3::1"), "another /64")
	assert.Equal(t, "p:throttle:ip:192.0.2.7", th.ipKey("ip", "192.0.2.7"), "IPv4 addresses count alone")
	assert.Equal(t, "p:throttle:ip:192.0.2.7", th.ipKey("ip", "::ffff:192.0.2.7"), "IPv4-mapped IPv6 is IPv4")
	assert.NotEqual(t, th.ipKey("ip", "192.0.2.7"), th.ipKey("signup", "192.0.2.7"), "logins and signups count apart")
}

// TestSignupCancelledDuringHashStillCounts: a client that hangs up while
// its password is hashed has cost the server the hash, so the attempt stays
// counted (otherwise hanging up would make signups free).
func TestSignupCancelledDuringHashStillCounts(t *testing.T) {
	e := newTestEnv(t, nil)
	router, err := e.app.Router()
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	e.app.users.hashed = cancel // the client goes away right after the hash

	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/signup", strings.NewReader(creds("rae@example.com", "rae's password")))
	req.Header.Set("Content-Type", "application/json")
	req.RemoteAddr = "192.0.2.1:1234"
	router.ServeHTTP(httptest.NewRecorder(), req)
	require.Error(t, ctx.Err(), "the hook ran")

	n, err := e.rdb.HGet(t.Context(), e.app.throttle.ipKey("signup", "192.0.2.1"), "n").Int()
	require.NoError(t, err)
	assert.Equal(t, 1, n, "the signup is counted")
	exists, err := e.rdb.HExists(t.Context(), e.app.users.indexKey(), "rae@example.com").Result()
	require.NoError(t, err)
	assert.True(t, exists, "the hashed signup was stored")
	assert.NotContains(t, e.logs.String(), "level=ERROR")
}

// TestLoginCancelledBeforeHashIsGivenBack: a login whose client hangs up
// while it waits for a hashing slot ran no argon2id, so its attempt is
// given back.
func TestLoginCancelledBeforeHashIsGivenBack(t *testing.T) {
	e := newTestEnv(t, nil)
	e.signup("sam@example.com", "sam's password")
	router, err := e.app.Router()
	require.NoError(t, err)
	for range cap(e.app.users.hashes.slots) { // every slot busy
		e.app.users.hashes.slots <- struct{}{}
	}
	defer func() {
		for range cap(e.app.users.hashes.slots) {
			<-e.app.users.hashes.slots
		}
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	before := e.app.users.verifies.Load()
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/login", strings.NewReader(creds("sam@example.com", "a guess")))
	req.Header.Set("Content-Type", "application/json")
	req.RemoteAddr = "192.0.2.2:1234"
	rec := httptest.NewRecorder()
	router.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Equal(t, int64(0), e.app.users.verifies.Load()-before)
	for _, key := range []string{e.app.throttle.accountKey("sam@example.com"), e.app.throttle.ipKey("ip", "192.0.2.2"), e.app.throttle.successKey("sam@example.com")} {
		n, err := e.rdb.HGet(t.Context(), key, "n").Int()
		require.NoError(t, err)
		assert.Equal(t, 0, n, "given back: %s", key)
	}
}

// TestThrottleRedisFailingHalfwayLeavesNoDrift: when one counter's script
// fails, the attempt the other counted is given back and the answer is 503.
func TestThrottleRedisFailingHalfwayLeavesNoDrift(t *testing.T) {
	e := newTestEnv(t, nil)
	ipKey := e.app.throttle.ipKey("ip", "127.0.0.1")
	require.NoError(t, e.rdb.Set(t.Context(), ipKey, "not a hash", 0).Err()) // WRONGTYPE for the script
	r := e.do(http.MethodPost, "/login", creds("tom@example.com", "a guess"))
	assert.Equal(t, http.StatusServiceUnavailable, r.status)
	n, err := e.rdb.HGet(t.Context(), e.app.throttle.accountKey("tom@example.com"), "n").Int()
	require.NoError(t, err)
	assert.Equal(t, 0, n, "the account's attempt was given back")
}

// TestRetryAfterNeverExceedsTheWindow: an instance whose clock is behind
// the one that started the window still says at most one window.
func TestRetryAfterNeverExceedsTheWindow(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.SignupLimit = 1 })
	e.signup("uma@example.com", "uma's password")
	e.clock.Advance(-time.Minute)
	r := e.do(http.MethodPost, "/signup", creds("uma2@example.com", "uma's password"))
	assert.Equal(t, http.StatusTooManyRequests, r.status)
	assert.Equal(t, strconv.Itoa(int(DefaultWindow/time.Second)), r.header.Get("Retry-After"))
}

// TestLoginSuccessLimit: an account may log in SuccessLimit times in
// SuccessWindow; the next login is refused before any argon2id run, wrong
// passwords do not use up the limit, other accounts are not affected, and
// the account gets in again when the window ends.
func TestLoginSuccessLimit(t *testing.T) {
	const limit = 3
	e := newTestEnv(t, func(c *Config) { c.SuccessLimit = limit })
	const pw = "vera's password"
	e.signup("vera@example.com", pw)
	e.signup("walt@example.com", "walt's password")
	okKey := e.app.throttle.successKey("vera@example.com")

	for range 2 {
		assert.Equal(t, http.StatusUnauthorized, e.do(http.MethodPost, "/login", creds("vera@example.com", "a wrong guess")).status)
	}
	n, err := e.rdb.HGet(t.Context(), okKey, "n").Int()
	require.NoError(t, err)
	assert.Equal(t, 0, n, "a failure gives back the success it reserved")

	for range limit {
		e.login("vera@example.com", pw)
	}
	n, err = e.rdb.HGet(t.Context(), okKey, "n").Int()
	require.NoError(t, err)
	assert.Equal(t, limit, n)

	before := e.app.users.verifies.Load()
	for _, password := range []string{pw, "a wrong guess"} {
		r := e.do(http.MethodPost, "/login", creds("vera@example.com", password))
		assert.Equal(t, http.StatusTooManyRequests, r.status)
		assert.Equal(t, errorBody("too many logins to this account, try again later"), r.body)
		assert.Equal(t, strconv.Itoa(int(DefaultSuccessWindow/time.Second)), r.header.Get("Retry-After"))
	}
	assert.Equal(t, int64(0), e.app.users.verifies.Load()-before, "no argon2id run past the limit")
	e.login("walt@example.com", "walt's password")

	e.clock.Advance(DefaultSuccessWindow - time.Second)
	assert.Equal(t, http.StatusTooManyRequests, e.do(http.MethodPost, "/login", creds("vera@example.com", pw)).status, "the window is not over")
	e.clock.Advance(time.Second)
	e.login("vera@example.com", pw)
}

// TestLoginSuccessLimitParallel: parallel correct logins for one account
// cannot all slip under the success limit, counted by argon2id runs.
func TestLoginSuccessLimitParallel(t *testing.T) {
	const limit = 3
	// The failure counters out of reach: a login holds them while it runs.
	e := newTestEnv(t, func(c *Config) { c.SuccessLimit, c.AccountLimit, c.IPLimit = limit, 1000, 1000 })
	e.signup("xena@example.com", "xena's password")
	before := e.app.users.verifies.Load()
	const logins = 12
	count := e.sendAll(logins, http.MethodPost, "/login", func(int) string { return creds("xena@example.com", "xena's password") })
	assert.Equal(t, map[int]int{http.StatusOK: limit, http.StatusTooManyRequests: logins - limit}, count)
	assert.Equal(t, int64(limit), e.app.users.verifies.Load()-before, "argon2id runs: one per counted success")
}

// TestReauthenticationCountsAsSuccess: the current password checked by a
// password change costs a hash like a login, so it uses up the same limit.
func TestReauthenticationCountsAsSuccess(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.SuccessLimit = 2 })
	e.signup("yuri@example.com", "yuri's password")
	c := e.login("yuri@example.com", "yuri's password")
	r := e.do(http.MethodPost, "/password", passwordBody("yuri's password", "yuri's new password"), withCookie(c))
	require.Equal(t, http.StatusOK, r.status, r.body)
	r = e.do(http.MethodPost, "/login", creds("yuri@example.com", "yuri's new password"))
	assert.Equal(t, http.StatusTooManyRequests, r.status)
	assert.Equal(t, errorBody("too many logins to this account, try again later"), r.body)
}

// TestThrottledAnswersAreHeld: a refused request waits RefusalDelay (here
// longer than the test) or until its client hangs up, and at most as many
// as the hold has room for wait at once; the next is answered at once.
func TestThrottledAnswersAreHeld(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.SignupLimit, c.RefusalDelay = 1, time.Hour })
	e.app.held = make(chan struct{}, 2)
	e.signup("abe@example.com", "abe's password")

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 2)
	for i := range 2 {
		go func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.srv.URL+"/signup",
				strings.NewReader(creds("abe"+strconv.Itoa(i)+"@example.com", "abe's password")))
			req.Header.Set("Content-Type", "application/json")
			res, err := e.srv.Client().Do(req)
			if err == nil {
				res.Body.Close()
			}
			done <- err
		}()
	}
	require.Eventually(t, func() bool { return len(e.app.held) == 2 }, 10*time.Second, time.Millisecond)

	r := e.do(http.MethodPost, "/signup", creds("abe3@example.com", "abe's password"))
	assert.Equal(t, http.StatusTooManyRequests, r.status, "the hold is full: answered at once")
	assert.Len(t, e.app.held, 2)
	select {
	case err := <-done:
		t.Fatalf("a held request was answered: %v", err)
	default:
	}

	cancel()
	for range 2 {
		assert.ErrorIs(t, <-done, context.Canceled)
	}
	require.Eventually(t, func() bool { return len(e.app.held) == 0 }, 10*time.Second, time.Millisecond,
		"a request whose client hung up leaves the hold")
}
