package ginsession

import (
	"context"
	"fmt"
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
// Redis user: its key prefix only, and only the commands that the store,
// its Lua scripts (Redis checks their commands too) and go-redis under it
// send, on a single server, through Sentinel and on a Cluster. A command
// the store starts sending goes in the first group.
const aclRules = "resetkeys ~sess:* resetchannels &sess:* -@all" +
	// The store's commands and its scripts'.
	" +evalsha +eval +hgetall +hset +hdel +exists +del +pexpire +zadd +zrem +zrange +zremrangebyscore +zscore +zcard +pttl +hexists +hmget" +
	// Config.LocalCache: the ends and heartbeats on <KeyPrefix>inval.
	" +publish +subscribe" +
	// Store.CheckRedis.
	" +config|get" +
	// A ClusterClient: its slot map, the command table it routes by, the
	// redirect during a slot migration, and on replicas it reads from.
	" +cluster|slots +command +asking +readonly +ping"

// sentinelACLRules is the ACL docs/redis.md documents for the user a
// FailoverClient logs in to the Sentinels as (SentinelUsername): no key,
// and only what go-redis sends them: the master's address, the other
// Sentinels' addresses, PING, and the subscription to failover news.
const sentinelACLRules = "resetkeys resetchannels &+switch-master &+replica-reconf-done -@all" +
	" +sentinel|get-master-addr-by-name +sentinel|sentinels +subscribe +ping"

// refusedCommands are commands the store's user must not run: they read or
// disrupt other clients, touch every key or another prefix, or change the
// server. CLIENT KILL, CLIENT PAUSE, CLIENT LIST, SELECT and WAIT were
// allowed by +@connection, which the ACL once granted.
var refusedCommands = [][]any{
	{"CLIENT", "KILL", "ID", "1"}, {"CLIENT", "PAUSE", "1"}, {"CLIENT", "LIST"}, {"SELECT", "0"}, {"WAIT", "0", "0"},
	{"KEYS", "*"}, {"FLUSHALL"}, {"CONFIG", "SET", "maxmemory", "1"}, {"INFO"},
	{"GET", "other:x"}, {"HGETALL", "other:x"}, {"DEL", "other:x"},
}

// createACLUser creates the user sessapp with aclRules on every server at
// addrs, as its admin (the default user): Redis keeps ACL users per server,
// and replicas do not copy them from their master.
func createACLUser(t *testing.T, addrs ...string) {
	t.Helper()
	redistest.CreateUser(t, "sessapp", "app-password", aclRules, addrs...)
}

// assertNoACLDenials checks that no server at addrs refused sessapp
// anything (ACL LOG), including what go-redis sends and then ignores a
// refusal of, such as CLIENT SETINFO.
func assertNoACLDenials(t *testing.T, addrs ...string) {
	t.Helper()
	for _, a := range addrs {
		admin := redis.NewClient(&redis.Options{Addr: a})
		entries, err := admin.ACLLog(context.Background(), 100).Result()
		_ = admin.Close()
		require.NoError(t, err, a)
		var refused []string
		for _, e := range entries {
			refused = append(refused, fmt.Sprintf("%s %s %s", e.Reason, e.Object, e.Context))
		}
		assert.Empty(t, refused, "refused on %s", a)
	}
}

// assertRefused checks that every refusedCommands command fails with NOPERM
// for app.
func assertRefused(t *testing.T, app redis.UniversalClient) {
	t.Helper()
	for _, cmd := range refusedCommands {
		err := app.Do(context.Background(), cmd...).Err()
		assert.ErrorContains(t, err, "NOPERM", "%v", cmd)
	}
}

// aclHarness is the test harness on app, a client logged in as sessapp,
// with the prefix aclRules allows.
func aclHarness(t *testing.T, app, admin redis.UniversalClient, mutate ...func(*Config)) *harness {
	t.Helper()
	h := newHarnessOn(t, app, &redistest.Counter{}, admin, func(c *Config) {
		c.KeyPrefix = "sess:"
		for _, m := range mutate {
			m(c)
		}
	})
	h.prefix = "sess:"
	return h
}

// runLifecycle drives everything the store does, as user: a session
// before and after login, writes, the session list, revocation, a stolen
// cookie, logout and CheckRedis. It fails if any of it answers other than
// a working store would, or if any command failed.
func runLifecycle(t *testing.T, h *harness, user string) {
	t.Helper()
	ctx := context.Background()
	c := h.client(chromeWin)
	require.Equal(t, http.StatusOK, c.do("POST", "/set?k=cart&v=3").status)
	require.Equal(t, http.StatusOK, c.do("POST", "/login?user="+user).status)
	require.Equal(t, http.StatusOK, c.do("GET", "/api/profile").status)
	require.Equal(t, http.StatusOK, c.do("POST", "/set?k=cart&v=4").status)
	require.Equal(t, http.StatusOK, c.do("POST", "/delete?k=cart").status)
	require.Equal(t, http.StatusOK, c.do("GET", "/api/sessions").status)
	other := h.login(chromeWin, user)
	list, err := h.store.UserSessions(ctx, user, "")
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.NoError(t, h.store.RevokeSession(ctx, user, list[0].Ref))
	_, err = h.store.RevokeUser(ctx, user)
	require.NoError(t, err)
	h.clock.Advance(time.Millisecond) // later logins were checked after the revocation
	assert.Equal(t, http.StatusUnauthorized, other.do("GET", "/api/profile").status)
	c = h.login(chromeWin, user)
	thief := h.client(firefoxLinx)
	thief.cookie = c.cookie
	assert.Equal(t, http.StatusUnauthorized, thief.do("GET", "/api/profile").status)
	c = h.login(chromeWin, user)
	require.Equal(t, http.StatusOK, c.do("POST", "/logout").status)
	require.NoError(t, h.store.CheckRedis(ctx))
	assert.Empty(t, h.eventsOf(EventStoreError), "no command failed")
}

// TestLeastPrivilegeACL runs the whole lifecycle as a Redis user limited to
// aclRules on a single server, checks that Redis refused that user nothing,
// and that the user can do nothing else: no other client's connection, no
// KEYS, no FLUSHALL, no other prefix. The same on a Cluster with replicas,
// through a failover, is TestLeastPrivilegeACLCluster.
func TestLeastPrivilegeACL(t *testing.T) {
	srv := redistest.StartServer(t)
	createACLUser(t, srv.Addr)
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = admin.Close() })
	app := redis.NewClient(&redis.Options{Addr: srv.Addr, Username: "sessapp", Password: "app-password"})
	t.Cleanup(func() { _ = app.Close() })

	runLifecycle(t, aclHarness(t, app, admin), "ann")

	// With the local cache: its subscription, heartbeats and ends.
	h := aclHarness(t, app, admin, func(c *Config) { c.LocalCache, c.CookieName = time.Minute, cookieName })
	t.Cleanup(func() { _ = h.store.Close() })
	waitProven(t, h)
	h.clock.Advance(time.Millisecond)
	runLifecycle(t, h, "bea")
	primed(t, h, h.login(chromeWin, "cy"))
	require.NoError(t, h.store.Close())

	assertNoACLDenials(t, srv.Addr)
	assertRefused(t, app)
}

