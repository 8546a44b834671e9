package app

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tests of this file pin down edge cases found in review of the
// example: input at the limits, races, and what every error answer carries.

func TestLoginBlankEmailIs400NotAnOutage(t *testing.T) {
	e := newTestEnv(t, nil)
	for _, body := range []string{creds("   ", "some password"), creds("\t\n", "some password")} {
		r := e.do(http.MethodPost, "/login", body)
		assert.Equal(t, http.StatusBadRequest, r.status, body)
		assert.Equal(t, errorBody("email and password are required"), r.body)
	}
	assert.NotContains(t, e.logs.String(), "level=ERROR")
}

func TestLoginRefusesOverlongPasswordWithoutHashing(t *testing.T) {
	e := newTestEnv(t, nil)
	e.signup("mia@example.com", "mia's password")
	before := e.app.users.verifies.Load()
	r := e.do(http.MethodPost, "/login", creds("mia@example.com", strings.Repeat("p", MaxPasswordBytes+1)))
	assert.Equal(t, http.StatusBadRequest, r.status)
	assert.JSONEq(t, `{"error":"password must be at most 1024 bytes","field":"password"}`, r.body)
	assert.Equal(t, int64(0), e.app.users.verifies.Load()-before, "no argon2id run")

	u, err := e.app.Authenticate(t.Context(), "mia@example.com", strings.Repeat("p", MaxPasswordBytes+1))
	assert.Nil(t, u)
	assert.ErrorIs(t, err, ErrInvalidCredentials)
	assert.Equal(t, int64(0), e.app.users.verifies.Load()-before, "Authenticate does not hash it either")
}

// TestPasswordLengthBoundaries: the password policy counts characters for the minimum
// and bytes for the maximum.
func TestPasswordLengthBoundaries(t *testing.T) {
	e := newTestEnv(t, nil)
	cases := []struct {
		name, password string
		status         int
	}{
		{"7 two-byte characters (14 bytes)", strings.Repeat("é", 7), http.StatusBadRequest},
		{"8 two-byte characters", strings.Repeat("é", 8), http.StatusCreated},
		{"7 four-byte emoji (28 bytes)", strings.Repeat("🔑", 7), http.StatusBadRequest},
		{"8 characters", "12345678", http.StatusCreated},
		{"exactly 1024 bytes", strings.Repeat("a", MaxPasswordBytes), http.StatusCreated},
		{"1024 bytes of three-byte runes, one over", strings.Repeat("€", MaxPasswordBytes/3) + "ab", http.StatusBadRequest},
		{"spaces kept, not trimmed", "        ", http.StatusCreated},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			email := "len" + string(rune('a'+i)) + "@example.com"
			r := e.do(http.MethodPost, "/signup", creds(email, tc.password))
			require.Equal(t, tc.status, r.status, r.body)
			if tc.status == http.StatusCreated {
				e.login(email, tc.password)
			}
		})
	}
}

func TestStrictJSON(t *testing.T) {
	e := newTestEnv(t, nil)
	for _, body := range []string{
		`{"email":"nia@example.com","password":"nia's password","admin":true}`, // unknown field
		`{"email":"nia@example.com","password":"nia's password"} {"x":1}`,      // a second value
		`{"email":"nia@example.com","password":"nia's password"}]`,             // trailing garbage
		`["nia@example.com","nia's password"]`,                                 // not an object
	} {
		r := e.do(http.MethodPost, "/signup", body)
		assert.Equal(t, http.StatusBadRequest, r.status, body)
		assert.Equal(t, errorBody("invalid JSON body"), r.body, body)
	}
	r := e.do(http.MethodPost, "/signup", `{"email":"nia@example.com","password":"nia's password"}`+"\n \n")
	assert.Equal(t, http.StatusCreated, r.status, "trailing whitespace is fine")
}

// TestSignupRace: of many signups racing for one email exactly one wins,
// and the losers leave no user record behind.
func TestSignupRace(t *testing.T) {
	e := newTestEnv(t, nil)
	const n = 8
	count := e.sendAll(n, http.MethodPost, "/signup", func(int) string { return creds("race@example.com", "racer's password") })
	assert.Equal(t, map[int]int{http.StatusCreated: 1, http.StatusConflict: n - 1}, count)

	ctx := t.Context()
	var users []string
	iter := e.rdb.Scan(ctx, 0, e.app.users.prefix+"user:*", 100).Iterator()
	for iter.Next(ctx) {
		users = append(users, iter.Val())
	}
	require.NoError(t, iter.Err())
	id, err := e.rdb.HGet(ctx, e.app.users.indexKey(), "race@example.com").Result()
	require.NoError(t, err)
	assert.Equal(t, []string{e.app.users.userKey(id)}, users, "one record, the indexed one")
}

