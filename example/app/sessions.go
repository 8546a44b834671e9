package app

import (
	"errors"
	"net/http"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"

	"github.com/sessionshield/sessionshield/ginsession"
)

// sessions lists the caller's live sessions, the current one marked.
func (a *App) sessions(c *gin.Context) {
	list, err := a.store.UserSessions(c.Request.Context(), ginsession.UserID(c), sessions.Default(c).ID())
	if err != nil {
		a.unavailable(c, err)
		return
	}
	if list == nil {
		list = []ginsession.SessionInfo{}
	}
	// limit is how many sessions the user may have: a login beyond it
	// ends the oldest (the app keeps ginsession.Config.MaxSessionsPerUser's default).
	c.JSON(http.StatusOK, gin.H{"sessions": list, "limit": ginsession.DefaultMaxSessionsPerUser})
}

// revokeSession ends one of the caller's sessions. Ending the caller's own
// session is a logout, so its cookie is expired too.
func (a *App) revokeSession(c *gin.Context) {
	ctx, uid, ref := c.Request.Context(), ginsession.UserID(c), c.Param("ref")
	if ref == sessions.Default(c).ID() { // the caller's own: the reference UserSessions marks Current
		a.logout(c)
		return
	}
	switch err := a.store.RevokeSession(ctx, uid, ref); {
	case errors.Is(err, ginsession.ErrUnknownSession):
		fail(c, http.StatusNotFound, "no such session")
	case err != nil:
		a.unavailable(c, err)
	default:
		c.JSON(http.StatusOK, gin.H{"message": "Session revoked"})
	}
}

// logoutAll ends every session of the caller, this one included.
func (a *App) logoutAll(c *gin.Context) {
	n, err := a.store.RevokeUser(c.Request.Context(), ginsession.UserID(c))
	if err != nil {
		a.unavailable(c, err)
		return
	}
	if !a.endCurrent(c) {
		return
	}
	c.JSON(http.StatusOK, gin.H{"message": "Logged out everywhere", "revoked": n})
}

// logoutOthers ends every session of the caller's account but this one
// ("log out other devices", ginsession.RevokeOthers), and refuses the
// logins of the account whose password check was under way (401, log in
// again). This session keeps its ID and its cookie.
func (a *App) logoutOthers(c *gin.Context) {
	n, err := a.store.RevokeOthers(c.Request.Context(), ginsession.UserID(c), sessions.Default(c).ID())
	if err != nil {
		a.unavailable(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"message": "Logged out on every other device", "revoked": n})
}
