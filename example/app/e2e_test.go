package app

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// assertSessionCookie checks the raw attributes of a live session cookie
// in development mode.
func assertSessionCookie(t *testing.T, c *http.Cookie) {
	t.Helper()
	assert.Equal(t, "id", c.Name)
	assert.NotEmpty(t, c.Value)
	assert.True(t, c.HttpOnly, "HttpOnly")
	assert.Equal(t, http.SameSiteStrictMode, c.SameSite)
	assert.Equal(t, "/", c.Path)
	assert.Empty(t, c.Domain)
	assert.False(t, c.Secure, "development cookies are sent over plain http")
}

// assertExpiredCookie checks the Set-Cookie that removes the session cookie.
func assertExpiredCookie(t *testing.T, r response) {
	t.Helper()
	require.Len(t, r.cookies, 1)
	c := r.cookies[0]
	assert.Equal(t, "id", c.Name)
	assert.Empty(t, c.Value)
	assert.Less(t, c.MaxAge, 0, "Max-Age=0")
	assert.Equal(t, "/", c.Path)
	assert.True(t, c.HttpOnly)
}

func TestEndToEnd(t *testing.T) {
	e := newTestEnv(t, nil)
	const password = "correct horse battery staple"

	r := e.do(http.MethodPost, "/signup", creds("Alice@Example.COM", password))
	require.Equal(t, http.StatusCreated, r.status, r.body)
	var created struct{ ID, Email string }
	require.NoError(t, json.Unmarshal([]byte(r.body), &created))
	assert.Equal(t, "alice@example.com", created.Email)
	assert.NotEmpty(t, created.ID)
	assert.Empty(t, r.cookies, "signup does not log in")
	assert.Equal(t, "no-store", r.header.Get("Cache-Control"))

	// Log in: one cookie, hardened, and one session key in Redis with a TTL.
	r = e.do(http.MethodPost, "/login", creds("alice@example.com", password))
	require.Equal(t, http.StatusOK, r.status, r.body)
	assert.JSONEq(t, `{"message":"Logged in"}`, r.body)
	assert.Equal(t, "no-store", r.header.Get("Cache-Control"))
	require.Len(t, r.cookies, 1)
	c1 := r.cookies[0]
	assertSessionCookie(t, c1)
	assert.NotContains(t, r.body, c1.Value)

	keys := e.sessionKeys()
	require.Len(t, keys, 1)
	key1 := keys[0]
	rawID, _, _ := strings.Cut(c1.Value, ".")
	assert.NotContains(t, key1, rawID, "the Redis key is a hash of the ID, not the ID")
	ttl, err := e.rdb.PTTL(t.Context(), key1).Result()
	require.NoError(t, err)
	assert.Greater(t, ttl, time.Duration(0))
	stored, err := e.rdb.HGetAll(t.Context(), key1).Result()
	require.NoError(t, err)
	for f, v := range stored { // only the user ID goes into the session
		assert.NotContains(t, v, "alice@example.com", "field %s", f)
		assert.NotContains(t, v, "$argon2id$", "field %s", f)
		assert.NotContains(t, v, password, "field %s", f)
	}

	r = e.do(http.MethodGet, "/profile", "", withCookie(c1))
	require.Equal(t, http.StatusOK, r.status, r.body)
	assert.JSONEq(t, `{"userId":"`+created.ID+`","email":"alice@example.com"}`, r.body)
	assert.Equal(t, "no-store", r.header.Get("Cache-Control"))

	// The same cookie from another browser: refused, and the session is gone.
	r = e.do(http.MethodGet, "/profile", "", withCookie(c1), withUA(firefoxUA))
	assert.Equal(t, http.StatusUnauthorized, r.status)
	assert.JSONEq(t, `{"error":"session invalid"}`, r.body)
	n, err := e.rdb.Exists(t.Context(), key1).Result()
	require.NoError(t, err)
	assert.Zero(t, n, "EXISTS on the session key after a fingerprint mismatch")
	r = e.do(http.MethodGet, "/profile", "", withCookie(c1))
	assert.Equal(t, http.StatusUnauthorized, r.status, "the original browser is logged out too")

	// Log in again, list the sessions, log out.
	c2 := e.login("alice@example.com", password)
	assertSessionCookie(t, c2)
	assert.NotEqual(t, c1.Value, c2.Value)
	keys = e.sessionKeys()
	require.Len(t, keys, 1)
	key2 := keys[0]
	ttl, err = e.rdb.PTTL(t.Context(), key2).Result()
	require.NoError(t, err)
	assert.Greater(t, ttl, time.Duration(0))

	r = e.do(http.MethodGet, "/sessions", "", withCookie(c2))
	require.Equal(t, http.StatusOK, r.status, r.body)
	var list struct {
		Sessions []struct {
			Ref     string
			Current bool
			Device  string
		}
		Limit *int
	}
	require.NoError(t, json.Unmarshal([]byte(r.body), &list))
	require.Len(t, list.Sessions, 1)
	require.NotNil(t, list.Limit, r.body)
	assert.Equal(t, 10, *list.Limit, "the example keeps the library's default cap")
	assert.True(t, list.Sessions[0].Current)
	assert.NotEmpty(t, list.Sessions[0].Ref)
	assert.NotContains(t, r.body, c2.Value)

	r = e.do(http.MethodPost, "/logout", "", withCookie(c2))
	require.Equal(t, http.StatusOK, r.status, r.body)
	assert.JSONEq(t, `{"message":"Logged out"}`, r.body)
	assert.Empty(t, r.header.Values("Clear-Site-Data"), "it would clear every cookie of the site")
	assertExpiredCookie(t, r)
	assert.Empty(t, e.sessionKeys(), "no session key after logout")
	n, err = e.rdb.Exists(t.Context(), key2).Result()
	require.NoError(t, err)
	assert.Zero(t, n)

	// Replaying the logged-out cookie gets 401 and creates nothing.
	r = e.do(http.MethodGet, "/profile", "", withCookie(c2))
	assert.Equal(t, http.StatusUnauthorized, r.status)
	assert.JSONEq(t, `{"error":"not logged in"}`, r.body)
	assert.Empty(t, e.sessionKeys())

	// Nothing secret was logged.
	logs := e.logs.String()
	for _, secret := range []string{c1.Value, c2.Value, rawID, password, chromeUA, firefoxUA} {
		assert.NotContains(t, logs, secret)
	}
	assert.Contains(t, logs, "ginsession.login")
	assert.Contains(t, logs, "ginsession.fingerprint_mismatch")
}