// TestRevokeAnotherUsersSessionIs404: a session reference of another user
// is "no such session", and that session lives on.
func TestRevokeAnotherUsersSessionIs404(t *testing.T) {
	e := newTestEnv(t, nil)
	e.signup("olga@example.com", "olga's password")
	e.signup("pete@example.com", "pete's password")
	olga := e.login("olga@example.com", "olga's password")
	pete := e.login("pete@example.com", "pete's password")

	r := e.do(http.MethodGet, "/sessions", "", withCookie(olga))
	require.Equal(t, http.StatusOK, r.status)
	var list struct{ Sessions []struct{ Ref string } }
	require.NoError(t, json.Unmarshal([]byte(r.body), &list))
	require.Len(t, list.Sessions, 1)

	r = e.do(http.MethodDelete, "/sessions/"+list.Sessions[0].Ref, "", withCookie(pete))
	assert.Equal(t, http.StatusNotFound, r.status)
	assert.Equal(t, errorBody("no such session"), r.body)
	assert.Empty(t, r.cookies)
	assert.Equal(t, http.StatusOK, e.do(http.MethodGet, "/profile", "", withCookie(olga)).status, "olga's session lives")
	assert.Len(t, e.sessionKeys(), 2)
}

// TestErrorAnswersAreNotCached: every error status the app sends carries
// Cache-Control: no-store and a JSON error body.
func TestErrorAnswersAreNotCached(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.IPLimit = 1 })
	check := func(name string, want int, r response) {
		t.Helper()
		assert.Equal(t, want, r.status, name)
		assert.Equal(t, "no-store", r.header.Get("Cache-Control"), name)
		assert.True(t, strings.HasPrefix(r.header.Get("Content-Type"), "application/json"), name)
		assert.Contains(t, r.body, `"error":`, name)
	}
	check("404", http.StatusNotFound, e.do(http.MethodGet, "/nope", ""))
	check("405", http.StatusMethodNotAllowed, e.do(http.MethodGet, "/login", ""))
	check("413", http.StatusRequestEntityTooLarge, e.do(http.MethodPost, "/login", creds("x@example.com", strings.Repeat("x", MaxBodyBytes))))
	check("401", http.StatusUnauthorized, e.do(http.MethodPost, "/login", creds("x@example.com", "wrong password")))
	check("429", http.StatusTooManyRequests, e.do(http.MethodPost, "/login", creds("x@example.com", "wrong password")))

	a, err := New(Config{Secret: testSecret, KeyPrefix: e.prefix, Logger: e.app.log}, deadRedis(t))
	require.NoError(t, err)
	router, err := a.Router()
	require.NoError(t, err)
	e.srv.Config.Handler = router
	check("503", http.StatusServiceUnavailable, e.do(http.MethodPost, "/signup", creds("y@example.com", "long enough")))
}

// TestCorruptPasswordHashIsLogged: a user whose stored hash is damaged
// gets 401 like a wrong password, and the operator learns which account.
func TestCorruptPasswordHashIsLogged(t *testing.T) {
	e := newTestEnv(t, nil)
	id := e.signup("quinn@example.com", "quinn's password")
	require.NoError(t, e.rdb.HSet(t.Context(), e.app.users.userKey(id), "hash", "$argon2id$garbage").Err())
	before := e.app.users.verifies.Load()
	r := e.do(http.MethodPost, "/login", creds("quinn@example.com", "quinn's password"))
	assert.Equal(t, http.StatusUnauthorized, r.status)
	assert.Equal(t, int64(2), e.app.users.verifies.Load()-before, "the dummy hash ran too: the answer takes as long as for any account")
	assert.Equal(t, errorBody("invalid credentials"), r.body)
	logs := e.logs.String()
	assert.Contains(t, logs, "stored password hash is malformed")
	assert.Contains(t, logs, "user="+id)
	assert.NotContains(t, logs, "quinn's password")
}

func TestAllowedOrigins(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.AllowedOrigins = []string{"https://app.example.com"} })
	ok := e.do(http.MethodPost, "/logout", "", withHeader("Origin", "https://APP.example.com"))
	assert.Equal(t, http.StatusOK, ok.status, ok.body)
	for _, o := range []string{"https://evil.example", "http://app.example.com", "https://app.example.com.evil.example"} {
		r := e.do(http.MethodPost, "/logout", "", withHeader("Origin", o))
		assert.Equal(t, http.StatusForbidden, r.status, o)
	}
}
