package ginsession

import (
	"fmt"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	gsessions "github.com/gorilla/sessions"

	"github.com/sessionshield/sessionshield/fingerprint"
)

// userIDKey is the gin.Context key under which RequireAuth, Authenticate and
// Login put the user ID.
const userIDKey = "github.com/sessionshield/sessionshield/ginsession.userID"

// sessionNameKey is the gin.Context key under which UseSession records
// which session of sessions.SessionsMany the helpers use.
const sessionNameKey = "github.com/sessionshield/sessionshield/ginsession.name"

// UseSession returns a middleware that makes RequireAuth,
// RequireFreshAuth, Authenticate, Login and Logout use the session called
// name, for routes behind sessions.SessionsMany: put it before them, on
// the group or the route. Behind sessions.Sessions it is not needed.
func UseSession(name string) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Set(sessionNameKey, name)
		c.Next()
	}
}

// current finds the session that sessions.Sessions registered for c (for
// sessions.SessionsMany, the one UseSession named), loading it if nothing
// has yet.
func current(c *gin.Context) (*Store, *gsessions.Session, *state, error) {
	gs, many := registered(c)
	if gs == nil && many {
		return nil, nil, nil, fmt.Errorf("%w: behind sessions.SessionsMany, name the session with ginsession.UseSession", ErrNoSessionMiddleware)
	}
	inner, ok := gs.(interface{ Session() *gsessions.Session })
	if !ok {
		return nil, nil, nil, ErrNoSessionMiddleware
	}
	sess := inner.Session()
	if sess == nil {
		return nil, nil, nil, ErrNoSessionMiddleware
	}
	s, ok := sess.Store().(*Store)
	if !ok {
		return nil, nil, nil, ErrNoSessionMiddleware
	}
	st := s.stateOf(c.Request.Context(), sess)
	if st == nil {
		return nil, nil, nil, ErrNotLoaded
	}
	return s, sess, st, nil
}

// registered returns gin-contrib's session that sessions.Sessions
// registered for c (for sessions.SessionsMany, the one UseSession named:
// many reports that there were several), without loading it, or nil.
func registered(c *gin.Context) (gs sessions.Session, many bool) {
	v, _ := c.Get(sessions.DefaultKey)
	switch x := v.(type) {
	case sessions.Session:
		return x, false
	case map[string]sessions.Session:
		return x[c.GetString(sessionNameKey)], true
	}
	return nil, false
}

// clientIP returns the client address the fingerprint binds, or "" when it
// binds none (resolving it costs allocations on every request): by default
// the peer's address (c.RemoteIP), never a forwarding header, because Gin
// believes X-Forwarded-For from every peer until the application calls
// engine.SetTrustedProxies. Config.ClientIP replaces it behind proxies.
func (s *Store) clientIP(c *gin.Context) string {
	if s.cfg.Fingerprint.IPPrefix == fingerprint.ActionDefault || s.cfg.Fingerprint.IPPrefix == fingerprint.ActionOff {
		return ""
	}
	if s.cfg.ClientIP != nil {
		return s.cfg.ClientIP(c)
	}
	return c.RemoteIP()
}

// UserID returns the user of the request's session, as set by RequireAuth,
// Authenticate or Login, or "" when the request is not authenticated.
func UserID(c *gin.Context) string {
	return c.GetString(userIDKey)
}
