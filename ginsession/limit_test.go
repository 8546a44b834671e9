package ginsession

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionshield/sessionshield/internal/redistest"
)

// limitEvents returns the references of the sessions reported as ended by
// the session limit.
func (h *harness) limitEvents() []string {
	var refs []string
	for _, e := range h.eventsOf(EventRevoked) {
		if e.Reason == "session-limit" {
			refs = append(refs, e.Ref)
		}
	}
	return refs
}

// refOf returns the reference of the session behind a cookie value.
func (h *harness) refOf(cookieValue string) string {
	return h.keyOf(cookieValue)[len(h.prefix):][:refLen]
}

// loginsOneSecondApart logs user in n times from new browsers, one second
// apart, so that the logins' order is the index's order.
func (h *harness) loginsOneSecondApart(user string, n int) []*client {
	h.t.Helper()
	var out []*client
	for range n {
		out = append(out, h.login(chromeWin, user))
		h.clock.Advance(time.Second)
	}
	return out
}

func (h *harness) status(c *client) int {
	h.t.Helper()
	cl := h.client(c.ua)
	cl.cookie = c.cookie
	return cl.do("GET", "/api/profile").status
}

// TestSessionLimitAtItsBoundary checks that logins up to the cap leave
// every session live, that the next one ends the oldest (its key gone,
// its entry gone, its cookie refused, an event), in four round trips
// instead of one, and that logging in again from a session of the same
// user replaces it without ending another.
func TestSessionLimitAtItsBoundary(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxSessionsPerUser = 3 })
	first := h.loginsOneSecondApart("lea", 2)
	h.count.Reset()
	third := h.login(chromeWin, "lea")
	assert.Equal(t, int64(1), h.count.RoundTrips(), "at the cap, Login is one round trip: %v", h.count.Names())
	h.clock.Advance(time.Second)
	clients := append(first, third)
	for i, c := range clients {
		assert.Equal(t, http.StatusOK, h.status(c), "session %d", i)
	}
	assert.Len(t, h.indexMembers("lea"), 3)
	assert.Empty(t, h.limitEvents())

	h.count.Reset()
	fourth := h.login(chromeWin, "lea")
	assert.Equal(t, int64(4), h.count.RoundTrips(), "beyond the cap: Login, the EXISTS, the DEL, the index entry's removal: %v", h.count.Names())
	assert.Equal(t, http.StatusUnauthorized, h.status(clients[0]), "the oldest session is ended")
	assert.False(t, h.isSession(h.keyOf(clients[0].cookie)))
	for i, c := range append(clients[1:], fourth) {
		assert.Equal(t, http.StatusOK, h.status(c), "session %d", i+1)
	}
	want := []string{h.keyOf(clients[1].cookie), h.keyOf(clients[2].cookie), h.keyOf(fourth.cookie)}
	assert.ElementsMatch(t, want, prefixed(h.prefix, h.indexMembers("lea")))
	assert.ElementsMatch(t, want, h.sessionKeys())
	assert.Equal(t, []string{h.refOf(clients[0].cookie)}, h.limitEvents())
	assert.NotContains(t, h.logs.String(), clients[0].cookie[:idLen], "the ended session's ID is never logged")

	// A login from a live session of the same user replaces it: nothing
	// else ends.
	replaced := h.keyOf(clients[1].cookie)
	require.Equal(t, http.StatusOK, clients[1].do("POST", "/login?user=lea").status)
	assert.False(t, h.isSession(replaced))
	for i, c := range []*client{clients[1], clients[2], fourth} {
		assert.Equal(t, http.StatusOK, h.status(c), "session %d", i)
	}
	assert.Len(t, h.indexMembers("lea"), 3)
	assert.Len(t, h.limitEvents(), 1)
}

func prefixed(prefix string, atRestNames []string) []string {
	out := make([]string, len(atRestNames))
	for i, h := range atRestNames {
		out[i] = prefix + h
	}
	return out
}

