package app

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionshield/sessionshield/ginsession"
)

// TestOwnSessionBehindARequestReplacingMiddleware serves the sessions
// routes behind a middleware that replaces c.Request after
// sessions.Sessions (as tracing and timeout middlewares do), before the
// session is loaded: the list still marks the caller's session current,
// and revoking it through DELETE /sessions/:ref is a logout that expires
// the cookie, not a revocation that leaves it behind.
func TestOwnSessionBehindARequestReplacingMiddleware(t *testing.T) {
	e := newTestEnv(t, nil)
	const password = "a long enough password"
	e.signup("eve@example.com", password)

	type spanKey struct{}
	r := gin.New()
	r.Use(sessions.Sessions(e.app.cfg.CookieName(), e.app.store), func(c *gin.Context) {
		c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), spanKey{}, "span"))
		c.Next()
	})
	r.POST("/login", e.app.login)
	auth := r.Group("/", ginsession.RequireAuth())
	auth.GET("/sessions", e.app.sessions)
	auth.DELETE("/sessions/:ref", e.app.revokeSession)
	e.srv = httptest.NewServer(r)
	t.Cleanup(e.srv.Close)

	phone := e.login("eve@example.com", password, withUA(firefoxUA))
	laptop := e.login("eve@example.com", password)
	res := e.do(http.MethodGet, "/sessions", "", withCookie(laptop))
	require.Equal(t, http.StatusOK, res.status, res.body)
	var list struct {
		Sessions []struct {
			Ref     string
			Current bool
		}
	}
	require.NoError(t, json.Unmarshal([]byte(res.body), &list))
	require.Len(t, list.Sessions, 2)
	own := ""
	for _, s := range list.Sessions {
		if s.Current {
			require.Empty(t, own, "one current session")
			own = s.Ref
		}
	}
	require.NotEmpty(t, own, "the caller's session is marked current")

	res = e.do(http.MethodDelete, "/sessions/"+own, "", withCookie(laptop))
	require.Equal(t, http.StatusOK, res.status, res.body)
	assertExpiredCookie(t, res)
	assert.Equal(t, http.StatusUnauthorized, e.do(http.MethodGet, "/sessions", "", withCookie(laptop)).status)
	assert.Equal(t, http.StatusOK, e.do(http.MethodGet, "/sessions", "", withCookie(phone), withUA(firefoxUA)).status)
}
