package ginsession

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	gsessions "github.com/gorilla/sessions"
	"github.com/redis/go-redis/v9"
)

// Save writes the session to Redis (gorilla/sessions' Store; applications
// call session.Save()). It writes only the fields that changed, with the TTL,
// atomically and only if the session still exists, in one round trip; a new
// session gets a new ID, and one with no values is not written. An emptied
// anonymous session, or a negative MaxAge, destroys the session and expires
// its cookie. It returns ErrSessionGone when another request destroyed the
// session, ErrTooLarge, ErrEncode, or the load's error.
func (s *Store) Save(r *http.Request, w http.ResponseWriter, sess *gsessions.Session) error {
	st := s.stateOf(r.Context(), sess)
	if st == nil {
		return ErrNotLoaded
	}
	o, err := s.writable(sess, st)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if o.MaxAge < 0 {
		e, err := s.destroy(ctx, w, sess, st, Event{Type: EventDestroyed, Reason: "save"})
		if err == nil && e.UserID != "" {
			s.emit(ctx, e)
		}
		return err
	}
	fields, err := s.encode(sess.Values)
	if err != nil {
		return err
	}
	now := s.now()
	if !st.exists {
		if len(fields) == 0 {
			return nil
		}
		if err := s.create(ctx, sess, st, fields, now); err != nil {
			return err
		}
		s.sendCookie(w, r, nil, st, o, now)
		return nil
	}
	if st.user == "" && len(fields) == 0 && st.opaque == 0 {
		_, err := s.destroy(ctx, w, sess, st, Event{}) // anonymous: nothing to report
		return err
	}
	var del, set []string
	for f := range st.fields {
		if _, ok := fields[f]; !ok {
			del = append(del, f)
		}
	}
	for f, v := range fields {
		if old, ok := st.fields[f]; !ok || old != v {
			set = append(set, f, v)
		}
	}
	if len(del)+len(set) > 0 {
		limit := s.cfg.MaxSessionBytes
		if len(set) == 0 {
			limit = -1 // only deletes: the values cannot grow
		}
		live, err := s.update(ctx, st, now, del, set, limit)
		if errors.Is(err, ErrTooLarge) {
			return err
		}
		if err != nil {
			err = s.unavailable("saving session", err)
			s.emit(ctx, Event{Type: EventStoreError, Err: err})
			return err
		}
		if !live {
			// A later Save starts a new anonymous session: neither remembered
			// nor bound, and without a login's values (a Login of another
			// user would inherit them); an anonymous session's values stay.
			forget(sess, st, st.user == "")
			return ErrSessionGone
		}
		st.fields = fields
		st.seenAfter = now - st.created
	}
	if st.resign || o != s.defaults() {
		s.sendCookie(w, r, nil, st, o, now)
	}
	return nil
}

// update runs updateScript on st's session: it deletes the fields del,
// sets the field-value pairs set, and writes the last activity (now) and
// the TTL, atomically and only if the session still exists (live reports
// whether it did) and its values, with what other requests wrote, stay
// within limit (negative: none; else an error wrapping ErrTooLarge, and
// nothing written). It costs one round trip.
func (s *Store) update(ctx context.Context, st *state, now int64, del, set []string, limit int) (live bool, err error) {
	args := make([]any, 0, 3+len(del)+len(set)+2)
	args = append(args, s.ttl(st.remember, st.created, now), len(del), limit)
	for _, f := range del {
		args = append(args, f)
	}
	for _, v := range set {
		args = append(args, v)
	}
	args = append(args, metaLastSeen, now-st.created)
	n, err := runScript(ctx, s.rdb, updateScript, redis.NewIntCmd, []string{st.key}, args...).Result()
	if err == nil && n == 2 {
		return true, fmt.Errorf("%w: with what other requests saved, limit %d", ErrTooLarge, limit)
	}
	return n == 1, err
}

// writable returns the cookie attributes sess is written with, or the
// error that keeps it from being written: the one its load met (Redis
// failed, wrapping ErrStoreUnavailable: fail closed), or a cookie name
// that cannot work with those attributes (wrapping ErrConfig). Save and
// Login start with it.
func (s *Store) writable(sess *gsessions.Session, st *state) (gsessions.Options, error) {
	if st.loadErr != nil {
		return gsessions.Options{}, st.loadErr
	}
	o := s.sessionOptions(sess.Options)
	return o, checkName(st.name, o)
}

// encode encodes a session's values as its Redis hash fields, or returns
// an error wrapping ErrEncode, or ErrTooLarge above Config.MaxSessionBytes.
func (s *Store) encode(values map[any]any) (map[string]string, error) {
	fields, size, err := encodeValues(values)
	if err != nil {
		return nil, err
	}
	if size > s.cfg.MaxSessionBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, size, s.cfg.MaxSessionBytes)
	}
	return fields, nil
}

// maxAge returns the Max-Age of the cookie of st's session, sent with
// attributes o: the configured MaxAge (none for a browser-session cookie),
// or for a remembered session its whole lifetime unless request code
// shortened it (session.Options), capped at the time left to the session's
// absolute deadline.
func (s *Store) maxAge(o gsessions.Options, st *state, now int64) int {
	_, abs := s.timeouts(st.remember)
	left := int((st.created + abs - now) / 1000)
	switch {
	case st.remember && (o.MaxAge <= 0 || o.MaxAge >= s.defaults().MaxAge):
		return max(left, 1)
	case o.MaxAge <= 0:
		return 0
	}
	return max(min(o.MaxAge, left), 1)
}

// fresh is a session about to be written under a new ID: createScript's
// key and arguments.
type fresh struct {
	id, key, atRest string
	args            []any
}

// newFresh prepares the write of st's session under a new ID with fields
// plus the store's metadata, created at now.
func (s *Store) newFresh(st *state, fields map[string]string, now int64) fresh {
	id := newID()
	key := s.sessionKey(id)
	args := make([]any, 0, 1+2*len(fields)+10)
	args = append(args, s.ttl(st.remember, now, now), metaCreated, now, metaLastSeen, 0)
	if st.user != "" {
		args = append(args, metaUser, st.user, metaFP, st.fp, metaDevice, st.device)
	}
	if st.remember {
		args = append(args, metaRemember, "1")
	}
	for f, v := range fields {
		args = append(args, f, v)
	}
	return fresh{id: id, key: key, atRest: key[len(s.cfg.KeyPrefix):], args: args}
}

// adopt makes f, now written, the request's session; the caller sends its
// cookie.
func (s *Store) adopt(sess *gsessions.Session, st *state, f fresh, fields map[string]string, now int64) {
	st.id, st.atRest, st.key, st.exists = f.id, f.atRest, f.key, true
	st.created, st.seenAfter, st.fields, st.expired, st.resign = now, 0, fields, false, false
	sess.ID = s.ref(f.atRest)
	sess.IsNew = false
}

// create writes a new session under a new ID with fields plus the store's
// metadata, in one round trip, and adopts it.
func (s *Store) create(ctx context.Context, sess *gsessions.Session, st *state, fields map[string]string, now int64) error {
	f := s.newFresh(st, fields, now)
	n, err := runScript(ctx, s.rdb, createScript, redis.NewIntCmd, []string{f.key}, f.args...).Result()
	if err == nil && n != 1 {
		err = errors.New("the new session's key was taken") // only a tombstone can be there: never for a fresh ID
	}
	if err != nil {
		err = s.unavailable("creating session", err)
		s.emit(ctx, Event{Type: EventStoreError, Err: err})
		return err
	}
	s.adopt(sess, st, f, fields, now)
	return nil
}
