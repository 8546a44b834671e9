package ginsession

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionshield/sessionshield/internal/redistest"
)

// TestLocalCacheEndMessageNeverOvertakesItsDel checks, on a Redis Cluster,
// that the end of a session is announced to the other Stores' caches only
// once its delete has replied. The session's key and the invalidation
// channel are on different masters, and Store A's node clients hold the
// command that deletes the session until Store B has received the end
// message (at most 2 s: the fixed code sends none before the delete), then
// have B serve the session once while it is still in Redis. An end message
// that overtook its delete made B drop its entry, read the session again,
// and cache it after the end: B then served it from its cache once A's end
// had returned and B had been told. B must refuse it, for every way a
// session ends through the channel: Logout, RevokeSession, and a Login
// over the session (its delete of the pre-login session).
func TestLocalCacheEndMessageNeverOvertakesItsDel(t *testing.T) {
	cluster := redistest.StartCluster(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		end  func(a *harness, c *client, user string)
	}{
		{"logout", func(a *harness, c *client, _ string) {
			require.Equal(t, http.StatusOK, c.do("POST", "/logout").status)
		}},
		{"RevokeSession", func(a *harness, c *client, user string) {
			require.NoError(t, a.store.RevokeSession(ctx, user, a.refOf(c.cookie)))
		}},
		{"login again", func(a *harness, c *client, user string) {
			require.Equal(t, http.StatusOK, c.do("POST", "/login?user="+user).status)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hold := &endHold{}
			opts := *cluster.Options()
			opts.NewClient = func(o *redis.Options) *redis.Client {
				node := redis.NewClient(o)
				node.AddHook(hold)
				return node
			}
			rdbA := redis.NewClusterClient(&opts)
			t.Cleanup(func() { _ = rdbA.Close() })
			a, b := cachePair(t, rdbA, cluster, &redistest.Counter{}, &redistest.Counter{}, cluster, nil)
			const user = "ora"

			// A session whose key is not on the channel's master: its
			// delete and its end message go to two nodes.
			channelNode := masterAddr(t, rdbA, a.store.cache.channel)
			var c *client
			for range 20 {
				if c = a.login(chromeWin, user); masterAddr(t, rdbA, a.keyOf(c.cookie)) != channelNode {
					break
				}
				c = nil
			}
			require.NotNil(t, c, "no session key off the channel's master in 20 logins")
			old := c.cookie
			onB := primed(t, b, c) // B's cache is proven and answers for the session

			before := b.store.CacheStats().Invalidations
			var toldDuring bool
			var during reply
			hold.arm(a.keyOf(old), func() {
				for stop := time.Now().Add(2 * time.Second); time.Now().Before(stop); time.Sleep(time.Millisecond) {
					if b.store.CacheStats().Invalidations > before {
						toldDuring = true
						break
					}
				}
				during = onB.do("GET", "/api/profile") // the session is still in Redis
			})
			tc.end(a, c, user)
			require.True(t, hold.fired(), "the session's delete went through A's node hook")
			assert.Equal(t, http.StatusOK, during.status, "before its delete the session is live")

			require.Eventually(t, func() bool { return b.store.CacheStats().Invalidations > before }, 10*time.Second, time.Millisecond)
			onB.cookie = old
			assert.Equal(t, http.StatusUnauthorized, onB.do("GET", "/api/profile").status,
				"B, told of the end, still serves the session (end message received before the delete: %v)", toldDuring)
		})
	}
}

// masterAddr returns the address of the master of key's slot.
func masterAddr(t *testing.T, rdb *redis.ClusterClient, key string) string {
	t.Helper()
	node, err := rdb.MasterForKey(context.Background(), key)
	require.NoError(t, err)
	return node.Options().Addr
}

// endHold is a hook for the node clients of a ClusterClient: once armed
// with a session key, it runs during, once, before the first command or
// pipeline that ends that key (a DEL, or endScript) is sent.
type endHold struct {
	mu     sync.Mutex
	key    string
	during func()
	done   bool
}

// arm makes h run during before the next command that ends key.
func (h *endHold) arm(key string, during func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.key, h.during = key, during
}

// fired reports whether during has run.
func (h *endHold) fired() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.done
}

// hold runs during when cmds end the armed key and it has not run yet.
func (h *endHold) hold(cmds []redis.Cmder) {
	h.mu.Lock()
	var during func()
	if h.during != nil && !h.done {
		for _, c := range cmds {
			if endsKey(c, h.key) {
				during, h.done = h.during, true
				break
			}
		}
	}
	h.mu.Unlock()
	if during != nil {
		during()
	}
}

// endsKey reports whether cmd deletes key: a DEL of it, or endScript on it.
func endsKey(cmd redis.Cmder, key string) bool {
	args := cmd.Args()
	switch cmd.Name() {
	case "del":
		return len(args) == 2 && args[1] == key
	case "evalsha", "eval":
		return len(args) > 3 && (args[1] == endScript.sha || args[1] == endScript.src) && args[3] == key
	}
	return false
}

func (h *endHold) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *endHold) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.hold([]redis.Cmder{cmd})
		return next(ctx, cmd)
	}
}

func (h *endHold) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.hold(cmds)
		return next(ctx, cmds)
	}
}