// TestREADMEShowsTheTestedACL keeps the ACL lines of the README and
// docs/redis.md the ones tested here.
func TestREADMEShowsTheTestedACL(t *testing.T) {
	for _, tc := range []struct{ file, line string }{
		{"../README.md", "ACL SETUSER sessapp on >PASSWORD " + aclRules + "`"},
		{"../docs/redis.md", "ACL SETUSER sessapp on >PASSWORD " + aclRules + "\n"},
		{"../docs/redis.md", "ACL SETUSER sentinelapp on >PASSWORD " + sentinelACLRules + "\n"},
	} {
		doc, err := os.ReadFile(tc.file)
		require.NoError(t, err)
		assert.True(t, strings.Contains(string(doc), tc.line), "%s does not show the tested ACL:\n%s", tc.file, tc.line)
	}
}

// TestLeastPrivilegeACLSentinel runs the lifecycle through Sentinel (a
// master, its replica, three Sentinels) as the aclRules user, created on
// the master and the replica, found through the Sentinels as a user
// limited to sentinelACLRules, and again after a kill -9 of the master
// once the Sentinels have promoted the replica. Neither the servers nor
// the Sentinels may refuse anything.
func TestLeastPrivilegeACLSentinel(t *testing.T) {
	ss := redistest.StartSentinels(t, time.Second)
	createACLUser(t, ss.Master.Addr, ss.Replica.Addr)
	redistest.CreateUser(t, "sentinelapp", "sentinel-password", sentinelACLRules, ss.Addrs()...)
	app := ss.Client(t, &redis.FailoverOptions{Username: "sessapp", Password: "app-password",
		SentinelUsername: "sentinelapp", SentinelPassword: "sentinel-password"})
	admin := redis.NewClient(&redis.Options{Addr: ss.Master.Addr})
	t.Cleanup(func() { _ = admin.Close() })
	h := aclHarness(t, app, admin)
	runLifecycle(t, h, "ann")
	assertNoACLDenials(t, append(ss.Addrs(), ss.Master.Addr, ss.Replica.Addr)...)

	c := h.login(chromeWin, "bea")
	redistest.WaitReplicated(t, ss.Master.Addr)
	ss.Master.Stop()
	ss.WaitFailover(t, 20*time.Second)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c.do("GET", "/api/profile").status == http.StatusOK {
			break
		}
		require.True(t, time.Now().Before(deadline), "the session was not served by the promoted replica")
	}
	h.mu.Lock()
	h.events = nil // the failures during the failover
	h.mu.Unlock()
	runLifecycle(t, h, "cy")
	assertNoACLDenials(t, append(ss.Addrs(), ss.Replica.Addr)...)
	assertRefused(t, app)
}