func TestSessionsRevokeAndLogoutAll(t *testing.T) {
	e := newTestEnv(t, nil)
	const password = "a long enough password"
	e.signup("bob@example.com", password)
	phone := e.login("bob@example.com", password)
	laptop := e.login("bob@example.com", password)

	r := e.do(http.MethodGet, "/sessions", "", withCookie(laptop))
	require.Equal(t, http.StatusOK, r.status, r.body)
	var list struct {
		Sessions []struct {
			Ref     string
			Current bool
		}
	}
	require.NoError(t, json.Unmarshal([]byte(r.body), &list))
	require.Len(t, list.Sessions, 2)
	var other string
	for _, s := range list.Sessions {
		if !s.Current {
			other = s.Ref
		}
	}
	require.NotEmpty(t, other)

	r = e.do(http.MethodDelete, "/sessions/"+other, "", withCookie(laptop))
	require.Equal(t, http.StatusOK, r.status, r.body)
	assert.Empty(t, r.cookies, "revoking another session leaves this cookie alone")
	assert.Equal(t, http.StatusUnauthorized, e.do(http.MethodGet, "/profile", "", withCookie(phone)).status)
	assert.Equal(t, http.StatusOK, e.do(http.MethodGet, "/profile", "", withCookie(laptop)).status)

	r = e.do(http.MethodDelete, "/sessions/"+other, "", withCookie(laptop))
	assert.Equal(t, http.StatusNotFound, r.status)
	assert.JSONEq(t, `{"error":"no such session"}`, r.body)

	phone = e.login("bob@example.com", password)
	r = e.do(http.MethodPost, "/logout-all", "", withCookie(laptop))
	require.Equal(t, http.StatusOK, r.status, r.body)
	assert.JSONEq(t, `{"message":"Logged out everywhere","revoked":2}`, r.body)
	assertExpiredCookie(t, r)
	assert.Equal(t, http.StatusUnauthorized, e.do(http.MethodGet, "/profile", "", withCookie(phone)).status)
	assert.Equal(t, http.StatusUnauthorized, e.do(http.MethodGet, "/profile", "", withCookie(laptop)).status)
	assert.Empty(t, e.sessionKeys())
}