// TestSessionLimitCountsOnlyLiveSessions checks that entries of sessions
// that idled out (their keys gone, as Redis's TTL removes them, without a
// logout) do not count against the cap: with a cap of 3, one active
// session and two idled-out ones, two more logins prune the two dead
// entries and end nothing, so the active first session survives. Counting
// entries, the first of those logins ended it.
func TestSessionLimitCountsOnlyLiveSessions(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxSessionsPerUser = 3 })
	clients := h.loginsOneSecondApart("ida", 3)
	active, idle := clients[0], clients[1:]
	for range 2 { // the first session stays active; the others idle out
		h.clock.Advance(DefaultIdleTimeout * 2 / 3)
		require.Equal(t, http.StatusOK, h.status(active))
	}
	for _, c := range idle {
		require.NoError(t, h.raw.Del(context.Background(), h.keyOf(c.cookie)).Err(), "the TTL's work")
	}
	require.Len(t, h.indexMembers("ida"), 3, "their entries stay until their absolute deadline")

	h.count.Reset()
	fourth := h.login(chromeWin, "ida")
	assert.Equal(t, int64(3), h.count.RoundTrips(), "Login, the EXISTS, the pruning: %v", h.count.Names())
	fifth := h.login(chromeWin, "ida")
	for i, c := range []*client{active, fourth, fifth} {
		assert.Equal(t, http.StatusOK, h.status(c), "live session %d", i)
	}
	want := []string{h.keyOf(active.cookie), h.keyOf(fourth.cookie), h.keyOf(fifth.cookie)}
	assert.ElementsMatch(t, want, prefixed(h.prefix, h.indexMembers("ida")), "the dead entries are pruned")
	assert.ElementsMatch(t, want, h.sessionKeys())
	assert.Empty(t, h.limitEvents(), "no live session was ended")

	// One more login is beyond the cap of live sessions: the oldest live
	// one ends.
	sixth := h.login(chromeWin, "ida")
	assert.Equal(t, http.StatusUnauthorized, h.status(active))
	assert.Equal(t, []string{h.refOf(active.cookie)}, h.limitEvents())
	for i, c := range []*client{fourth, fifth, sixth} {
		assert.Equal(t, http.StatusOK, h.status(c), "live session %d", i)
	}
}

// TestSessionLimitNeverEndsTheNewSession logs one user in 20 times within
// the same second with a cap of 1: every entry has the same score, so the
// index orders them by their random members, and the new session would be
// "the oldest" about half of the time if the script did not skip it.
func TestSessionLimitNeverEndsTheNewSession(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxSessionsPerUser = 1 })
	var prev *client
	for i := range 20 {
		c := h.login(chromeWin, "tia")
		require.Equal(t, http.StatusOK, h.status(c), "login %d: the new session is live", i)
		if prev != nil {
			require.Equal(t, http.StatusUnauthorized, h.status(prev), "login %d: the one before is ended", i)
		}
		prev = c
	}
	assert.Equal(t, []string{h.keyOf(prev.cookie)}, prefixed(h.prefix, h.indexMembers("tia")))
	assert.Equal(t, []string{h.keyOf(prev.cookie)}, h.sessionKeys())
	assert.Len(t, h.limitEvents(), 19)
}

// TestSessionLimitDefaultsToTen checks the default: the eleventh login
// ends the first session.
func TestSessionLimitDefaultsToTen(t *testing.T) {
	h := newHarness(t, nil)
	require.Equal(t, 10, h.store.cfg.MaxSessionsPerUser)
	clients := h.loginsOneSecondApart("max", 10)
	assert.Len(t, h.indexMembers("max"), 10)
	assert.Empty(t, h.limitEvents())
	clients = append(clients, h.login(chromeWin, "max"))
	assert.Equal(t, http.StatusUnauthorized, h.status(clients[0]))
	for i, c := range clients[1:] {
		assert.Equal(t, http.StatusOK, h.status(c), "session %d", i+1)
	}
	assert.Len(t, h.indexMembers("max"), 10)
	assert.Len(t, h.sessionKeys(), 10)
	assert.Equal(t, []string{h.refOf(clients[0].cookie)}, h.limitEvents())
}

// TestNoSessionLimit checks that NoSessionLimit removes the cap.
func TestNoSessionLimit(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxSessionsPerUser = NoSessionLimit })
	require.Equal(t, NoSessionLimit, h.store.cfg.MaxSessionsPerUser)
	clients := h.loginsOneSecondApart("uma", 15)
	for i, c := range clients {
		assert.Equal(t, http.StatusOK, h.status(c), "session %d", i)
	}
	assert.Len(t, h.indexMembers("uma"), 15)
	assert.Len(t, h.sessionKeys(), 15)
	assert.Empty(t, h.limitEvents())
}

