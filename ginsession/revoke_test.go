package ginsession

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionshield/sessionshield/internal/redistest"
)

// failDel is a go-redis hook that, while on, fails every DEL without
// sending it and lets the other commands of a pipeline through: what a
// Cluster does when the node of a session key is down and the node of the
// user's index is not.
type failDel struct{ on atomic.Bool }

var errNodeDown = errors.New("dial tcp: connect: connection refused")

func (f *failDel) DialHook(next redis.DialHook) redis.DialHook { return next }

func (f *failDel) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if f.on.Load() && cmd.Name() == "del" {
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
			if c.Name() == "del" {
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
		assert.False(t, h.exists(k), "session %d", i)
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
	assert.False(t, h.exists(oldKey))

	d := h.login(chromeWin, "bob")
	require.Equal(t, http.StatusOK, d.do("POST", "/login?user=bob").status, "a re-login over a live session")
	assert.Equal(t, []string{h.keyOf(d.cookie)[len(h.prefix):]}, h.indexMembers("bob"), "the old entry left once its DEL succeeded")
}

// TestRevokeUserRacingLogins runs RevokeUser again and again while the
// same user logs in from 20 browsers at once, on one node and on a
// Cluster (where a session and its index entry live on different nodes).
// A login that races a RevokeUser may survive it, as RevokeUser's doc
// says, but never unlisted: every session still in Redis afterwards is in
// the user's index, and the next RevokeUser ends every one of them.
func TestRevokeUserRacingLogins(t *testing.T) {
	t.Run("single node", func(t *testing.T) {
		revokeUserRacingLogins(t, newHarness(t, func(c *Config) { c.MaxSessionsPerUser = NoSessionLimit }))
	})
	t.Run("cluster", func(t *testing.T) {
		cluster := redistest.StartCluster(t)
		count := &redistest.Counter{}
		cluster.AddHook(count)
		revokeUserRacingLogins(t, newHarnessOn(t, cluster, count, cluster, func(c *Config) { c.MaxSessionsPerUser = NoSessionLimit }))
	})
}

func revokeUserRacingLogins(t *testing.T, h *harness) {
	ctx := context.Background()
	const logins = 20
	clients := make([]*client, logins)
	start := make(chan struct{})
	var done atomic.Int32 // logins answered
	var wg sync.WaitGroup
	for i := range logins {
		wg.Go(func() {
			c := h.client(chromeWin)
			<-start
			r := c.do("POST", "/login?user=ray")
			assert.Equal(t, http.StatusOK, r.status, r.body)
			clients[i] = c
			done.Add(1)
		})
	}
	// RevokeUser back to back until half the logins have answered: the
	// other half race it or come after it.
	var revokes, revokeErrs int
	wg.Go(func() {
		<-start
		for ; revokes < 10000 && done.Load() < logins/2; revokes++ {
			if _, err := h.store.RevokeUser(ctx, "ray"); err != nil {
				revokeErrs++
			}
		}
	})
	close(start)
	wg.Wait()
	require.False(t, t.Failed())
	assert.Zero(t, revokeErrs, "RevokeUser errors")
	assert.Positive(t, revokes, "RevokeUser ran while the logins did")

	listed := map[string]bool{}
	for _, k := range prefixed(h.prefix, h.indexMembers("ray")) {
		listed[k] = true
	}
	survivors := 0
	for i, c := range clients {
		if key := h.keyOf(c.cookie); h.exists(key) {
			survivors++
			assert.True(t, listed[key], "login %d survived the race unlisted", i)
		}
	}
	n, err := h.store.RevokeUser(ctx, "ray")
	require.NoError(t, err)
	t.Logf("%d logins raced %d RevokeUser calls: %d survived, all listed; the next RevokeUser ended %d", logins, revokes, survivors, n)
	assert.Equal(t, survivors, n, "the next RevokeUser ends every survivor")
	for i, c := range clients {
		assert.False(t, h.exists(h.keyOf(c.cookie)), "session %d after the second RevokeUser", i)
		assert.Equal(t, http.StatusUnauthorized, h.status(c), "session %d after the second RevokeUser", i)
	}
}

// TestRevokeSessionOfAnEndedSession checks that RevokeSession reports only
// a session it ended: a listed session whose key is gone (its TTL ran out)
// is pruned without an EventRevoked, and the entry of a login of the last
// 10 seconds whose session is not found stays listed, as on every other
// path that ends sessions.
func TestRevokeSessionOfAnEndedSession(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	live := h.login(chromeWin, "cy")
	gone := h.login(firefoxLinx, "cy")
	goneRef := h.keyOf(gone.cookie)[len(h.prefix):][:refLen]
	require.NoError(t, h.raw.Del(ctx, h.keyOf(gone.cookie)).Err()) // its TTL ran out, or its write is still on its way
	require.Len(t, h.indexMembers("cy"), 2)

	require.NoError(t, h.store.RevokeSession(ctx, "cy", goneRef))
	assert.Len(t, h.indexMembers("cy"), 2, "a login of the last 10 s stays listed when its session is not found")
	assert.Empty(t, h.eventsOf(EventRevoked), "nothing was ended")

	h.clock.Advance(11 * time.Second)
	require.NoError(t, h.store.RevokeSession(ctx, "cy", goneRef))
	assert.Len(t, h.indexMembers("cy"), 1, "the ended session's entry is pruned")
	assert.Empty(t, h.eventsOf(EventRevoked), "an ended session is not reported as revoked")
	assert.ErrorIs(t, h.store.RevokeSession(ctx, "cy", goneRef), ErrUnknownSession, "no longer listed")

	liveRef := h.keyOf(live.cookie)[len(h.prefix):][:refLen]
	require.NoError(t, h.store.RevokeSession(ctx, "cy", liveRef))
	ev := h.eventsOf(EventRevoked)
	require.Len(t, ev, 1, "a live session is reported once")
	assert.Equal(t, liveRef, ev[0].Session)
	assert.Equal(t, "revoked", ev[0].Reason)
	assert.Empty(t, h.indexMembers("cy"))
	assert.Equal(t, http.StatusUnauthorized, live.do("GET", "/api/profile").status)
}
