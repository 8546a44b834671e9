package app

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// passwordBody returns a POST /password body.
func passwordBody(current, next string) string {
	b, _ := json.Marshal(passwordChange{Current: current, New: next})
	return string(b)
}

// deleteBody returns a DELETE /account body.
func deleteBody(password string) string {
	b, _ := json.Marshal(accountDeletion{Password: password})
	return string(b)
}

func TestChangePassword(t *testing.T) {
	e := newTestEnv(t, nil)
	const oldPW, newPW = "the old password", "the new password"
	id := e.signup("hank@example.com", oldPW)
	phone := e.login("hank@example.com", oldPW, withUA(firefoxUA))
	laptop := e.login("hank@example.com", oldPW)
	require.Len(t, e.sessionKeys(), 2)
	hashBefore, err := e.rdb.HGet(t.Context(), e.app.users.userKey(id), "hash").Result()
	require.NoError(t, err)

	r := e.do(http.MethodPost, "/password", passwordBody(oldPW, newPW), withCookie(laptop))
	require.Equal(t, http.StatusOK, r.status, r.body)
	assert.JSONEq(t, `{"message":"Password changed; every other session was logged out"}`, r.body)
	assert.Equal(t, "no-store", r.header.Get("Cache-Control"))
	require.Len(t, r.cookies, 1, "the laptop gets a new session cookie")
	fresh := r.cookies[0]
	assertSessionCookie(t, fresh)
	assert.NotEqual(t, laptop.Value, fresh.Value)

	// Only the new session is left: the phone and the laptop's old cookie
	// are logged out, and the new cookie works.
	assert.Len(t, e.sessionKeys(), 1)
	assert.Equal(t, http.StatusUnauthorized, e.do(http.MethodGet, "/profile", "", withCookie(phone), withUA(firefoxUA)).status)
	assert.Equal(t, http.StatusUnauthorized, e.do(http.MethodGet, "/profile", "", withCookie(laptop)).status)
	assert.Equal(t, http.StatusOK, e.do(http.MethodGet, "/profile", "", withCookie(fresh)).status)

	// The stored hash is a new argon2id hash; the old password stops
	// working at once and the new one works.
	hashAfter, err := e.rdb.HGet(t.Context(), e.app.users.userKey(id), "hash").Result()
	require.NoError(t, err)
	assert.NotEqual(t, hashBefore, hashAfter)
	assert.True(t, strings.HasPrefix(hashAfter, "$argon2id$"), hashAfter)
	assert.NotContains(t, hashAfter, newPW)
	r = e.do(http.MethodPost, "/login", creds("hank@example.com", oldPW))
	assert.Equal(t, http.StatusUnauthorized, r.status)
	assert.Empty(t, r.cookies)
	e.login("hank@example.com", newPW)

	for _, secret := range []string{oldPW, newPW, laptop.Value, fresh.Value, phone.Value} {
		assert.NotContains(t, e.logs.String(), secret)
	}
}

