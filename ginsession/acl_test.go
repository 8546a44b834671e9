package ginsession

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionshield/sessionshield/internal/redistest"
)

// aclRules is the least-privilege ACL the README documents for the store's
// Redis user: its key prefix only, and only the commands it sends,
// including those its scripts call.
const aclRules = "resetkeys ~sess:* resetchannels -@all +@connection " +
	"+evalsha +eval +hgetall +hset +hdel +exists +del +pexpire " +
	"+zadd +zrem +zrange +zremrangebyscore +zscore +zcard +pttl +hexists +hmget +config|get"

// TestLeastPrivilegeACL runs the whole lifecycle as a Redis user limited to
// aclRules, and checks that the user can do nothing else (no KEYS, no
// FLUSHALL, no other prefix).
func TestLeastPrivilegeACL(t *testing.T) {
	srv := redistest.StartServer(t)
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = admin.Close() })
	ctx := context.Background()
	args := []any{"ACL", "SETUSER", "sessapp", "on", ">app-password"}
	for _, r := range strings.Fields(aclRules) {
		args = append(args, r)
	}
	require.NoError(t, admin.Do(ctx, args...).Err())

	app := redis.NewClient(&redis.Options{Addr: srv.Addr, Username: "sessapp", Password: "app-password"})
	t.Cleanup(func() { _ = app.Close() })
	h := newHarnessOn(t, app, &redistest.Counter{}, admin, func(c *Config) { c.KeyPrefix = "sess:" })
	h.prefix = "sess:"

	c := h.client(chromeWin)
	require.Equal(t, http.StatusOK, c.do("POST", "/set?k=cart&v=3").status)
	require.Equal(t, http.StatusOK, c.do("POST", "/login?user=ann").status)
	require.Equal(t, http.StatusOK, c.do("GET", "/api/profile").status)
	require.Equal(t, http.StatusOK, c.do("POST", "/set?k=cart&v=4").status)
	require.Equal(t, http.StatusOK, c.do("POST", "/delete?k=cart").status)
	require.Equal(t, http.StatusOK, c.do("GET", "/api/sessions").status)
	other := h.login(chromeWin, "ann")
	list, err := h.store.UserSessions(ctx, "ann", "")
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.NoError(t, h.store.RevokeSession(ctx, "ann", list[0].Ref))
	_, err = h.store.RevokeUser(ctx, "ann")
	require.NoError(t, err)
	h.clock.Advance(time.Millisecond) // later logins were checked after the revocation
	assert.Equal(t, http.StatusUnauthorized, other.do("GET", "/api/profile").status)
	c = h.login(chromeWin, "ann")
	thief := h.client(firefoxLinx)
	thief.cookie = c.cookie
	assert.Equal(t, http.StatusUnauthorized, thief.do("GET", "/api/profile").status)
	c = h.login(chromeWin, "ann")
	require.Equal(t, http.StatusOK, c.do("POST", "/logout").status)
	require.NoError(t, h.store.CheckRedis(ctx))
	assert.Empty(t, h.eventsOf(EventStoreError), "no command was refused")

	for _, cmd := range [][]any{{"KEYS", "*"}, {"FLUSHALL"}, {"CONFIG", "SET", "maxmemory", "1"}, {"GET", "other:x"}, {"HGETALL", "other:x"}} {
		err := app.Do(ctx, cmd...).Err()
		assert.ErrorContains(t, err, "NOPERM", "%v", cmd)
	}
}

// TestREADMEShowsTheTestedACL keeps the README's ACL line the one tested above.
func TestREADMEShowsTheTestedACL(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	assert.Contains(t, string(readme), "ACL SETUSER sessapp on >PASSWORD "+aclRules)
}