func TestProductionCookie(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.Env = EnvProduction })
	e.signup("carol@example.com", "password-123")
	r := e.do(http.MethodPost, "/login", creds("carol@example.com", "password-123"))
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.Len(t, r.cookies, 1)
	c := r.cookies[0]
	assert.Equal(t, "__Host-id", c.Name)
	assert.True(t, c.Secure)
	assert.True(t, c.HttpOnly)
	assert.Equal(t, "/", c.Path)
	assert.Empty(t, c.Domain)
	assert.Equal(t, http.SameSiteStrictMode, c.SameSite)
	assert.Equal(t, http.StatusOK, e.do(http.MethodGet, "/profile", "", withCookie(c)).status)
}

func TestLoginThrottlePerAccount(t *testing.T) {
	e := newTestEnv(t, nil)
	const password = "the right password"
	e.signup("dave@example.com", password)
	wrong := creds("dave@example.com", "the wrong password")
	for i := range DefaultAccountLimit {
		r := e.do(http.MethodPost, "/login", wrong)
		require.Equal(t, http.StatusUnauthorized, r.status, "attempt %d", i+1)
	}
	// Locked: even the right password is refused, and says nothing more.
	r := e.do(http.MethodPost, "/login", creds("DAVE@example.com", password))
	assert.Equal(t, http.StatusTooManyRequests, r.status)
	assert.JSONEq(t, `{"error":"too many failed logins, try again later"}`, r.body)
	assert.Empty(t, r.cookies)
	assert.NotEmpty(t, r.header.Get("Retry-After"))

	e.clock.Advance(DefaultWindow - time.Second)
	assert.Equal(t, http.StatusTooManyRequests, e.do(http.MethodPost, "/login", creds("dave@example.com", password)).status)

	e.clock.Advance(2 * time.Second) // the window has passed
	c := e.login("dave@example.com", password)
	assert.Equal(t, http.StatusOK, e.do(http.MethodGet, "/profile", "", withCookie(c)).status)

	// Success reset the account's counter: one failure does not lock it.
	assert.Equal(t, http.StatusUnauthorized, e.do(http.MethodPost, "/login", wrong).status)
	e.login("dave@example.com", password)
}

func TestLoginThrottlePerIP(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.IPLimit = 3 })
	for _, email := range []string{"a@example.com", "b@example.com", "c@example.com"} {
		r := e.do(http.MethodPost, "/login", creds(email, "whatever-password"))
		require.Equal(t, http.StatusUnauthorized, r.status)
	}
	r := e.do(http.MethodPost, "/login", creds("d@example.com", "whatever-password"))
	assert.Equal(t, http.StatusTooManyRequests, r.status)
	e.clock.Advance(DefaultWindow)
	r = e.do(http.MethodPost, "/login", creds("d@example.com", "whatever-password"))
	assert.Equal(t, http.StatusUnauthorized, r.status)
}

func TestNoUserEnumeration(t *testing.T) {
	e := newTestEnv(t, nil)
	e.signup("erin@example.com", "erin's password")
	before := e.app.users.verifies.Load()
	unknown := e.do(http.MethodPost, "/login", creds("nobody@example.com", "erin's password"))
	wrong := e.do(http.MethodPost, "/login", creds("erin@example.com", "not erin's password"))
	assert.Equal(t, http.StatusUnauthorized, unknown.status)
	assert.Equal(t, unknown.status, wrong.status)
	assert.Equal(t, unknown.body, wrong.body)
	assert.Equal(t, errorBody("invalid credentials"), unknown.body)
	assert.Equal(t, int64(2), e.app.users.verifies.Load()-before, "both ran argon2id (the unknown email against the dummy hash)")
	assert.Empty(t, unknown.cookies)
	assert.Empty(t, wrong.cookies)
}

