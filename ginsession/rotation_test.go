package ginsession

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionshield/sessionshield/fingerprint"
)

// TestRotationFinishesForReadOnlyUsers rotates from secret A to secret B
// for a user who only reads: A signs the login; a store with [B, A]
// re-signs the cookie with B on a guarded GET, with the same attributes;
// a store with only [B] then accepts the re-signed cookie and refuses the
// old one.
func TestRotationFinishesForReadOnlyUsers(t *testing.T) {
	h := newHarness(t, nil) // signs with testSecret: secret A
	c := h.login(chromeWin, "rita")
	signedWithA := c.cookie
	login := h.client(chromeWin).do("POST", "/login?user=other").cookie(t) // the attributes a fresh login sends
	require.NotNil(t, login)

	secretB := []byte("secret B, which replaces secret A, 32+ bytes")
	serve := func(secrets ...[]byte) (*Store, *client) {
		st, err := NewStore(h.rdb, Config{Secrets: secrets, KeyPrefix: h.prefix, Insecure: true, Now: h.clock.Now, Logger: discardLogger})
		require.NoError(t, err)
		srv := httptest.NewServer(h.router(cookieName, st))
		t.Cleanup(srv.Close)
		return st, &client{h: &harness{t: t, srv: srv}, ua: chromeWin, headers: map[string]string{}, http: srv.Client()}
	}

	storedFP := func() string {
		v, err := h.raw.HGet(context.Background(), h.keyOf(signedWithA), metaFP).Result()
		require.NoError(t, err)
		return v
	}
	fpWithA := storedFP()

	both, during := serve(secretB, []byte(testSecret))
	during.cookie = signedWithA
	h.count.Reset()
	r := during.do("GET", "/api/profile")
	require.Equal(t, http.StatusOK, r.status, r.body)
	assert.Equal(t, []string{"evalsha", "evalsha"}, h.count.Names(), "the load, then the re-key: one more round trip, once")
	require.Len(t, r.setCookies, 1, "a guarded read re-signs a cookie that an old secret verified")
	ck := r.cookie(t)
	require.NotNil(t, ck)
	assert.Equal(t, signedWithA[:idLen], ck.Value[:idLen], "the same session")
	assert.Equal(t, both.sign(cookieName, ck.Value[:idLen]), ck.Value, "signed with B")
	assert.NotEqual(t, signedWithA, ck.Value)
	assert.Equal(t, login.Path, ck.Path)
	assert.Equal(t, login.HttpOnly, ck.HttpOnly)
	assert.Equal(t, login.Secure, ck.Secure)
	assert.Equal(t, login.SameSite, ck.SameSite)
	assert.Equal(t, login.Domain, ck.Domain)
	assert.InDelta(t, login.MaxAge, ck.MaxAge, 1, "Max-Age: the time left to the absolute timeout")
	fpWithB := storedFP()
	assert.NotEqual(t, fpWithA, fpWithB, "the fingerprint in Redis is keyed with B now")
	same := httptest.NewRequest("GET", "/", nil)
	same.Header.Set("User-Agent", chromeWin)
	assert.Equal(t, string(both.fp.Compute(same, "")), fpWithB)
	during.cookie = ck.Value
	h.count.Reset()
	assert.Empty(t, during.do("GET", "/api/profile").setCookies, "a B cookie is not re-signed again")
	assert.Equal(t, int64(1), h.count.RoundTrips(), "re-keyed: back to one round trip, %v", h.count.Names())
	assert.Equal(t, fpWithB, storedFP())

	_, after := serve(secretB)
	after.cookie = ck.Value
	r = after.do("GET", "/api/profile")
	assert.Equal(t, http.StatusOK, r.status, "the re-signed cookie outlives secret A")
	assert.JSONEq(t, `{"userId":"rita"}`, r.body)
	after.cookie = signedWithA
	r = after.do("GET", "/api/profile")
	assert.Equal(t, http.StatusUnauthorized, r.status, "the A cookie is refused once A is dropped")
	assert.JSONEq(t, `{"error":"not logged in"}`, r.body)
}

// TestRotationDoesNotBindNewFields: a session from before the IP prefix
// was turned on keeps not being checked for it after a key rotation
// re-keys its fingerprint, as fingerprint.Config promises; before the
// re-key bound the fields of the current configuration, the same user
// moving to another network got 401 once the rotation had re-keyed them.
func TestRotationDoesNotBindNewFields(t *testing.T) {
	h := newHarness(t, nil) // the IP prefix is off at login
	c := h.login(chromeWin, "ivan")

	secretB := []byte("secret B, which replaces secret A, 32+ bytes")
	st, err := NewStore(h.rdb, Config{
		Secrets: [][]byte{secretB, []byte(testSecret)}, KeyPrefix: h.prefix, Insecure: true, Now: h.clock.Now, Logger: discardLogger,
		Fingerprint: fingerprint.Config{IPPrefix: fingerprint.ActionDestroy},
		ClientIP:    func(c *gin.Context) string { return c.GetHeader("X-Test-IP") },
	})
	require.NoError(t, err)
	srv := httptest.NewServer(h.router(cookieName, st))
	t.Cleanup(srv.Close)
	cl := &client{h: &harness{t: t, srv: srv}, ua: chromeWin, headers: map[string]string{"X-Test-IP": "198.51.100.7"}, http: srv.Client()}
	cl.cookie = c.cookie

	r := cl.do("GET", "/api/profile")
	require.Equal(t, http.StatusOK, r.status, r.body)
	ck := r.cookie(t)
	require.NotNil(t, ck, "re-signed with B, fingerprint re-keyed")
	cl.cookie = ck.Value

	cl.headers["X-Test-IP"] = "203.0.113.9"
	r = cl.do("GET", "/api/profile")
	assert.Equal(t, http.StatusOK, r.status, "another network: the IP prefix was never bound for this session")
	assert.True(t, h.exists(h.keyOf(c.cookie)))
}