// TestLeastPrivilegeACLCluster runs the lifecycle as the aclRules user on a
// Cluster of three masters with a replica each, the user created on all
// six: through a ClusterClient that reads from masters only, and one that
// reads from replicas (READONLY, PING); through a slot migration (ASKING);
// and after a kill -9 of a master, once its replica is promoted, with the
// sessions it held still served. Redis must refuse that user nothing on
// any node, and everything in refusedCommands.
func TestLeastPrivilegeACLCluster(t *testing.T) {
	cl := redistest.StartReplicatedCluster(t)
	createACLUser(t, cl.Addrs()...)
	admin := cl.Client(t, &redis.ClusterOptions{})
	// The client options docs/redis.md recommends, so that the time to
	// serve again is the one a deployment would see.
	app := cl.Client(t, &redis.ClusterOptions{Username: "sessapp", Password: "app-password",
		DialTimeout: 500 * time.Millisecond, DialerRetries: 1, ReadTimeout: 400 * time.Millisecond,
		WriteTimeout: 400 * time.Millisecond, PoolTimeout: time.Second, MaxRedirects: 2, ContextTimeoutEnabled: true})
	replicaReader := cl.Client(t, &redis.ClusterOptions{Username: "sessapp", Password: "app-password", ReadOnly: true})
	h := aclHarness(t, app, admin)
	ctx := context.Background()

	runLifecycle(t, h, "ann")
	runLifecycle(t, aclHarness(t, replicaReader, admin), "bea")

	t.Run("slot migration", func(t *testing.T) {
		// The slot of user cy's index migrates from its master to another:
		// the old master answers ASK for a key it does not have, and the
		// client sends ASKING before the command to the new one.
		key := h.prefix + "u:cy"
		slot, err := admin.ClusterKeySlot(ctx, key).Result()
		require.NoError(t, err)
		from := cl.MasterOf(t, key)
		to := cl.MasterOf(t, h.prefix+"u:other-master")
		for i := 0; to == from; i++ {
			to = cl.MasterOf(t, fmt.Sprintf("%su:other-master-%d", h.prefix, i))
		}
		ids := map[*redistest.Server]string{}
		for _, n := range []*redistest.Server{from, to} {
			rc := redis.NewClient(&redis.Options{Addr: n.Addr})
			ids[n], err = rc.ClusterMyID(ctx).Result()
			_ = rc.Close()
			require.NoError(t, err)
		}
		setSlot := func(n *redistest.Server, args ...any) error {
			rc := redis.NewClient(&redis.Options{Addr: n.Addr})
			defer rc.Close()
			return rc.Do(ctx, append([]any{"CLUSTER", "SETSLOT", slot}, args...)...).Err()
		}
		require.NoError(t, setSlot(to, "IMPORTING", ids[from]))
		defer func() { assert.NoError(t, setSlot(to, "STABLE")) }()
		require.NoError(t, setSlot(from, "MIGRATING", ids[to]))
		defer func() { assert.NoError(t, setSlot(from, "STABLE")) }()
		list, err := h.store.UserSessions(ctx, "cy", "")
		require.NoError(t, err)
		assert.Empty(t, list)
	})
	assertNoACLDenials(t, cl.Addrs()...)

	// Sessions on every master, so that one is on the master killed.
	var clients []*client
	for i := range 6 {
		clients = append(clients, h.login(chromeWin, fmt.Sprintf("user-%d", i)))
	}
	victim := clients[0]
	master := cl.MasterOf(t, h.keyOf(victim.cookie))
	redistest.WaitReplicated(t, master.Addr)
	// The victim's request is sent every 50 ms from the kill on, as a
	// user would, until it is served again.
	served := make(chan time.Duration, 1)
	killed := time.Now()
	master.Stop()
	go func() {
		defer close(served)
		for time.Since(killed) < 30*time.Second {
			if victim.do("GET", "/api/profile").status == http.StatusOK {
				served <- time.Since(killed)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	promoted := cl.WaitPromoted(t, h.keyOf(victim.cookie), master, 20*time.Second)
	back, ok := <-served
	require.True(t, ok, "the session on the killed master was not served again within 30 s")
	t.Logf("ACL user on a Cluster: master killed, replica promoted after %.1fs, its session served again after %.1fs",
		promoted.Seconds(), back.Seconds())
	for i, c := range clients {
		assert.Equal(t, http.StatusOK, c.do("GET", "/api/profile").status, "session %d", i)
	}
	h.mu.Lock()
	h.events = nil // the failures during the failover
	h.mu.Unlock()
	runLifecycle(t, h, "cy")

	var live []string
	for _, n := range cl.Nodes {
		if n != master {
			live = append(live, n.Addr)
		}
	}
	assertNoACLDenials(t, live...)
	assertRefused(t, app)
}