func TestMaxSessionsPerUserConfig(t *testing.T) {
	rdb := redistest.Client(t)
	for _, tc := range []struct {
		in, want int
	}{{0, 10}, {1, 1}, {500, 500}, {NoSessionLimit, NoSessionLimit}} {
		s, err := NewStore(rdb, Config{Secrets: [][]byte{[]byte(testSecret)}, MaxSessionsPerUser: tc.in})
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, s.cfg.MaxSessionsPerUser, tc.in)
	}
	for _, bad := range []int{-2, -10} {
		_, err := NewStore(rdb, Config{Secrets: [][]byte{[]byte(testSecret)}, MaxSessionsPerUser: bad})
		require.ErrorIs(t, err, ErrConfig, bad)
		assert.Contains(t, err.Error(), "MaxSessionsPerUser")
		assert.Contains(t, err.Error(), strconv.Itoa(bad))
	}
}

// TestConcurrentLoginsKeepTheCap logs one user in 50 times in parallel
// with the default cap: at most 10 sessions are left, every one of them is
// listed and answers 200, and every other cookie gets 401. With the index
// entry queued before the session's write, a concurrent login could end a
// session before it was written (its DEL found nothing, its entry left)
// and leave it live and unlisted: this failed in about one run in five on
// miniredis.
func TestConcurrentLoginsKeepTheCap(t *testing.T) {
	h := newHarness(t, nil)
	const n = 50
	clients := make([]*client, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := h.client(chromeWin)
			r := c.do("POST", "/login?user=kim")
			assert.Equal(t, http.StatusOK, r.status, r.body)
			clients[i] = c
		}()
	}
	wg.Wait()
	require.False(t, t.Failed())
	listed := prefixed(h.prefix, h.indexMembers("kim"))
	live := h.sessionKeys()
	sort.Strings(listed)
	sort.Strings(live)
	t.Logf("%d parallel logins left %d sessions and %d index entries; %d ended by the limit", n, len(live), len(listed), len(h.limitEvents()))
	assert.LessOrEqual(t, len(live), DefaultMaxSessionsPerUser)
	assert.NotEmpty(t, live, "the last login's own session is never ended")
	assert.Equal(t, listed, live, "every live session is listed, and only those")
	assert.Len(t, h.limitEvents(), n-len(live), "one event per ended session")
	ok := 0
	for i, c := range clients {
		want := http.StatusUnauthorized
		if h.isSession(h.keyOf(c.cookie)) {
			want = http.StatusOK
			ok++
		}
		assert.Equal(t, want, h.status(c), "login %d", i)
	}
	assert.Equal(t, len(live), ok)
}

// TestSessionLimitWhenTheEndingFails checks that a login beyond the cap
// whose DEL fails still logs in, reports a store error and leaves the
// excess session live and listed, and that the next login ends it.
func TestSessionLimitWhenTheEndingFails(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxSessionsPerUser = 2 })
	fail := &failDel{}
	h.rdb.AddHook(fail)
	clients := h.loginsOneSecondApart("ned", 2)

	fail.on.Store(true)
	third := h.login(chromeWin, "ned")
	h.clock.Advance(time.Second)
	fail.on.Store(false)
	assert.Equal(t, http.StatusOK, h.status(third), "the login succeeded")
	assert.Equal(t, http.StatusOK, h.status(clients[0]), "the DEL failed: the oldest is still live")
	assert.Len(t, h.indexMembers("ned"), 3, "and still listed")
	require.NotEmpty(t, h.eventsOf(EventStoreError))
	storeErr := h.eventsOf(EventStoreError)[0]
	assert.True(t, errors.Is(storeErr.Err, ErrStoreUnavailable), storeErr.Err)
	assert.Equal(t, "ned", storeErr.UserID)
	assert.Empty(t, h.limitEvents())

	fourth := h.login(chromeWin, "ned")
	for i, c := range clients {
		assert.Equal(t, http.StatusUnauthorized, h.status(c), "session %d", i)
	}
	assert.Equal(t, http.StatusOK, h.status(third))
	assert.Equal(t, http.StatusOK, h.status(fourth))
	assert.ElementsMatch(t, []string{h.keyOf(third.cookie), h.keyOf(fourth.cookie)}, prefixed(h.prefix, h.indexMembers("ned")))
	assert.ElementsMatch(t, []string{h.refOf(clients[0].cookie), h.refOf(clients[1].cookie)}, h.limitEvents())
}

