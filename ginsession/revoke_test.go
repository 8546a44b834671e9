package ginsession

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionshield/sessionshield/internal/redistest"
)

// failDel is a go-redis hook that, while on, fails every command that ends
// a session (DEL, endScript) without sending it and lets the other commands
// of a pipeline through: what a Cluster does when the node of a session key
// is down and the node of the user's index is not.
type failDel struct{ on atomic.Bool }

// endsSession reports whether cmd is a DEL or runs endScript.
func endsSession(cmd redis.Cmder) bool {
	switch cmd.Name() {
	case "del":
		return true
	case "evalsha", "eval":
		a := cmd.Args()
		return len(a) > 1 && (a[1] == endScript.sha || a[1] == endScript.src)
	}
	return false
}

var errNodeDown = errors.New("dial tcp: connect: connection refused")

func (f *failDel) DialHook(next redis.DialHook) redis.DialHook { return next }

func (f *failDel) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if f.on.Load() && endsSession(cmd) {
			cmd.SetErr(errNodeDown)
			return errNodeDown
		}
		return next(ctx, cmd)
	}
}

func (f *failDel) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if !f.on.Load() {
			return next(ctx, cmds)
		}
		var rest []redis.Cmder
		for _, c := range cmds {
			if endsSession(c) {
				c.SetErr(errNodeDown)
			} else {
				rest = append(rest, c)
			}
		}
		if len(rest) > 0 {
			if err := next(ctx, rest); err != nil {
				return err
			}
		}
		if len(rest) < len(cmds) {
			return errNodeDown
		}
		return nil
	}
}

// TestFailedDeleteKeepsSessionsListed checks that Logout, RevokeSession
// and RevokeUser never drop an index entry whose session's DEL failed, so
// a retry finds and ends every session. Pipelined together, the index
// entries went while the sessions stayed, listed nowhere.
func TestFailedDeleteKeepsSessionsListed(t *testing.T) {
	h := newHarness(t, nil)
	fail := &failDel{}
	h.rdb.AddHook(fail)
	ctx := context.Background()
	var clients []*client
	for range 4 {
		clients = append(clients, h.login(chromeWin, "ada"))
	}
	require.Len(t, h.indexMembers("ada"), 4)
	var keys []string
	for _, c := range clients {
		keys = append(keys, h.keyOf(c.cookie))
	}
	ref := h.keyOf(clients[1].cookie)[len(h.prefix):][:refLen]

	fail.on.Store(true)
	assert.Equal(t, http.StatusServiceUnavailable, clients[0].do("POST", "/logout").status)
	assert.ErrorIs(t, h.store.RevokeSession(ctx, "ada", ref), ErrStoreUnavailable)
	n, err := h.store.RevokeUser(ctx, "ada")
	assert.ErrorIs(t, err, ErrStoreUnavailable)
	assert.Zero(t, n)
	assert.Len(t, h.indexMembers("ada"), 4, "every session whose DEL failed is still listed")
	for i, k := range keys {
		assert.True(t, h.exists(k), "session %d", i)
	}

	fail.on.Store(false)
	require.Equal(t, http.StatusOK, clients[0].do("POST", "/logout").status)
	require.NoError(t, h.store.RevokeSession(ctx, "ada", ref))
	n, err = h.store.RevokeUser(ctx, "ada")
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	for i, k := range keys {
		assert.False(t, h.isSession(k), "session %d", i)
		if i == 0 {
			continue // logged out: its cookie was expired
		}
		cl := h.client(chromeWin)
		cl.cookie = clients[i].cookie
		assert.Equal(t, http.StatusUnauthorized, cl.do("GET", "/api/profile").status, "session %d", i)
	}
	assert.Empty(t, h.indexMembers("ada"))
}