func TestChangePasswordRefusals(t *testing.T) {
	e := newTestEnv(t, nil)
	const pw = "ivy's password"
	id := e.signup("ivy@example.com", pw)
	c := e.login("ivy@example.com", pw)
	hashBefore, err := e.rdb.HGet(t.Context(), e.app.users.userKey(id), "hash").Result()
	require.NoError(t, err)

	cases := []struct {
		name   string
		body   string
		opts   []reqOpt
		status int
		want   string
	}{
		{"not logged in", passwordBody(pw, "a new password"), nil, http.StatusUnauthorized, `{"error":"not logged in"}`},
		{"new too short", passwordBody(pw, "short"), []reqOpt{withCookie(c)}, http.StatusBadRequest,
			`{"error":"password must be at least 8 characters","field":"new"}`},
		{"current missing", passwordBody("", "a new password"), []reqOpt{withCookie(c)}, http.StatusBadRequest,
			`{"error":"password is required","field":"current"}`},
		{"unknown field", `{"current":"x","new":"a new password","email":"x@example.com"}`, []reqOpt{withCookie(c)},
			http.StatusBadRequest, `{"error":"invalid JSON body"}`},
		{"text/plain", passwordBody(pw, "a new password"), []reqOpt{withCookie(c), withHeader("Content-Type", "text/plain")},
			http.StatusForbidden, `{"error":"content type must be application/json"}`},
		{"cross-site Origin", passwordBody(pw, "a new password"), []reqOpt{withCookie(c), withHeader("Origin", "https://evil.example")},
			http.StatusForbidden, `{"error":"cross-site request refused"}`},
		{"wrong current", passwordBody("not ivy's password", "a new password"), []reqOpt{withCookie(c)},
			http.StatusForbidden, `{"error":"invalid credentials"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(http.MethodPost, "/password", tc.body, tc.opts...)
			assert.Equal(t, tc.status, r.status, r.body)
			assert.JSONEq(t, tc.want, r.body)
			assert.Empty(t, r.cookies)
		})
	}
	hashAfter, err := e.rdb.HGet(t.Context(), e.app.users.userKey(id), "hash").Result()
	require.NoError(t, err)
	assert.Equal(t, hashBefore, hashAfter, "no refusal changed the password")
	assert.Equal(t, http.StatusOK, e.do(http.MethodGet, "/profile", "", withCookie(c)).status, "nor ended the session")
}

// TestChangePasswordIsThrottledLikeLogin: wrong current passwords count
// against the account's login counter, so a stolen session cannot guess
// more than a login form allows, and the lock applies to /login too.
func TestChangePasswordIsThrottledLikeLogin(t *testing.T) {
	e := newTestEnv(t, nil)
	const pw = "jack's password"
	e.signup("jack@example.com", pw)
	c := e.login("jack@example.com", pw)
	for i := range DefaultAccountLimit {
		r := e.do(http.MethodPost, "/password", passwordBody("a wrong guess", "a new password"), withCookie(c))
		require.Equal(t, http.StatusForbidden, r.status, "guess %d: %s", i+1, r.body)
	}
	before := e.app.users.verifies.Load()
	r := e.do(http.MethodPost, "/password", passwordBody(pw, "a new password"), withCookie(c))
	assert.Equal(t, http.StatusTooManyRequests, r.status, r.body)
	assert.JSONEq(t, `{"error":"too many failed logins, try again later"}`, r.body)
	assert.NotEmpty(t, r.header.Get("Retry-After"))
	assert.Equal(t, int64(0), e.app.users.verifies.Load()-before, "no argon2id run while locked")
	assert.Equal(t, http.StatusTooManyRequests, e.do(http.MethodPost, "/login", creds("jack@example.com", pw)).status)
	r = e.do(http.MethodDelete, "/account", deleteBody(pw), withCookie(c))
	assert.Equal(t, http.StatusTooManyRequests, r.status, "DELETE /account shares the counter")

	e.clock.Advance(DefaultWindow)
	r = e.do(http.MethodPost, "/password", passwordBody(pw, "a new password"), withCookie(c))
	assert.Equal(t, http.StatusOK, r.status, r.body)
}

// keyDump returns every key under prefix with its contents (hash fields
// and values, set members, string value), found with SCAN.
func (e *testEnv) keyDump(prefix string) map[string]string {
	e.t.Helper()
	ctx := e.t.Context()
	out := map[string]string{}
	iter := e.rdb.Scan(ctx, 0, prefix+"*", 100).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		typ, err := e.rdb.Type(ctx, k).Result()
		require.NoError(e.t, err)
		var content any
		switch typ {
		case "hash":
			content, err = e.rdb.HGetAll(ctx, k).Result()
		case "zset":
			content, err = e.rdb.ZRangeWithScores(ctx, k, 0, -1).Result()
		case "string":
			content, err = e.rdb.Get(ctx, k).Result()
		case "none": // expired between SCAN and TYPE
			continue
		default:
			e.t.Fatalf("unexpected key type %s of %s", typ, k)
		}
		require.NoError(e.t, err)
		b, err := json.Marshal(content)
		require.NoError(e.t, err)
		out[k] = string(b)
	}
	require.NoError(e.t, iter.Err())
	return out
}

// indexKey returns the key of the session index of user id.
func (e *testEnv) indexKey(id string) string { return e.prefix + "sess:u:" + id }

// assertOnlyMark checks that the session index of user id lists no session
// and holds only the revocation mark, which expires within 6 minutes.
func (e *testEnv) assertOnlyMark(id string) {
	e.t.Helper()
	ctx := e.t.Context()
	members, err := e.rdb.ZRange(ctx, e.indexKey(id), 0, -1).Result()
	require.NoError(e.t, err)
	assert.Equal(e.t, []string{"revoked"}, members, "the index holds the mark alone")
	ttl, err := e.rdb.PTTL(ctx, e.indexKey(id)).Result()
	require.NoError(e.t, err)
	assert.Positive(e.t, ttl, "the mark expires")
	assert.LessOrEqual(e.t, ttl, 6*time.Minute)
}

func TestDeleteAccount(t *testing.T) {
	e := newTestEnv(t, nil)
	const pw = "kate's password"
	const email = "kate@example.com"
	id := e.signup(email, pw)
	other := e.signup("leo@example.com", "leo's password") // must survive
	phone := e.login(email, pw, withUA(firefoxUA))
	laptop := e.login(email, pw)
	leo := e.login("leo@example.com", "leo's password")
	// A failed login leaves an account throttle counter behind.
	require.Equal(t, http.StatusUnauthorized, e.do(http.MethodPost, "/login", creds(email, "a wrong guess")).status)
	sum := sha256.Sum256([]byte(email))
	emailHash := hex.EncodeToString(sum[:16])
	dump := e.keyDump(e.prefix)
	require.Contains(t, strings.Join(keysOf(dump), " "), emailHash, "precondition: the throttle key names the email hash")

	r := e.do(http.MethodDelete, "/account", deleteBody("a wrong guess"), withCookie(laptop))
	assert.Equal(t, http.StatusForbidden, r.status)
	assert.JSONEq(t, `{"error":"invalid credentials"}`, r.body)
	assert.Equal(t, http.StatusOK, e.do(http.MethodGet, "/profile", "", withCookie(laptop)).status, "a wrong password deletes nothing")

	r = e.do(http.MethodDelete, "/account", deleteBody(pw), withCookie(laptop))
	require.Equal(t, http.StatusOK, r.status, r.body)
	assert.JSONEq(t, `{"message":"Account deleted"}`, r.body)
	assert.Equal(t, "no-store", r.header.Get("Cache-Control"))
	assertExpiredCookie(t, r)

	assert.Equal(t, http.StatusUnauthorized, e.do(http.MethodGet, "/profile", "", withCookie(laptop)).status)
	assert.Equal(t, http.StatusUnauthorized, e.do(http.MethodGet, "/profile", "", withCookie(phone), withUA(firefoxUA)).status)

	// Nothing in Redis names the user but the revocation mark, for at most
	// 6 minutes: no other key, field or value holds the user ID, the email
	// or the email's hash. The other user is intact.
	e.assertOnlyMark(id)
	for k, v := range e.keyDump(e.prefix) {
		if k == e.indexKey(id) {
			continue
		}
		for _, s := range []string{id, email, emailHash} {
			assert.NotContains(t, k, s, "key %s", k)
			assert.NotContains(t, v, s, "contents of %s", k)
		}
	}
	assert.Equal(t, http.StatusOK, e.do(http.MethodGet, "/profile", "", withCookie(leo)).status)
	assert.Contains(t, e.keyDump(e.prefix), e.app.users.userKey(other))
	// Checked after the scan: a failed login counts against the email,
	// account or not.
	assert.Equal(t, http.StatusUnauthorized, e.do(http.MethodPost, "/login", creds(email, pw)).status)

	// The email can sign up again, as a new user.
	again := e.signup(email, "a brand new password")
	assert.NotEqual(t, id, again)
	e.login(email, "a brand new password")
}

func TestDeleteAccountRefusals(t *testing.T) {
	e := newTestEnv(t, nil)
	const pw = "mona's password"
	id := e.signup("mona@example.com", pw)
	c := e.login("mona@example.com", pw)
	cases := []struct {
		name   string
		opts   []reqOpt
		body   string
		status int
	}{
		{"not logged in", nil, deleteBody(pw), http.StatusUnauthorized},
		{"password missing", []reqOpt{withCookie(c)}, deleteBody(""), http.StatusBadRequest},
		{"text/plain", []reqOpt{withCookie(c), withHeader("Content-Type", "text/plain")}, deleteBody(pw), http.StatusForbidden},
		{"form", []reqOpt{withCookie(c), withHeader("Content-Type", "application/x-www-form-urlencoded")}, "password=" + pw, http.StatusForbidden},
		{"cross-site Origin", []reqOpt{withCookie(c), withHeader("Origin", "https://evil.example")}, deleteBody(pw), http.StatusForbidden},
		{"Sec-Fetch-Site cross-site", []reqOpt{withCookie(c), withHeader("Sec-Fetch-Site", "cross-site")}, deleteBody(pw), http.StatusForbidden},
		{"another browser", []reqOpt{withCookie(c), withUA(firefoxUA)}, deleteBody(pw), http.StatusUnauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(http.MethodDelete, "/account", tc.body, tc.opts...)
			assert.Equal(t, tc.status, r.status, r.body)
			assert.Contains(t, r.body, `"error"`)
		})
	}
	n, err := e.rdb.Exists(t.Context(), e.app.users.userKey(id)).Result()
	require.NoError(t, err)
	assert.Equal(t, int64(1), n, "the account still exists")
	// The fingerprint mismatch ended the session; the account is intact.
	e.login("mona@example.com", pw)
}

func keysOf(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
