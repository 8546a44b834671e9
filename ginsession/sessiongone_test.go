package ginsession

import (
	"context"
	"net/http"
	"testing"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSaveAfterSessionGoneKeepsNothingOfTheLogin checks what a request
// whose logged-in, remembered session was revoked while it ran can write
// after its Save got ErrSessionGone: the session is gone, so a second Save
// starts an anonymous session, which must neither be remembered (the
// longer timeouts and a 30-day cookie) nor carry the ended login's values,
// which a later Login of another user on this browser would inherit.
func TestSaveAfterSessionGoneKeepsNothingOfTheLogin(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	alice := h.client(chromeWin)
	require.Equal(t, http.StatusOK, alice.do("POST", "/login?user=alice&remember=1").status)
	require.Equal(t, http.StatusOK, alice.do("POST", "/set?k=private&v=alices").status)

	var first, second error
	h.handler = func(c *gin.Context) {
		s := sessions.Default(c)
		_ = s.Get("private")                                       // load
		_, err := h.store.RevokeUser(c.Request.Context(), "alice") // "log out everywhere" on her phone
		assert.NoError(t, err)
		s.Set("seen", "1")
		first = s.Save()
		second = s.Save() // a second save in the same request (a middleware, a retry)
		c.Status(http.StatusNoContent)
	}
	r := alice.do("POST", "/hook")
	require.ErrorIs(t, first, ErrSessionGone)
	require.NoError(t, second)

	if ck := r.cookie(t); ck != nil && ck.MaxAge > 0 {
		assert.LessOrEqual(t, ck.MaxAge, 86400, "an anonymous session's cookie is not a remembered one's")
	}
	for _, key := range h.sessionKeys() {
		all, err := h.raw.HGetAll(ctx, key).Result()
		require.NoError(t, err)
		assert.NotContains(t, all, metaRemember, "an anonymous session is never remembered")
		assert.NotContains(t, all, "private", "the ended login's values are not written again")
	}

	// Bob logs in on the same browser: Alice's values never reach him.
	require.Equal(t, http.StatusOK, alice.do("POST", "/login?user=bob").status)
	got := alice.do("GET", "/get?k=private")
	assert.Nil(t, jsonField(t, got.body, "value"), "another user's values never carry over to a login")
}
