package ginsession

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