// TestLoginKeepsOldSessionListedWhenItsDeleteFails checks that a Login
// over a logged-in session whose DEL fails leaves that session listed
// (and the login refused), and that a later RevokeUser ends it.
func TestLoginKeepsOldSessionListedWhenItsDeleteFails(t *testing.T) {
	h := newHarness(t, nil)
	fail := &failDel{}
	h.rdb.AddHook(fail)
	c := h.login(chromeWin, "bob")
	oldKey := h.keyOf(c.cookie)

	fail.on.Store(true)
	assert.Equal(t, http.StatusServiceUnavailable, c.do("POST", "/login?user=bob").status)
	fail.on.Store(false)
	members := h.indexMembers("bob")
	assert.Contains(t, members, oldKey[len(h.prefix):], "the old session is still listed")
	assert.True(t, h.exists(oldKey))

	n, err := h.store.RevokeUser(context.Background(), "bob")
	require.NoError(t, err)
	assert.GreaterOrEqual(t, n, 1)
	assert.False(t, h.isSession(oldKey))

	h.clock.Advance(time.Millisecond) // logins checked after the revocation
	d := h.login(chromeWin, "bob")
	require.Equal(t, http.StatusOK, d.do("POST", "/login?user=bob").status, "a re-login over a live session")
	assert.Equal(t, []string{h.keyOf(d.cookie)[len(h.prefix):]}, h.indexMembers("bob"), "the old entry left once its DEL succeeded")
}

// TestRevokeUserRacingLogins runs RevokeUser again and again while the
// same user logs in from 20 browsers at once, each login taking the time
// before its (simulated) credential check and passing it to Login with
// CheckedAt, on one node and on a Cluster (where a session and its index
// entry live on different nodes). No login whose credentials were checked
// before the last RevokeUser began survives it, whatever the interleaving;
// the ones checked after it may, and are listed.
func TestRevokeUserRacingLogins(t *testing.T) {
	realClock := func(c *Config) { c.MaxSessionsPerUser, c.Now = NoSessionLimit, time.Now }
	t.Run("single node", func(t *testing.T) {
		revokeUserRacingLogins(t, newHarness(t, realClock))
	})
	t.Run("cluster", func(t *testing.T) {
		cluster := redistest.StartCluster(t)
		count := &redistest.Counter{}
		cluster.AddHook(count)
		revokeUserRacingLogins(t, newHarnessOn(t, cluster, count, cluster, realClock))
	})
}

// checkedLogin is a /hook handler that logs user in as an application
// does: it takes the time, checks the credentials (check, which may
// block), and calls Login with CheckedAt. It answers 200, 401 with
// ErrStaleLogin, or 503, with the check's time in Unix µs.
func checkedLogin(user string, check func()) gin.HandlerFunc {
	return func(c *gin.Context) {
		checked := time.Now()
		check()
		status := http.StatusOK
		switch err := Login(c, user, CheckedAt(checked)); {
		case errors.Is(err, ErrStaleLogin):
			status = http.StatusUnauthorized
		case err != nil:
			status = http.StatusServiceUnavailable
		}
		c.JSON(status, gin.H{"checked": checked.UnixMicro()})
	}
}

