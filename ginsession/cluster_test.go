package ginsession

import (
	"context"
	"net/http"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionshield/sessionshield/internal/redistest"
)

// TestOnRedisCluster runs the lifecycle on a real three-master Redis
// Cluster. Session keys and user indexes hash to different slots, so this
// proves that no operation needs a multi-key command across slots.
func TestOnRedisCluster(t *testing.T) {
	cluster := redistest.StartCluster(t)
	count := &redistest.Counter{}
	cluster.AddHook(count)
	h := newHarnessOn(t, cluster, count, cluster, nil)
	ctx := context.Background()

	var clients []*client
	for range 6 { // enough sessions to spread over every master
		clients = append(clients, h.login(chromeWin, "zoe"))
	}
	members := h.indexMembers("zoe")
	require.Len(t, members, 6)
	slots := map[int64]bool{}
	for _, c := range clients {
		slot, err := cluster.ClusterKeySlot(ctx, h.keyOf(c.cookie)).Result()
		require.NoError(t, err)
		slots[slot] = true
	}
	assert.Greater(t, len(slots), 1, "sessions live in several slots")

	c := clients[0]
	h.count.Reset()
	r := c.do("GET", "/api/profile")
	require.Equal(t, http.StatusOK, r.status)
	assert.JSONEq(t, `{"userId":"zoe"}`, r.body)
	assert.Equal(t, int64(1), h.count.RoundTrips(), h.count.Names())

	h.concurrentSets(c.cookie, 8, "x")

	thief := h.client(firefoxLinx)
	thief.cookie = clients[1].cookie
	assert.Equal(t, http.StatusUnauthorized, thief.do("GET", "/api/profile").status)
	assert.False(t, h.isSession(h.keyOf(clients[1].cookie)))

	loggedOut := h.keyOf(clients[2].cookie)
	require.Equal(t, http.StatusOK, clients[2].do("POST", "/logout").status)
	assert.False(t, h.isSession(loggedOut))
	assert.Len(t, h.indexMembers("zoe"), 4)

	list, err := h.store.UserSessions(ctx, "zoe", "")
	require.NoError(t, err)
	assert.Len(t, list, 4)
	require.NoError(t, h.store.RevokeSession(ctx, "zoe", list[0].Ref))

	n, err := h.store.RevokeUser(ctx, "zoe")
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	for _, cl := range clients {
		assert.Equal(t, http.StatusUnauthorized, cl.do("GET", "/api/profile").status)
	}
	assert.Empty(t, h.indexMembers("zoe"))
}

// TestThroughSentinel runs the lifecycle with a Sentinel client
// (redis.NewFailoverClient), which finds the master through a real
// redis-server in sentinel mode.
func TestThroughSentinel(t *testing.T) {
	master := redistest.StartServer(t)
	rdb := redistest.StartSentinel(t, master.Addr)
	count := &redistest.Counter{}
	rdb.AddHook(count)
	raw := redis.NewClient(&redis.Options{Addr: master.Addr})
	t.Cleanup(func() { _ = raw.Close() })
	h := newHarnessOn(t, rdb, count, raw, nil)

	c := h.login(chromeWin, "sam")
	key := h.keyOf(c.cookie)
	assert.True(t, h.exists(key), "the session is on the master")
	h.count.Reset()
	require.Equal(t, http.StatusOK, c.do("GET", "/api/profile").status)
	assert.Equal(t, int64(1), h.count.RoundTrips())
	require.Equal(t, http.StatusOK, c.do("POST", "/logout").status)
	assert.False(t, h.isSession(key))
}
