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
		Fingerprint: fingerprint.Config{IPPrefix: fingerprint.ActionHard},
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

// rotationClient serves a store with secrets (newest first) on the
// harness's Redis and prefix, recording its events with h's, and returns
// a browser on it with User-Agent ua. Besides the harness's routes, GET
// /page is behind Authenticate and answers {"userId":...}.
func (h *harness) rotationClient(ua string, secrets ...[]byte) *client {
	h.t.Helper()
	st, err := NewStore(h.rdb, Config{
		Secrets: secrets, KeyPrefix: h.prefix, Insecure: true, Now: h.clock.Now, Logger: discardLogger,
		OnEvent: func(e Event) {
			h.mu.Lock()
			h.events = append(h.events, e)
			h.mu.Unlock()
		},
	})
	require.NoError(h.t, err)
	r := h.router(cookieName, st)
	r.GET("/page", Authenticate(), func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"userId": UserID(c)}) })
	srv := httptest.NewServer(r)
	h.t.Cleanup(srv.Close)
	return &client{h: &harness{t: h.t, srv: srv}, ua: ua, headers: map[string]string{}, http: srv.Client()}
}

// fingerprintRequest is a request with User-Agent ua and, unless it is
// "", Accept-Language lang.
func fingerprintRequest(ua, lang string) *http.Request {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("User-Agent", ua)
	if lang != "" {
		r.Header.Set("Accept-Language", lang)
	}
	return r
}

// TestRotationNeverEndsASessionOverASoftField: a key rotation re-keys the
// fingerprint whatever its soft field (Accept-Language) says, so dropping
// the old secret ends no session and raises no fingerprint alarm; before,
// a session whose soft field differed during the rotation kept the old key
// and got 401 "session invalid" once it was dropped. The re-keyed
// fingerprint binds the User-Agent and, when the login bound it, the
// Accept-Language of the request that re-keyed it. Authenticate re-keys as
// RequireAuth does.
func TestRotationNeverEndsASessionOverASoftField(t *testing.T) {
	secretA, secretB := []byte(testSecret), []byte("secret B, which replaces secret A, 32+ bytes")
	tests := []struct {
		name     string
		login    string   // Accept-Language at login ("": not sent)
		during   []string // at each request while the store has [B, A]
		after    []string // at each request once it has only [B]
		rekeyed  string   // the Accept-Language the re-keyed fingerprint binds ("": none; never one not bound at login)
		softSeen int      // EventFingerprintSoft over the whole case
	}{
		{"changed", "en-US", []string{"de-DE", "de-DE"}, []string{"de-DE"}, "de-DE", 1},
		{"changed and back", "en-US", []string{"de-DE", "en-US"}, []string{"en-US", "de-DE"}, "de-DE", 3},
		{"dropped", "en-US", []string{"", ""}, []string{"", "en-US"}, "", 1},
		{"never sent", "", []string{"", ""}, []string{""}, "", 0},
		{"added", "", []string{"de-DE", "fr"}, []string{"ja"}, "", 0},
		{"unchanged", "en-US", []string{"en-GB"}, []string{"en", "de-DE"}, "en-GB", 1},
	}
	for _, tc := range tests {
		for _, path := range []string{"/api/profile", "/page"} {
			t.Run(tc.name+" "+path, func(t *testing.T) {
				h := newHarness(t, nil) // logs in with secret A
				c := h.client(chromeWin)
				if tc.login != "" {
					c.headers["Accept-Language"] = tc.login
				}
				require.Equal(t, http.StatusOK, c.do("POST", "/login?user=rita").status)
				key := h.keyOf(c.cookie)
				storedFP := func() []byte {
					v, err := h.raw.HGet(context.Background(), key, metaFP).Result()
					require.NoError(t, err)
					return []byte(v)
				}
				withA := storedFP()
				require.Equal(t, string(h.store.fp.Compute(fingerprintRequest(chromeWin, tc.login), "")), string(withA))

				visit := func(cl *client, path, lang string) {
					t.Helper()
					cl.cookie = c.cookie
					delete(cl.headers, "Accept-Language")
					if lang != "" {
						cl.headers["Accept-Language"] = lang
					}
					r := cl.do("GET", path)
					require.Equal(t, http.StatusOK, r.status, "Accept-Language %q: %s", lang, r.body)
					assert.JSONEq(t, `{"userId":"rita"}`, r.body)
					c.cookie = cl.cookie
				}

				during := h.rotationClient(chromeWin, secretB, secretA)
				for _, lang := range tc.during {
					visit(during, path, lang)
				}
				onlyB := h.rotationClient(chromeWin, secretB)
				fpB, err := fingerprint.New([][]byte{secretB}, fingerprint.Config{})
				require.NoError(t, err)
				withB := storedFP()
				assert.Equal(t, string(fpB.Compute(fingerprintRequest(chromeWin, tc.rekeyed), "")), string(withB),
					"the fingerprint in Redis is keyed with B, over the User-Agent and the Accept-Language %q", tc.rekeyed)
				assert.NotEqual(t, withA[1], withB[1], "another key ID")

				for _, lang := range tc.after {
					visit(onlyB, "/api/profile", lang)
				}
				assert.True(t, h.exists(key), "the session outlives secret A")
				assert.Equal(t, string(withB), string(storedFP()))
				assert.Empty(t, h.eventsOf(EventFingerprintMismatch), "no fingerprint alarm")
				assert.Len(t, h.eventsOf(EventFingerprintSoft), tc.softSeen)
			})
		}
	}
}

