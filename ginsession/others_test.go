package ginsession

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRevokeOthers checks "sign out other devices": every session of the
// user but the caller's ends, the caller's keeps its cookie and its place
// in the index, a login held between its credential check and Login while
// it runs is refused, and it refuses to run without a session to keep.
func TestRevokeOthers(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	keep := h.login(chromeWin, "oli")
	others := []*client{h.login(firefoxLinx, "oli"), h.login(chromeWin2, "oli")}
	bystander := h.login(chromeWin, "pia")
	keepRef := h.refOf(keep.cookie)

	checked, release := make(chan struct{}), make(chan struct{})
	h.handler = func(c *gin.Context) {
		at := h.clock.Now()
		close(checked)
		<-release
		if err := Login(c, "oli", CheckedAt(at)); err != nil {
			c.JSON(http.StatusUnauthorized, gin.H{"error": err.Error()})
			return
		}
		c.JSON(http.StatusOK, gin.H{"message": "Logged in"})
	}
	inFlight := h.client(firefoxLinx)
	answered := make(chan reply)
	go func() { answered <- inFlight.do("POST", "/hook") }()
	<-checked
	h.clock.Advance(time.Millisecond)
	n, err := h.store.RevokeOthers(ctx, "oli", keepRef)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	close(release)
	assert.Equal(t, http.StatusUnauthorized, (<-answered).status, "the login checked before it is refused")

	assert.Equal(t, http.StatusOK, h.status(keep), "the caller's session is kept")
	for i, c := range others {
		assert.Equal(t, http.StatusUnauthorized, h.status(c), "other session %d", i)
	}
	assert.Equal(t, http.StatusOK, h.status(bystander), "another user's session is untouched")
	assert.Equal(t, []string{h.keyOf(keep.cookie)[len(h.prefix):]}, h.indexMembers("oli"))
	assert.Len(t, h.eventsOf(EventRevoked), 2)

	_, err = h.store.RevokeOthers(ctx, "oli", "")
	assert.ErrorIs(t, err, ErrConfig, "no session to keep")
	h.clock.Advance(time.Millisecond)
	assert.Equal(t, http.StatusOK, h.status(h.login(firefoxLinx, "oli")), "a login after it works")
}