func revokeUserRacingLogins(t *testing.T, h *harness) {
	ctx := context.Background()
	const logins = 20
	h.handler = checkedLogin("ray", func() { time.Sleep(2 * time.Millisecond) }) // a credential check takes time
	type result struct {
		c       *client
		status  int
		checked int64
	}
	results := make([]result, logins)
	start := make(chan struct{})
	var done atomic.Int32 // logins answered
	var wg sync.WaitGroup
	for i := range logins {
		wg.Go(func() {
			c := h.client(chromeWin)
			<-start
			time.Sleep(time.Duration(i) * time.Millisecond) // spread over the revocations
			r := c.do("POST", "/hook")
			results[i] = result{c, r.status, int64(jsonField(t, r.body, "checked").(float64))}
			done.Add(1)
		})
	}
	// RevokeUser back to back until half the logins have answered: the
	// other half race it or come after it.
	var revokes, revokeErrs int
	var lastBegan int64
	wg.Go(func() {
		<-start
		for ; revokes < 10000 && done.Load() < logins/2; revokes++ {
			lastBegan = time.Now().UnixMicro()
			if _, err := h.store.RevokeUser(ctx, "ray"); err != nil {
				revokeErrs++
			}
			time.Sleep(time.Millisecond)
		}
	})
	close(start)
	wg.Wait()
	assert.Zero(t, revokeErrs, "RevokeUser errors")
	require.Positive(t, revokes, "RevokeUser ran while the logins did")

	listed := map[string]bool{}
	for _, k := range prefixed(h.prefix, h.indexMembers("ray")) {
		listed[k] = true
	}
	var refused, before, survivors int
	for i, r := range results {
		require.Contains(t, []int{http.StatusOK, http.StatusUnauthorized}, r.status, "login %d", i)
		if r.status == http.StatusUnauthorized {
			refused++
			assert.Empty(t, r.c.cookie, "a refused login sets no cookie")
			continue
		}
		key := h.keyOf(r.c.cookie)
		if r.checked < lastBegan {
			before++
			assert.False(t, h.isSession(key), "login %d, checked before the last RevokeUser, survived it", i)
			assert.Equal(t, http.StatusUnauthorized, h.status(r.c), "login %d", i)
		} else if h.isSession(key) {
			survivors++
			assert.True(t, listed[key], "login %d survived unlisted", i)
		}
	}
	t.Logf("%d logins raced %d RevokeUser calls: %d refused by the mark or a tombstone, %d more checked before the last one and ended, %d checked after it live and listed",
		logins, revokes, refused, before, survivors)
	n, err := h.store.RevokeUser(ctx, "ray")
	require.NoError(t, err)
	assert.Equal(t, survivors, n, "the next RevokeUser ends every survivor")
	assert.Empty(t, h.sessionKeys())
}

// TestPasswordChangeEndsALoginInFlight holds a login between its
// credential check and its call to Login while the user's sessions are
// revoked (a password change), on one node, through Sentinel and on a
// Cluster: Login refuses it with ErrStaleLogin, sets no cookie and leaves
// no session in Redis, while a login checked after the revocation works.
func TestPasswordChangeEndsALoginInFlight(t *testing.T) {
	t.Run("single node", func(t *testing.T) { passwordChangeDuringLogin(t, newHarness(t, nil)) })
	t.Run("sentinel", func(t *testing.T) {
		master := redistest.StartServer(t)
		rdb := redistest.StartSentinel(t, master.Addr)
		raw := redis.NewClient(&redis.Options{Addr: master.Addr})
		t.Cleanup(func() { _ = raw.Close() })
		passwordChangeDuringLogin(t, newHarnessOn(t, rdb, &redistest.Counter{}, raw, nil))
	})
	t.Run("cluster", func(t *testing.T) {
		cluster := redistest.StartCluster(t)
		passwordChangeDuringLogin(t, newHarnessOn(t, cluster, &redistest.Counter{}, cluster, nil))
	})
}

func passwordChangeDuringLogin(t *testing.T, h *harness) {
	ctx := context.Background()
	owner := h.login(chromeWin, "eve")
	checked, release := make(chan struct{}), make(chan struct{})
	h.handler = func(c *gin.Context) {
		at := h.clock.Now() // before the password hash is read
		close(checked)
		<-release // the argon2id check, while the owner changes the password
		if err := Login(c, "eve", CheckedAt(at)); err != nil {
			c.JSON(http.StatusUnauthorized, gin.H{"error": err.Error()})
			return
		}
		c.JSON(http.StatusOK, gin.H{"message": "Logged in"})
	}
	attacker := h.client(firefoxLinx)
	answered := make(chan reply)
	go func() { answered <- attacker.do("POST", "/hook") }()
	<-checked
	h.clock.Advance(time.Millisecond)        // the new hash is written, then:
	n, err := h.store.RevokeUser(ctx, "eve") // the password change
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	close(release)
	r := <-answered

	assert.Equal(t, http.StatusUnauthorized, r.status, r.body)
	assert.Contains(t, r.body, "checked before")
	assert.Nil(t, r.cookie(t), "no cookie for a refused login")
	assert.Empty(t, h.sessionKeys(), "no session in Redis")
	assert.Empty(t, h.indexMembers("eve"))
	assert.Equal(t, http.StatusUnauthorized, h.status(owner))
	require.Len(t, h.eventsOf(EventStaleLogin), 1)
	assert.Equal(t, "eve", h.eventsOf(EventStaleLogin)[0].UserID)

	h.clock.Advance(time.Millisecond)
	again := h.login(chromeWin, "eve") // with the new password
	assert.Equal(t, http.StatusOK, h.status(again))
}

