package ginsession

import (
	"context"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"
	gsessions "github.com/gorilla/sessions"
	"github.com/redis/go-redis/v9"

	"github.com/sessionshield/sessionshield/internal/device"
)

// maxUserIDLen is the longest user ID Login accepts, in bytes.
const maxUserIDLen = 256

// Login starts an authenticated session for userID. It issues a new
// session ID and destroys the pre-login session in Redis, so a session ID
// planted before login (fixation) is worthless after it. The values of an
// anonymous pre-login session (a cart, say), or of the same user's, carry
// over; those of another user's session do not. It stores the user ID, the
// authentication time and the browser's fingerprint, adds the session to
// the user's index and sets the cookie, in one pipelined Redis round trip
// of its own, which also deletes the pre-login session (a request that
// carried a session cookie has paid one more to load it, as any handler
// that reads the session does; a server whose script cache was emptied
// costs one more, once). When the pre-login session was itself logged in,
// its entry leaves its user's index in a second round trip, only once its
// DEL has succeeded, so a failure never leaves it alive and unlisted (see
// RevokeUser).
//
// When the user's index then holds more entries than
// Config.MaxSessionsPerUser (the pre-login session it replaces does not
// count), Login checks, in one more round trip, which of those sessions
// are still live, prunes the entries of the ones that ended (idled out),
// and ends the oldest live sessions beyond the cap, never the new one,
// each reported as EventRevoked with Reason "session-limit": two more
// round trips, the sessions' DELs and then the removal of their index
// entries, only for those whose DEL succeeded (one, the pruning, when no
// live session is beyond the cap). When that fails, Login still succeeds
// (the new session exists), reports a store error, and the sessions it did
// not end stay listed, so the user's next Login or a RevokeUser ends them.
// Below the cap none of this runs.
//
// Call it after the application has checked the credentials. On error
// nothing is logged in and no cookie is set: answer 503 when the error wraps
// ErrStoreUnavailable. The pre-login session is then either deleted or
// still listed in its user's index.
func Login(c *gin.Context, userID string) error {
	if userID == "" || len(userID) > maxUserIDLen {
		return ErrInvalidUserID
	}
	s, sess, st, err := current(c)
	if err != nil {
		return err
	}
	o, err := s.writable(sess, st)
	if err != nil {
		return err
	}
	if st.exists && st.user != "" && st.user != userID {
		resetValues(sess, st) // another user's values never reach this one
	}
	fields, err := s.encode(sess.Values)
	if err != nil {
		return err
	}
	if o.MaxAge < 0 {
		o.MaxAge = s.defaults().MaxAge
		sess.Options.MaxAge = o.MaxAge
	}
	old := *st
	now := s.now()
	idx := s.userKey(userID)
	st.user = userID
	st.fp = s.fp.Compute(c.Request, s.clientIP(c))
	st.device = device.Code(c.Request.UserAgent())
	ctx := c.Request.Context()
	replaced := "" // the pre-login session's entry in this user's index: it leaves, so it does not count
	if old.exists && old.user == userID {
		replaced = indexMember(old.atRest)
	}
	var delOld *redis.IntCmd
	var added *redis.Cmd
	err = s.create(ctx, c.Writer, sess, st, o, fields, now, func(p redis.Pipeliner, atRest string, eval evalFunc) {
		if old.exists {
			delOld = p.Del(ctx, old.key)
		}
		added = eval(indexScript, []string{idx}, now/1000, deadlineSeconds(now+s.absMS), indexMember(atRest),
			s.absMS, s.cfg.MaxSessionsPerUser, replaced)
	})
	if err != nil {
		*st = old
		return err
	}
	s.warnPlainHTTP(c.Request, c, o.Secure)
	if old.exists && old.user != "" && delOld.Err() == nil {
		s.unindex(ctx, old.user, indexMember(old.atRest)) // only now that its DEL has succeeded
	}
	c.Set(userIDKey, userID)
	s.emit(ctx, Event{Type: EventLogin, UserID: userID, Session: s.ref(st.atRest)})
	if others, _ := added.StringSlice(); len(others) > 1 {
		if err := s.enforceLimit(ctx, userID, others); err != nil {
			// The new session exists; the ones not ended are still listed,
			// so the next Login or a RevokeUser ends them.
			s.emit(ctx, Event{Type: EventStoreError, UserID: userID, Err: fmt.Errorf("enforcing the session limit: %w", err)})
		}
	}
	return nil
}

// Logout ends the current session: it deletes it in Redis, then removes
// it from the user's index (only once the DEL has succeeded), and expires
// the cookie with the same attributes. Without a session it only expires
// the cookie. It sends no Clear-Site-Data header: "cookies" would clear
// every cookie of the registrable domain (other subdomains' and, on an IP
// address, other ports'), and Chromium ignores every Set-Cookie of a
// response that carries it, so a login in the same response would be lost.
// When Redis cannot be reached it returns an error wrapping
// ErrStoreUnavailable and leaves the cookie alone, so the user can try
// again (the session would otherwise live on in Redis with no way to end
// it from this browser): answer 503. The session is then still listed in
// the user's index, so RevokeUser ends it too.
func Logout(c *gin.Context) error {
	s, sess, st, err := current(c)
	if err != nil {
		return err
	}
	if st.loadErr != nil {
		return st.loadErr
	}
	st.hadCookie = true // always expire the cookie on logout
	e, err := s.destroy(c.Request.Context(), c.Writer, sess, st, Event{Type: EventLogout, Reason: "logout"})
	if err != nil {
		return err
	}
	c.Set(userIDKey, "")
	if e.UserID != "" {
		s.emit(c.Request.Context(), e)
	}
	return nil
}

// destroy is the one way a session loaded in this request ends: its key
// is deleted and then its index entry removed (endKeys), its cookie is
// expired with the same Path and Domain (when it had a record or the
// request carried its cookie), and its state and values are reset. It
// returns e with the session's user and reference filled in, for the
// caller to report. When Redis fails it changes nothing, reports a store
// error and returns it. It costs two round trips for a logged-in session,
// one for an anonymous one, none for a session without a record.
func (s *Store) destroy(ctx context.Context, w http.ResponseWriter, sess *gsessions.Session, st *state, e Event) (Event, error) {
	e.UserID = st.user
	if st.exists {
		e.Session = s.ref(st.atRest)
		if _, err := s.endKeys(ctx, st.user, []string{st.atRest}, nil); err != nil {
			s.emit(ctx, Event{Type: EventStoreError, Err: err})
			return e, err
		}
	}
	if st.exists || st.hadCookie {
		setCookie(w, expiredCookie(st.name, s.sessionOptions(sess.Options)))
	}
	st.exists, st.user, st.fields, st.id = false, "", nil, ""
	resetValues(sess, st)
	sess.ID = ""
	sess.IsNew = true
	return e, nil
}