func TestCSRF(t *testing.T) {
	e := newTestEnv(t, nil)
	cases := []struct {
		name   string
		opts   []reqOpt
		status int
	}{
		{"cross-site Origin", []reqOpt{withHeader("Origin", "https://evil.example")}, http.StatusForbidden},
		{"null Origin", []reqOpt{withHeader("Origin", "null")}, http.StatusForbidden},
		{"text/plain", []reqOpt{withHeader("Content-Type", "text/plain")}, http.StatusForbidden},
		{"form", []reqOpt{withHeader("Content-Type", "application/x-www-form-urlencoded")}, http.StatusForbidden},
		{"no Content-Type", []reqOpt{func(r *http.Request) { r.Header.Del("Content-Type") }}, http.StatusForbidden},
		{"Sec-Fetch-Site cross-site", []reqOpt{withHeader("Sec-Fetch-Site", "cross-site")}, http.StatusForbidden},
		{"no Origin, JSON", nil, http.StatusOK},
		{"JSON with charset", []reqOpt{withHeader("Content-Type", "application/json; charset=utf-8")}, http.StatusOK},
		{"same-origin", []reqOpt{withHeader("Origin", e.srv.URL), withHeader("Sec-Fetch-Site", "same-origin")}, http.StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(http.MethodPost, "/logout", "", tc.opts...)
			assert.Equal(t, tc.status, r.status, r.body)
			assert.Equal(t, "no-store", r.header.Get("Cache-Control"))
			if tc.status == http.StatusForbidden {
				assert.Empty(t, r.cookies)
				assert.Contains(t, r.body, `"error"`)
			}
		})
	}
}

func TestSignupValidation(t *testing.T) {
	e := newTestEnv(t, nil)
	unicode64 := strings.Repeat("пароль🔑!", 8) // 64 characters, 4-byte runes included
	require.Equal(t, 64, utf8.RuneCountInString(unicode64))
	cases := []struct {
		name, body string
		status     int
		field      string
	}{
		{"missing email", creds("", "long enough"), http.StatusBadRequest, "email"},
		{"malformed email", creds("not-an-email", "long enough"), http.StatusBadRequest, "email"},
		{"display name", creds("Frank <frank@example.com>", "long enough"), http.StatusBadRequest, "email"},
		{"missing password", creds("frank@example.com", ""), http.StatusBadRequest, "password"},
		{"7 characters", creds("frank@example.com", "1234567"), http.StatusBadRequest, "password"},
		{"over 1024 bytes", creds("frank@example.com", strings.Repeat("x", MaxPasswordBytes+1)), http.StatusBadRequest, "password"},
		{"invalid JSON", "{", http.StatusBadRequest, ""},
		{"64 Unicode characters", creds("frank@example.com", unicode64), http.StatusCreated, ""},
		{"taken, other case", creds("FRANK@example.com", "another password"), http.StatusConflict, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(http.MethodPost, "/signup", tc.body)
			assert.Equal(t, tc.status, r.status, r.body)
			if tc.field != "" {
				var out struct{ Error, Field string }
				require.NoError(t, json.Unmarshal([]byte(r.body), &out))
				assert.Equal(t, tc.field, out.Field)
				assert.NotEmpty(t, out.Error)
			}
		})
	}
	e.login("frank@example.com", unicode64)
}

func TestLoginMissingFieldsAndBodyLimit(t *testing.T) {
	e := newTestEnv(t, nil)
	for _, body := range []string{creds("", "password"), creds("x@example.com", ""), `{}`} {
		r := e.do(http.MethodPost, "/login", body)
		assert.Equal(t, http.StatusBadRequest, r.status, body)
	}
	big := creds("x@example.com", strings.Repeat("x", MaxBodyBytes))
	r := e.do(http.MethodPost, "/login", big)
	assert.Equal(t, http.StatusRequestEntityTooLarge, r.status)
	assert.JSONEq(t, `{"error":"request body too large"}`, r.body)
}

func TestRedisDownGives503(t *testing.T) {
	e := newTestEnv(t, nil)
	dead := deadRedis(t)
	a, err := New(Config{Secret: testSecret, KeyPrefix: e.prefix, Logger: e.app.log}, dead)
	require.NoError(t, err)
	e.app = a
	router, err := a.Router()
	require.NoError(t, err)
	e.srv.Config.Handler = router

	for _, path := range []string{"/signup", "/login"} {
		r := e.do(http.MethodPost, path, creds("gina@example.com", "gina's password"))
		assert.Equal(t, http.StatusServiceUnavailable, r.status, path)
		assert.JSONEq(t, `{"error":"service unavailable"}`, r.body, path)
		assert.Empty(t, r.cookies, path)
	}
	r := e.do(http.MethodGet, "/healthz", "")
	assert.Equal(t, http.StatusServiceUnavailable, r.status)
}