// TestRevocationMeetsALoginWriteOnItsWay forces, on a Cluster, the
// interleavings one node cannot have: a login's index entry is written,
// RevokeUser runs to its end, and only then does the login's own session
// write reach its node (held back by a hook on that node's client) — sent
// for the first time, or sent again by go-redis after a lost reply when
// its first run had already written the session (which RevokeUser then
// deleted). Either way RevokeUser left a tombstone where the session is
// written, the write is refused and Login answers ErrStaleLogin: the login
// does not survive, listed or not.
func TestRevocationMeetsALoginWriteOnItsWay(t *testing.T) {
	t.Run("first write", func(t *testing.T) { loginWriteOnItsWay(t, false, 0, 0) })
	t.Run("write sent again", func(t *testing.T) { loginWriteOnItsWay(t, true, 0, 0) })
	// RevokeUser on an instance whose clock is behind the login's, within
	// the 5 s the design allows: the login's deadline, in seconds, is then
	// later than the revoking instance's now+AbsoluteTimeout.
	t.Run("revoker's clock behind", func(t *testing.T) { loginWriteOnItsWay(t, false, 0, 1500*time.Millisecond) })
}

// loginWriteOnItsWay runs one such login on a Cluster of its own: its
// session write is held until RevokeUser, run wait after the index entry
// is in, has returned; with again, the write first runs once and its reply
// is dropped, as when go-redis sends it again after a read timeout.
// RevokeUser runs on another Store whose clock is behind the login's by
// behind.
func loginWriteOnItsWay(t *testing.T, again bool, wait, behind time.Duration) {
	cluster := redistest.StartCluster(t)
	h := newHarnessOn(t, cluster, &redistest.Counter{}, cluster, func(c *Config) { c.Now = time.Now })
	ctx := context.Background()
	cfg := h.store.cfg
	cfg.Now = func() time.Time { return time.Now().Add(-behind) }
	revoker, err := NewStore(cluster, cfg)
	require.NoError(t, err)
	hold := &holdCreate{again: again, held: make(chan struct{}, 1), release: make(chan struct{})}
	require.NoError(t, cluster.ForEachShard(ctx, func(ctx context.Context, node *redis.Client) error {
		node.AddHook(hold)
		return nil
	}))
	h.handler = func(c *gin.Context) {
		if err := Login(c, "kai", CheckedAt(time.Now())); err != nil {
			c.JSON(http.StatusUnauthorized, gin.H{"error": err.Error()})
			return
		}
		c.JSON(http.StatusOK, gin.H{"message": "Logged in"})
	}
	for attempt := 0; ; attempt++ {
		require.Less(t, attempt, 20, "the session and the index never fell on different nodes")
		hold.armed.Store(true)
		answered := make(chan reply, 1)
		c := h.client(chromeWin)
		c.http.Timeout = time.Minute
		go func() { answered <- c.do("POST", "/hook") }()
		select {
		case r := <-answered: // the session and the index on one node: nothing to hold
			hold.armed.Store(false)
			require.Equal(t, http.StatusOK, r.status, r.body)
			continue
		case <-hold.held:
		}
		waitFor(t, func() bool { return len(h.indexMembers("kai")) > attempt }) // the index entry is in
		time.Sleep(wait)
		n, err := revoker.RevokeUser(ctx, "kai")
		require.NoError(t, err)
		if again {
			assert.Equal(t, attempt+1, n, "the earlier logins and the held one, written once")
		} else {
			assert.Equal(t, attempt, n, "the earlier, completed logins")
		}
		hold.release <- struct{}{}
		r := <-answered
		assert.NotEqual(t, http.StatusOK, r.status, r.body)
		assert.Nil(t, r.cookie(t))
		assert.Empty(t, h.sessionKeys(), "the held write met the tombstone")
		assert.Empty(t, h.indexMembers("kai"))
		return
	}
}

