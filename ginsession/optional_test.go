package ginsession

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// publicPage serves GET /page behind Authenticate on h's store: it always
// answers 200 with the user UserID reports, "" when anonymous.
func (h *harness) publicPage() {
	h.engine.GET("/page", Authenticate(), func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"userId": UserID(c)})
	})
}

func TestAuthenticateKnowsTheUserOnAPublicPage(t *testing.T) {
	h := newHarness(t, nil)
	h.publicPage()

	anon := h.client(chromeWin).do("GET", "/page")
	assert.Equal(t, http.StatusOK, anon.status)
	assert.JSONEq(t, `{"userId":""}`, anon.body)
	assert.Empty(t, anon.setCookies)

	c := h.login(chromeWin, "pia")
	r := c.do("GET", "/page")
	assert.Equal(t, http.StatusOK, r.status)
	assert.JSONEq(t, `{"userId":"pia"}`, r.body)
	assert.Empty(t, r.setCookies)
	assert.Equal(t, []string{"no-store"}, r.header.Values("Cache-Control"))
	assert.Equal(t, []string{"Cookie"}, r.header.Values("Vary"))
	assert.Equal(t, http.StatusOK, c.do("GET", "/api/profile").status, "the session is untouched")
}

// TestAuthenticateOnAFingerprintMismatch checks that a hard mismatch on a
// public page destroys the session exactly as RequireAuth does (key, index
// entry, cookie, event) and serves the page anonymously, never a 401.
func TestAuthenticateOnAFingerprintMismatch(t *testing.T) {
	h := newHarness(t, nil)
	h.publicPage()
	c := h.login(chromeWin, "max")
	key := h.keyOf(c.cookie)
	thief := h.client(firefoxLinx)
	thief.cookie = c.cookie

	r := thief.do("GET", "/page")
	assert.Equal(t, http.StatusOK, r.status)
	assert.JSONEq(t, `{"userId":""}`, r.body)
	ck := r.cookie(t)
	require.NotNil(t, ck, "the cookie is expired")
	assert.Less(t, ck.MaxAge, 0)
	assert.Empty(t, ck.Value)
	assert.False(t, h.isSession(key))
	assert.Empty(t, h.indexMembers("max"))
	require.Len(t, h.eventsOf(EventFingerprintMismatch), 1)
	assert.Equal(t, "max", h.eventsOf(EventFingerprintMismatch)[0].UserID)
	assert.Equal(t, http.StatusUnauthorized, c.do("GET", "/api/profile").status, "the owner's cookie is dead too")
}

func TestAuthenticateOnAnExpiredSession(t *testing.T) {
	h := newHarness(t, nil)
	h.publicPage()
	c := h.login(chromeWin, "eli")
	key := h.keyOf(c.cookie)
	h.clock.Advance(DefaultIdleTimeout + time.Second)
	r := c.do("GET", "/page")
	assert.Equal(t, http.StatusOK, r.status)
	assert.JSONEq(t, `{"userId":""}`, r.body)
	assert.Contains(t, strings.Join(r.setCookies, "\n"), "Max-Age=0", "the cookie is expired")
	assert.False(t, h.isSession(key))
	require.Len(t, h.eventsOf(EventExpired), 1)
	assert.Equal(t, "idle", h.eventsOf(EventExpired)[0].Reason)
}

// TestAuthenticateWhenRedisFails checks that a session that could not be
// loaded never counts as logged in: the page is served anonymously, the
// cookie is left alone and a store error is reported.
func TestAuthenticateWhenRedisFails(t *testing.T) {
	h := newHarness(t, nil)
	h.publicPage()
	c := h.login(chromeWin, "ray")
	fail := &failReads{}
	h.rdb.AddHook(fail)
	fail.on.Store(true)
	h.clock.Advance(2 * time.Second) // past the plain-read window: the script runs
	r := c.do("GET", "/page")
	fail.on.Store(false)
	assert.Equal(t, http.StatusOK, r.status)
	assert.JSONEq(t, `{"userId":""}`, r.body)
	assert.Empty(t, r.setCookies)
	require.NotEmpty(t, h.eventsOf(EventStoreError))
	assert.ErrorIs(t, h.eventsOf(EventStoreError)[0].Err, ErrStoreUnavailable)
	assert.JSONEq(t, `{"userId":"ray"}`, c.do("GET", "/page").body, "the session itself survived")
}

// TestAuthenticateResignsAStaleCookie: behind Authenticate too, a cookie
// an older secret verified is re-signed with the newest one.
func TestAuthenticateResignsAStaleCookie(t *testing.T) {
	h := newHarness(t, nil) // signs with testSecret
	c := h.login(chromeWin, "ola")
	st, err := NewStore(h.rdb, Config{Secrets: [][]byte{[]byte("the newer secret, 32 bytes or longer"), []byte(testSecret)},
		KeyPrefix: h.prefix, Insecure: true, Now: h.clock.Now, Logger: discardLogger})
	require.NoError(t, err)
	r := gin.New()
	r.Use(sessions.Sessions(cookieName, st))
	r.GET("/page", Authenticate(), func(c *gin.Context) { c.String(http.StatusOK, UserID(c)) })
	req := httptest.NewRequest("GET", "/page", nil)
	req.Header.Set("User-Agent", chromeWin)
	req.Header.Set("Cookie", cookieName+"="+c.cookie)
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, "ola", w.Body.String())
	ck, err := http.ParseSetCookie(w.Header().Get("Set-Cookie"))
	require.NoError(t, err)
	assert.Equal(t, st.sign(cookieName, c.cookie[:idLen]), ck.Value, "re-signed with the newest secret")
}

// failReads fails every session read (the script and the plain read)
// while on.
type failReads struct{ on atomic.Bool }

func (f *failReads) DialHook(next redis.DialHook) redis.DialHook { return next }
func (f *failReads) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		switch cmd.Name() {
		case "evalsha", "eval", "hgetall":
			if f.on.Load() {
				err := errors.New("injected: connection reset")
				cmd.SetErr(err)
				return err
			}
		}
		return next(ctx, cmd)
	}
}
func (f *failReads) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
