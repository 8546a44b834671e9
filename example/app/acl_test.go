package app

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionshield/sessionshield/internal/redistest"
)

// exampleACLExtra is what the example's Redis user needs beyond the
// store's (the README's line): its own keys, and the commands its users,
// login throttle and Cluster health check send that the store does not.
// docs/redis-example.md shows it.
const exampleACLExtra = "~app:* +hget +hsetnx +hincrby +unlink +cluster|info"

// documentedACL returns the rules of the line "ACL SETUSER <user> on
// >PASSWORD <rules>" in the file at path, up to a backquote or the end of
// the line.
func documentedACL(t *testing.T, path, user string) string {
	t.Helper()
	doc, err := os.ReadFile(path)
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(doc), "ACL SETUSER "+user+" on >PASSWORD ")
	require.True(t, ok, "%s shows no ACL line for %s", path, user)
	rules, _, _ := strings.Cut(rest, "\n")
	rules, _, _ = strings.Cut(rules, "`")
	return rules
}

// exampleACL returns the example's rules with its keys under prefix (the
// test's KEY_PREFIX): the store's from the README, its own added.
func exampleACL(t *testing.T, prefix string) string {
	t.Helper()
	rules := documentedACL(t, "../../README.md", "sessapp") + " " + exampleACLExtra
	return strings.NewReplacer("~sess:*", "~"+prefix+"sess:*", "~app:*", "~"+prefix+"app:*").Replace(rules)
}

// aclDenials returns what the servers at addrs refused to any user, from
// their ACL LOG: the command (or key) names.
func aclDenials(t *testing.T, addrs ...string) []string {
	t.Helper()
	var refused []string
	for _, a := range addrs {
		admin := redis.NewClient(&redis.Options{Addr: a})
		entries, err := admin.ACLLog(context.Background(), 100).Result()
		_ = admin.Close()
		require.NoError(t, err, a)
		for _, e := range entries {
			refused = append(refused, e.Object)
		}
	}
	return refused
}

// TestDocsShowTheExampleACL keeps docs/redis-example.md's account of the
// example's Redis user the one the tests below create.
func TestDocsShowTheExampleACL(t *testing.T) {
	doc, err := os.ReadFile("../../docs/redis-example.md")
	require.NoError(t, err)
	assert.Contains(t, string(doc), "`"+exampleACLExtra+"`")
}

// TestRestrictedRedisUser starts the example with Open in each REDIS_MODE
// as a Redis user limited to the documented rules, created
// on every server (and, behind Sentinel, a Sentinel user limited to the
// documented Sentinel rules), and drives every route that touches Redis:
// signup, a failed and a good login, the profile, the session list, a
// revocation, a password change, /healthz, logout and account deletion.
// Each must answer as it does for an unrestricted user, and no server may
// have refused anything but, in standalone mode, the startup check's INFO.
func TestRestrictedRedisUser(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start func(t *testing.T, rules string) (mode, url string, servers []string)
		// refused is what Redis may refuse: the standalone check's INFO.
		refused []string
	}{
		{"standalone", func(t *testing.T, rules string) (string, string, []string) {
			srv := redistest.StartServer(t)
			redistest.CreateUser(t, "exampleapp", "app-password", rules, srv.Addr)
			return RedisStandalone, "redis://exampleapp:app-password@" + srv.Addr, []string{srv.Addr}
		}, []string{"info"}},
		{"cluster", func(t *testing.T, rules string) (string, string, []string) {
			cl := redistest.StartCluster(t)
			addrs := cl.Options().Addrs
			redistest.CreateUser(t, "exampleapp", "app-password", rules, addrs...)
			return RedisCluster, "redis://exampleapp:app-password@" + addrs[0] + "?addr=" + addrs[1] + "&addr=" + addrs[2], addrs
		}, nil},
		{"sentinel", func(t *testing.T, rules string) (string, string, []string) {
			ss := redistest.StartSentinels(t, 5*time.Second)
			redistest.CreateUser(t, "exampleapp", "app-password", rules, ss.Master.Addr, ss.Replica.Addr)
			redistest.CreateUser(t, "sentinelapp", "sentinel-password", documentedACL(t, "../../docs/redis.md", "sentinelapp"), ss.Addrs()...)
			q := url.Values{"master_name": {ss.MasterName}, "username": {"exampleapp"}, "password": {"app-password"}}
			return RedisSentinel, "redis://sentinelapp:sentinel-password@" + ss.Addrs()[0] + "?" + q.Encode(),
				append(ss.Addrs(), ss.Master.Addr, ss.Replica.Addr)
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const prefix = "t:" // openEnv's KEY_PREFIX
			mode, redisURL, servers := tc.start(t, exampleACL(t, prefix))
			e := openEnv(t, Config{RedisMode: mode, RedisURL: redisURL})
			require.Equal(t, prefix, e.prefix)

			const email, pw = "ann@example.com", "correct horse battery staple"
			e.signup(email, pw)
			r := e.do(http.MethodPost, "/login", creds(email, "a wrong guess"))
			require.Equal(t, http.StatusUnauthorized, r.status, r.body)
			laptop := e.login(email, pw)
			phone := e.login(email, pw)
			require.Equal(t, http.StatusOK, e.do(http.MethodGet, "/profile", "", withCookie(laptop)).status)
			r = e.do(http.MethodDelete, "/sessions/"+e.refOf(phone, chromeUA), "", withCookie(laptop))
			require.Equal(t, http.StatusOK, r.status, r.body)
			assert.Equal(t, http.StatusUnauthorized, e.do(http.MethodGet, "/profile", "", withCookie(phone)).status)
			r = e.do(http.MethodPost, "/password", passwordBody(pw, "a new password"), withCookie(laptop))
			require.Equal(t, http.StatusOK, r.status, r.body)
			require.Len(t, r.cookies, 1)
			laptop = r.cookies[0]
			require.Equal(t, http.StatusOK, e.do(http.MethodGet, "/healthz", "").status)
			require.Equal(t, http.StatusOK, e.do(http.MethodPost, "/logout", "", withCookie(laptop)).status)
			laptop = e.login(email, "a new password")
			r = e.do(http.MethodDelete, "/account", deleteBody("a new password"), withCookie(laptop))
			require.Equal(t, http.StatusOK, r.status, r.body)
			r = e.do(http.MethodPost, "/login", creds(email, "a new password"))
			assert.Equal(t, http.StatusUnauthorized, r.status, r.body)

			assert.Equal(t, tc.refused, aclDenials(t, servers...), "what Redis refused (ACL LOG)")
		})
	}
}
