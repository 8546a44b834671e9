package ginsession

import (
	"net/http"
	"testing"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRequestCodeShortensARememberedCookie: request code may shorten the
// cookie (session.Options with a MaxAge below the store's is taken,
// docs/cookie-options.md), and that holds for a remembered session too:
// its cookie gets the shorter Max-Age, on Save and on a Login in the same
// handler, instead of the 30 days left to its absolute timeout.
func TestRequestCodeShortensARememberedCookie(t *testing.T) {
	h := newHarness(t, nil)
	c := h.client(chromeWin)
	r := c.do("POST", "/login?user=rita&remember=1")
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, 30*86400, r.cookie(t).MaxAge)

	h.handler = func(gc *gin.Context) {
		s := sessions.Default(gc)
		s.Options(sessions.Options{MaxAge: 3600})
		s.Set("k", "v")
		saveOr500(gc, s)
	}
	r = c.do("POST", "/hook")
	require.Equal(t, http.StatusOK, r.status)
	if ck := r.cookie(t); assert.NotNil(t, ck, "the changed options send the cookie") {
		assert.Equal(t, 3600, ck.MaxAge, "Save")
	}

	h.handler = func(gc *gin.Context) {
		sessions.Default(gc).Options(sessions.Options{MaxAge: 3600})
		if err := Login(gc, "rita", Remember()); err != nil {
			gc.Status(http.StatusServiceUnavailable)
			return
		}
		gc.Status(http.StatusNoContent)
	}
	r = c.do("POST", "/hook")
	require.Equal(t, http.StatusNoContent, r.status)
	if ck := r.cookie(t); assert.NotNil(t, ck) {
		assert.Equal(t, 3600, ck.MaxAge, "Login")
	}
}