// holdCreate is a hook for a Cluster's node clients that, while armed,
// holds the first pipeline that writes a new session without touching an
// index (with again, after running it once), signals held and waits for
// release.
type holdCreate struct {
	armed   atomic.Bool
	again   bool
	held    chan struct{}
	release chan struct{}
}

func (*holdCreate) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (*holdCreate) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (x *holdCreate) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		runs := func(sc *luaScript) bool {
			for _, c := range cmds {
				if a := c.Args(); len(a) > 1 && (a[1] == sc.sha || a[1] == sc.src) {
					return true
				}
			}
			return false
		}
		if runs(createScript) && !runs(indexScript) && x.armed.CompareAndSwap(true, false) {
			if x.again {
				_ = next(ctx, cmds) // written; the reply is lost
			}
			x.held <- struct{}{}
			<-x.release
		}
		return next(ctx, cmds)
	}
}

// waitFor polls ok for up to 5 s.
func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); !ok(); {
		require.True(t, time.Now().Before(end), "timed out")
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRevokeSessionOfAnEndedSession checks that RevokeSession reports only
// a session it ended: a listed session whose key is gone is pruned without
// an EventRevoked (when it is a login of the last 10 seconds, a tombstone
// keeps its write, which may still be on its way, from ever landing), and
// a live one is ended and reported once.
func TestRevokeSessionOfAnEndedSession(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	live := h.login(chromeWin, "cy")
	gone := h.login(firefoxLinx, "cy")
	goneKey := h.keyOf(gone.cookie)
	goneRef := goneKey[len(h.prefix):][:refLen]
	require.NoError(t, h.raw.Del(ctx, goneKey).Err()) // its TTL ran out, or its write is still on its way
	require.Len(t, h.indexMembers("cy"), 2)

	require.NoError(t, h.store.RevokeSession(ctx, "cy", goneRef))
	assert.Len(t, h.indexMembers("cy"), 1, "the ended session's entry is pruned")
	assert.Empty(t, h.eventsOf(EventRevoked), "nothing live was ended")
	assert.Equal(t, "1", h.raw.HGet(ctx, goneKey, "_t").Val(), "a tombstone where a write may still land")
	late, err := runScript(ctx, h.rdb, createScript, redis.NewIntCmd, []string{goneKey}, 1000, metaCreated, 1, metaLastSeen, 0).Result()
	require.NoError(t, err)
	assert.Zero(t, late, "the late write is refused")
	assert.Equal(t, http.StatusUnauthorized, gone.do("GET", "/api/profile").status)
	assert.ErrorIs(t, h.store.RevokeSession(ctx, "cy", goneRef), ErrUnknownSession, "no longer listed")

	liveRef := h.keyOf(live.cookie)[len(h.prefix):][:refLen]
	require.NoError(t, h.store.RevokeSession(ctx, "cy", liveRef))
	ev := h.eventsOf(EventRevoked)
	require.Len(t, ev, 1, "a live session is reported once")
	assert.Equal(t, liveRef, ev[0].Ref)
	assert.Equal(t, "revoked", ev[0].Reason)
	assert.Empty(t, h.indexMembers("cy"))
	assert.Equal(t, http.StatusUnauthorized, live.do("GET", "/api/profile").status)
}

// TestInFlightLoginFromAFasterClock checks that a login counts as in flight
// (see inFlight) for an instance whose clock is behind the login's, within
// the clock difference the design allows (the 5 s of loginGiveUp): its
// session write may still be on its way on a Cluster, and ending or pruning
// its entry without a tombstone would let that write land as a live session
// that no index lists, which no later RevokeUser finds. The login runs on
// the harness's Store; the other instance's clock is behind it, 1.5 s, or
// 1 ms across a second's boundary (a login's deadline, rounded up to the
// second, is then later than that instance's now+AbsoluteTimeout, rounded
// the same way). The write on its way is simulated as in
// TestRevokeSessionOfAnEndedSession: the key is deleted, then written again
// with createScript after the other instance acted.
func TestInFlightLoginFromAFasterClock(t *testing.T) {
	for _, tc := range []struct {
		name string
		act  func(t *testing.T, behind *Store, user string)
	}{
		{"RevokeUser", func(t *testing.T, behind *Store, user string) {
			n, err := behind.RevokeUser(context.Background(), user)
			require.NoError(t, err)
			assert.Zero(t, n, "the session was not written yet")
		}},
		{"RevokeSession", func(t *testing.T, behind *Store, user string) {
			list, err := behind.indexedRefs(user)
			require.NoError(t, err)
			require.Len(t, list, 1)
			require.NoError(t, behind.RevokeSession(context.Background(), user, list[0]))
		}},
		{"UserSessions", func(t *testing.T, behind *Store, user string) {
			list, err := behind.UserSessions(context.Background(), user, "")
			require.NoError(t, err)
			assert.Empty(t, list, "not written yet: not listed")
		}},
	} {
		for _, skew := range []time.Duration{1500 * time.Millisecond, time.Millisecond} {
			t.Run(tc.name+"/"+skew.String(), func(t *testing.T) {
				h := newHarness(t, nil)
				ctx := context.Background()
				// The login at a millisecond past a second.
				h.clock.ns.Store(time.Now().Truncate(time.Second).Add(time.Second + time.Millisecond).UnixNano())
				cfg := h.store.cfg
				cfg.Now = func() time.Time { return h.clock.Now().Add(-skew) }
				behind, err := NewStore(h.rdb, cfg)
				require.NoError(t, err)

				c := h.login(chromeWin, "sky")
				key := h.keyOf(c.cookie)
				fields, err := h.raw.HGetAll(ctx, key).Result()
				require.NoError(t, err)
				require.NoError(t, h.raw.Del(ctx, key).Err()) // the session write is still on its way

				tc.act(t, behind, "sky")

				args := []any{time.Hour.Milliseconds()}
				for f, v := range fields {
					args = append(args, f, v)
				}
				late, err := runScript(ctx, h.rdb, createScript, redis.NewIntCmd, []string{key}, args...).Result()
				require.NoError(t, err)
				if tc.name == "UserSessions" {
					// Listing prunes nothing in flight: the write may land, and
					// is then listed, so RevokeUser ends it.
					assert.Equal(t, []string{key[len(h.prefix):]}, h.indexMembers("sky"), "an entry in flight stays listed")
					_, err := h.store.RevokeUser(ctx, "sky")
					require.NoError(t, err)
				} else {
					assert.Zero(t, late, "the late write meets a tombstone")
				}
				assert.Equal(t, http.StatusUnauthorized, h.status(c), "the session does not survive")
				assert.Empty(t, h.sessionKeys())
			})
		}
	}
}

// indexedRefs returns the refs of user's indexed sessions.
func (s *Store) indexedRefs(user string) ([]string, error) {
	names, _, err := s.indexed(context.Background(), user)
	refs := make([]string, len(names))
	for i, n := range names {
		refs[i] = s.ref(n)
	}
	return refs, err
}

// TestInFlightCoversAWholeWindow: a login that began just under
// inFlightSeconds ago counts as in flight whatever the fraction of a second
// its deadline was rounded up from, and one that began inFlightSeconds + 1
// ago does not.
func TestInFlightCoversAWholeWindow(t *testing.T) {
	h := newHarness(t, nil)
	for _, frac := range []int64{1, 50, 500, 999, 1000} {
		now := h.clock.Now().UnixMilli()
		h.clock.Advance(time.Duration((frac-(now+h.store.absMS)%1000+1000)%1000) * time.Millisecond)
		now = h.clock.Now().UnixMilli()
		require.Equal(t, frac%1000, (now+h.store.absMS)%1000)
		recent := float64(deadlineSeconds(now - inFlightSeconds*1000 + 100 + h.store.absMS))
		assert.True(t, h.store.inFlight(recent), "a login just under %d s ago, deadline fraction %d ms", inFlightSeconds, frac)
		old := float64(deadlineSeconds(now - (inFlightSeconds+1)*1000 - 1 + h.store.absMS))
		assert.False(t, h.store.inFlight(old), "a login %d s ago, deadline fraction %d ms", inFlightSeconds+1, frac)
	}
}