// TestSessionLimitOnRedisCluster runs the cap on a real Redis Cluster: the
// index script touches only the index key (a script that touched a
// session key in another slot would be refused), and the sessions it ends
// live on other nodes.
func TestSessionLimitOnRedisCluster(t *testing.T) {
	cluster := redistest.StartCluster(t)
	count := &redistest.Counter{}
	cluster.AddHook(count)
	h := newHarnessOn(t, cluster, count, cluster, func(c *Config) { c.MaxSessionsPerUser = 2 })
	clients := h.loginsOneSecondApart("zed", 6)
	for i, c := range clients {
		want := http.StatusUnauthorized
		if i >= 4 {
			want = http.StatusOK
		}
		assert.Equal(t, want, h.status(c), "session %d", i)
	}
	want := []string{h.keyOf(clients[4].cookie), h.keyOf(clients[5].cookie)}
	assert.ElementsMatch(t, want, prefixed(h.prefix, h.indexMembers("zed")))
	for i, c := range clients[:4] {
		assert.False(t, h.isSession(h.keyOf(c.cookie)), "session %d", i)
	}
	assert.Len(t, h.limitEvents(), 4)
	n, err := h.store.RevokeUser(context.Background(), "zed")
	require.NoError(t, err)
	assert.Equal(t, 2, n)
}

// TestEntryOfALoginInFlight checks what becomes of an index entry of a
// login of the last few seconds whose session is not found (on a Cluster,
// its write may still be on its way to another node): UserSessions keeps
// it (unlisted), and RevokeUser and the cap end it with a tombstone, which
// refuses the late write, so the entry can leave the index at once; an
// older one is pruned.
func TestEntryOfALoginInFlight(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxSessionsPerUser = 1 })
	ctx := context.Background()
	idx := h.prefix + "u:ivy"
	inFlight := func() string {
		atRest := atRestName(newID())
		require.NoError(t, h.raw.ZAdd(ctx, idx, redis.Z{Score: float64(deadlineSeconds(h.clock.Now().UnixMilli() + h.store.absMS)), Member: indexMember(atRest)}).Err())
		return atRest
	}
	lands := func(atRest string) bool { // the login's own write, arriving late
		n, err := runScript(ctx, h.rdb, createScript, redis.NewIntCmd, []string{h.prefix + atRest}, 60000,
			metaCreated, h.clock.Now().UnixMilli(), metaLastSeen, 0, metaUser, "ivy").Result()
		require.NoError(t, err)
		return n == 1
	}

	pending := inFlight()
	list, err := h.store.UserSessions(ctx, "ivy", "")
	require.NoError(t, err)
	assert.Empty(t, list)
	assert.Equal(t, []string{pending}, h.indexMembers("ivy"), "kept by UserSessions")
	n, err := h.store.RevokeUser(ctx, "ivy")
	require.NoError(t, err)
	assert.Zero(t, n)
	assert.Empty(t, h.indexMembers("ivy"), "RevokeUser ends it")
	assert.False(t, lands(pending), "its late write meets the tombstone")
	assert.Empty(t, h.sessionKeys())

	h.clock.Advance(time.Millisecond) // a login after the revocation
	pending = inFlight()
	c := h.login(chromeWin, "ivy") // beyond the cap of 1: the pending one is ended
	assert.Equal(t, []string{h.keyOf(c.cookie)[len(h.prefix):]}, h.indexMembers("ivy"))
	assert.False(t, lands(pending), "the cap's tombstone refuses it too")
	assert.Equal(t, http.StatusOK, h.status(c))

	stale := inFlight()
	h.clock.Advance((inFlightSeconds + 1) * time.Second) // one second more: scores are whole seconds
	list, err = h.store.UserSessions(ctx, "ivy", "")
	require.NoError(t, err)
	assert.Len(t, list, 1)
	assert.Equal(t, []string{h.keyOf(c.cookie)[len(h.prefix):]}, h.indexMembers("ivy"), "pruned once older than inFlightSeconds: %s", stale)
}
