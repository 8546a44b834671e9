package ginsession

import (
	"errors"
	"fmt"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/sessionshield/sessionshield/internal/device"
)

// maxUserIDLen is the longest user ID Login accepts, in bytes.
const maxUserIDLen = 256

// A LoginOption changes how Login starts a session.
type LoginOption func(*loginOptions)

type loginOptions struct {
	checkedAt time.Time
	remember  bool
}

// CheckedAt tells Login when the application began checking the credentials
// (take time.Now() before reading the password hash). Login then returns
// ErrStaleLogin for credentials checked before a RevokeUser or RevokeOthers
// of the user, or more than 5 minutes earlier. The instances must share a
// clock (NTP).
func CheckedAt(t time.Time) LoginOption {
	return func(o *loginOptions) { o.checkedAt = t }
}

// Remember makes Login start a remembered session ("keep me signed in"):
// Config.RememberIdleTimeout and RememberAbsoluteTimeout instead of
// IdleTimeout and AbsoluteTimeout, and a cookie with a Max-Age (the time
// left to the absolute timeout, or a shorter one request code set with
// session.Options) even with Config.BrowserSessionCookie. UserSessions
// marks it Remembered.
func Remember() LoginOption {
	return func(o *loginOptions) { o.remember = true }
}

// Login starts an authenticated session for userID once the application has
// checked the credentials: a new session ID (the pre-login session is
// destroyed, its values carried over unless they were another user's), the
// user, the login time and the fingerprint stored, the user's index updated
// and the cookie set, in one pipelined round trip. Beyond
// Config.MaxSessionsPerUser it then ends the user's oldest sessions. It
// returns ErrStaleLogin when the user's sessions were revoked after the
// credential check (see CheckedAt), ErrInvalidUserID, ErrTooLarge or
// ErrEncode, and an error wrapping ErrStoreUnavailable when Redis failed
// or the round trip took 5 s or more: then no one is logged in and no
// cookie is set.
func Login(c *gin.Context, userID string, opts ...LoginOption) error {
	if userID == "" || len(userID) > maxUserIDLen {
		return ErrInvalidUserID
	}
	var lo loginOptions
	for _, opt := range opts {
		opt(&lo)
	}
	s, sess, st, err := current(c)
	if err != nil {
		return err
	}
	o, err := s.writable(sess, st)
	if err != nil {
		return err
	}
	t := s.cfg.Now()
	checked := t.UnixMicro()
	if !lo.checkedAt.IsZero() {
		if t.Sub(lo.checkedAt) > markTTL {
			return ErrStaleLogin
		}
		checked = lo.checkedAt.UnixMicro()
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
	now := t.UnixMilli()
	idx := s.userKey(userID)
	st.user, st.remember = userID, lo.remember
	st.fp = s.fp.Compute(c.Request, s.clientIP(c))
	st.device = device.Code(c.Request.UserAgent())
	ctx := c.Request.Context()
	replaced := "" // the pre-login session's entry in this user's index: it leaves, so it does not count
	if old.exists && old.user == userID {
		replaced = indexMember(old.atRest)
	}
	_, abs := s.timeouts(st.remember)
	f := s.newFresh(st, fields, now)
	member := indexMember(f.atRest)
	var created, added *redis.Cmd
	var delOld *redis.IntCmd
	if old.exists && s.cache != nil {
		s.cache.invalidate([]string{old.atRest}, s.now())
		defer s.cache.invalidate([]string{old.atRest}, s.now())
	}
	began := time.Now()
	err = s.pipelineScripts(ctx, func(p redis.Pipeliner, eval evalFunc) {
		// On one node, Redis runs a connection's commands in order, so the
		// session exists by the time its index entry can be seen.
		created = eval(createScript, []string{f.key}, f.args...)
		if old.exists {
			delOld = p.Del(ctx, old.key)
		}
		added = eval(indexScript, []string{idx}, now/1000, deadlineSeconds(now+abs), member,
			abs, s.cfg.MaxSessionsPerUser, replaced, checked)
	})
	if err == nil && time.Since(began) >= loginGiveUp {
		// Its write may have landed after a revocation no longer took this
		// entry for one in flight (see inFlight), so it ended the entry
		// without a tombstone.
		_, _ = s.endKeys(ctx, userID, []string{f.atRest}, nil)
		err = errors.New("the login's round trip took longer than " + loginGiveUp.String())
	}
	if err != nil {
		*st = old
		err = s.unavailable("logging in", err)
		s.emit(ctx, Event{Type: EventStoreError, UserID: userID, Err: err})
		return err
	}
	if old.exists && delOld.Err() == nil { // only now that its DEL has succeeded
		s.announceEnds(ctx, []string{old.atRest})
		if old.user != "" {
			s.unindex(ctx, old.user, indexMember(old.atRest))
		}
	}
	others, _ := added.StringSlice()
	if n, _ := created.Int64(); n != 1 || (len(others) == 1 && others[0] == markMember) {
		// Revoked while in flight: the new session goes (its ID never left
		// this process), and so did the pre-login one.
		_, _ = s.endKeys(ctx, userID, []string{f.atRest}, nil)
		*st = old
		st.exists = st.exists && delOld.Err() != nil
		_, _ = s.destroy(ctx, c.Writer, sess, st, Event{})
		s.emit(ctx, Event{Type: EventStaleLogin, UserID: userID})
		return ErrStaleLogin
	}
	s.adopt(sess, st, f, fields, now)
	s.sendCookie(c.Writer, c.Request, c, st, o, now)
	c.Set(userIDKey, userID)
	s.emit(ctx, Event{Type: EventLogin, UserID: userID, Ref: s.ref(st.atRest)})
	if len(others) > 1 {
		if err := s.enforceLimit(ctx, userID, others); err != nil {
			// The new session exists; the ones not ended are still listed,
			// so the next Login or a RevokeUser ends them.
			s.emit(ctx, Event{Type: EventStoreError, UserID: userID, Err: fmt.Errorf("enforcing the session limit: %w", err)})
		}
	}
	return nil
}

// Logout ends the current session: its key is deleted, then its index entry,
// and its cookie is expired; without a session it only expires the cookie.
// When Redis fails it returns an error wrapping ErrStoreUnavailable and
// leaves the cookie, so the user can try again: answer 503. It sends no
// Clear-Site-Data (see docs/security.md).
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