// TestRotationStillChecksTheHardFields: during a key rotation and after
// it, a request whose User-Agent differs from the login's gets 401
// "session invalid" and ends the session, whatever its Accept-Language,
// re-keyed or not.
func TestRotationStillChecksTheHardFields(t *testing.T) {
	secretA, secretB := []byte(testSecret), []byte("secret B, which replaces secret A, 32+ bytes")
	tests := []struct {
		name    string
		rekeyed bool     // a request from the login's browser re-keyed the fingerprint first
		secrets [][]byte // the store the other browser's request meets
		lang    string   // its Accept-Language
	}{
		{"during the rotation", false, [][]byte{secretB, secretA}, "en-US"},
		{"during the rotation, soft field changed too", false, [][]byte{secretB, secretA}, "de-DE"},
		{"re-keyed, during the rotation", true, [][]byte{secretB, secretA}, "en-US"},
		{"re-keyed, old secret dropped", true, [][]byte{secretB}, "en-US"},
		{"re-keyed, old secret dropped, soft field changed too", true, [][]byte{secretB}, "de-DE"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			c := h.client(chromeWin)
			c.headers["Accept-Language"] = "en-US"
			require.Equal(t, http.StatusOK, c.do("POST", "/login?user=rita").status)
			key := h.keyOf(c.cookie)
			if tc.rekeyed {
				same := h.rotationClient(chromeWin, secretB, secretA)
				same.cookie = c.cookie
				same.headers["Accept-Language"] = "fr" // a soft change does not stop the re-key
				require.Equal(t, http.StatusOK, same.do("GET", "/api/profile").status)
				c.cookie = same.cookie
			}
			other := h.rotationClient(firefoxLinx, tc.secrets...)
			other.cookie = c.cookie
			other.headers["Accept-Language"] = tc.lang
			r := other.do("GET", "/api/profile")
			assert.Equal(t, http.StatusUnauthorized, r.status)
			assert.JSONEq(t, `{"error":"session invalid"}`, r.body)
			assert.False(t, h.isSession(key), "the session is destroyed")
			ev := h.eventsOf(EventFingerprintMismatch)
			require.Len(t, ev, 1)
			assert.Contains(t, ev[0].Fields, "user-agent")
		})
	}
}

// TestRotationEndsASessionNeverReKeyed: a logged-in session used during
// the rotation only on routes outside RequireAuth and Authenticate has its
// cookie re-signed by Save but keeps its fingerprint under the old key, so
// it ends once the old secret is dropped: 401 "session invalid" and a
// mismatch event that names no field, as Config.Secrets says.
func TestRotationEndsASessionNeverReKeyed(t *testing.T) {
	secretA, secretB := []byte(testSecret), []byte("secret B, which replaces secret A, 32+ bytes")
	h := newHarness(t, nil)
	c := h.login(chromeWin, "rita")
	key := h.keyOf(c.cookie)

	during := h.rotationClient(chromeWin, secretB, secretA)
	during.cookie = c.cookie
	r := during.do("POST", "/set?k=cart&v=1")
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.NotNil(t, r.cookie(t), "Save re-signs the cookie with B")

	after := h.rotationClient(chromeWin, secretB)
	after.cookie = during.cookie
	r = after.do("GET", "/api/profile")
	assert.Equal(t, http.StatusUnauthorized, r.status)
	assert.JSONEq(t, `{"error":"session invalid"}`, r.body)
	assert.False(t, h.isSession(key))
	ev := h.eventsOf(EventFingerprintMismatch)
	require.Len(t, ev, 1)
	assert.Empty(t, ev[0].Fields)
}
