package ginsession

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// The JSON bodies of RequireAuth's refusals. They are the same bytes
// whatever check failed within a kind, and never name a field.
var (
	bodyNotLoggedIn  = gin.H{"error": "not logged in"}
	bodyInvalid      = gin.H{"error": "session invalid"}
	bodyExpired      = gin.H{"error": "session expired"}
	bodyUnavailable  = gin.H{"error": "session store unavailable"}
	bodyReauthNeeded = gin.H{"error": "reauthentication required"}
)

// RequireAuth returns a middleware that lets a request through only with a
// live, logged-in session whose fingerprint matches; UserID(c) then returns
// the user. Otherwise it answers 401 {"error":"not logged in"},
// {"error":"session invalid"} (a hard fingerprint mismatch: the session is
// destroyed) or {"error":"session expired"}, or 503 {"error":"session store
// unavailable"} when Redis fails, always with Cache-Control: no-store and
// Vary: Cookie; a dead cookie is expired. It costs one round trip for a live
// session, none for a hit of Config.LocalCache (docs/design.md lists the
// others), and re-signs a cookie or fingerprint an older secret made.
//
// It panics with ErrNoSessionMiddleware, ErrNotLoaded, or an ErrConfig error
// for a cookie name the settings make unusable (set Config.CookieName to
// catch that at startup).
func RequireAuth() gin.HandlerFunc {
	return func(c *gin.Context) {
		private(c.Writer.Header())
		switch authenticate(c) {
		case verdictOK:
			c.Next()
		case verdictNone:
			c.AbortWithStatusJSON(http.StatusUnauthorized, bodyNotLoggedIn)
		case verdictExpired:
			c.AbortWithStatusJSON(http.StatusUnauthorized, bodyExpired)
		case verdictInvalid:
			c.AbortWithStatusJSON(http.StatusUnauthorized, bodyInvalid)
		case verdictUnavailable:
			c.AbortWithStatusJSON(http.StatusServiceUnavailable, bodyUnavailable)
		}
	}
}

// Authenticate returns a middleware for public routes that want to know who
// is logged in: it runs RequireAuth's checks, with the same effects, and
// always lets the request through, with UserID(c) "" unless the session
// passed. It never answers 401 or 503 itself. It panics as RequireAuth does.
func Authenticate() gin.HandlerFunc {
	return func(c *gin.Context) {
		private(c.Writer.Header())
		authenticate(c)
		c.Next()
	}
}

// verdict is what authenticate found.
type verdict uint8

const (
	verdictOK          verdict = iota // a live, logged-in session whose fingerprint matches
	verdictNone                       // no session, or one without a user; a dead cookie is expired
	verdictExpired                    // the idle or absolute timeout passed; the cookie is expired
	verdictInvalid                    // a hard fingerprint field differed, or could not be checked; the session is destroyed
	verdictUnavailable                // Redis failed: nothing is logged in
)

// authenticate runs RequireAuth's checks on c's session and returns their
// verdict; it sets the user for UserID when the session passes. It panics as
// RequireAuth does.
func authenticate(c *gin.Context) verdict {
	if authenticateCached(c) {
		return verdictOK
	}
	s, sess, st, err := current(c)
	if err != nil {
		panic(err)
	}
	ctx := c.Request.Context()
	switch {
	case errors.Is(st.loadErr, ErrConfig):
		panic(st.loadErr)
	case st.loadErr != nil:
		return verdictUnavailable
	case st.expired:
		s.expireCookie(c.Writer, sess, st)
		return verdictExpired
	case !st.exists && st.hadCookie:
		// A dead cookie: it failed verification, or its session is gone
		// (revoked, logged out elsewhere, expired in Redis). Never after a
		// Redis failure, which returned above: that session may be alive.
		s.expireCookie(c.Writer, sess, st)
		return verdictNone
	case !st.exists || st.user == "":
		return verdictNone
	}
	now := s.now()
	if reason := s.expiredBy(st.remember, st.created, st.seenAfter, now); reason != "" {
		e, _ := s.destroy(ctx, c.Writer, sess, st, Event{Type: EventExpired, Reason: reason})
		s.emit(ctx, e) // even when the destroy failed (a store error too): the session is refused anyway
		return verdictExpired
	}
	res := s.fp.Check(st.fp, c.Request, s.clientIP(c))
	if !res.OK() {
		e, _ := s.destroy(ctx, c.Writer, sess, st, Event{Type: EventFingerprintMismatch, Reason: "fingerprint", Fields: res.Fields(), Request: c.Request})
		s.emit(ctx, e)
		return verdictInvalid
	}
	if len(res.Soft) > 0 {
		s.emit(ctx, Event{Type: EventFingerprintSoft, UserID: st.user, Ref: s.ref(st.atRest), Fields: res.Fields(), Request: c.Request})
	}
	if res.OldKey {
		s.rekeyFingerprint(ctx, c, st)
	}
	if st.resign {
		s.sendCookie(c.Writer, c.Request, c, st, s.sessionOptions(sess.Options), now)
	}
	if s.cache != nil && st.readAt != 0 && !st.resign && !res.OldKey && len(res.Soft) == 0 {
		s.cacheInsert(st.atRest, st, st.readAt)
	}
	c.Set(userIDKey, st.user)
	return verdictOK
}

// rekeyFingerprint stores st's fingerprint again with the newest key
// (fingerprint.Binder.Rekey), binding the fields the old one bound: one round
// trip, once per session and rotation. A Redis failure is reported as a store
// error and changes nothing; the next guarded request tries again.
func (s *Store) rekeyFingerprint(ctx context.Context, c *gin.Context, st *state) {
	fp := s.fp.Rekey(st.fp, c.Request, s.clientIP(c))
	if fp == nil {
		return // cannot be made again as it was: the session keeps the old key until it ends
	}
	now := s.now()
	// The activity is written with the TTL, as Save does, so the two agree.
	_, err := s.update(ctx, st, now, nil, []string{metaFP, string(fp)}, -1)
	if err != nil {
		s.emit(ctx, Event{Type: EventStoreError, Err: s.unavailable("re-keying a fingerprint", err)})
		return
	}
	st.fp = fp
}

// RequireFreshAuth returns a middleware for sensitive routes, to be used
// after RequireAuth: it answers 401 {"error":"reauthentication required"}
// when the last login is older than d, and 401 {"error":"not
// logged in"} when RequireAuth has not let the request through. It
// panics with ErrNoSessionMiddleware or ErrNotLoaded as RequireAuth does.
func RequireFreshAuth(d time.Duration) gin.HandlerFunc {
	return func(c *gin.Context) {
		private(c.Writer.Header())
		s, _, st, err := current(c)
		if err != nil {
			panic(err)
		}
		if !st.exists || st.user == "" || UserID(c) != st.user {
			c.AbortWithStatusJSON(http.StatusUnauthorized, bodyNotLoggedIn)
			return
		}
		if s.now()-st.created > d.Milliseconds() {
			c.AbortWithStatusJSON(http.StatusUnauthorized, bodyReauthNeeded)
			return
		}
		c.Next()
	}
}

// private marks a response as private to the session: Cache-Control:
// no-store, and Vary: Cookie unless a Vary header already names Cookie
// (RequireFreshAuth after RequireAuth sends it once).
func private(h http.Header) {
	h.Set("Cache-Control", "no-store")
	for _, v := range h.Values("Vary") {
		for v != "" {
			var tok string
			tok, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.TrimSpace(tok), "Cookie") {
				return
			}
		}
	}
	h.Add("Vary", "Cookie")
}
