package ginsession

import (
	"context"
	"net/http"
	"strconv"

	gsessions "github.com/gorilla/sessions"
)

// state is what the store knows about one session during one request,
// beyond the values the application sees in Session.Values: the fields as
// they were loaded (to write only what changed), the metadata, and whether
// loading failed. It never leaves the request.
type state struct {
	opts      gsessions.Options // the session's cookie attributes, as loaded (Session.Options points here)
	name      string
	id        string            // the raw session ID; empty until the session exists
	atRest    string            // base64url(SHA-256(id)), the at-rest name
	key       string            // the Redis key
	fields    map[string]string // user fields as stored, for the diff on Save
	opaque    int               // stored fields that could not be decoded (kept as they are)
	created   int64             // Unix ms
	seenAfter int64             // last activity, ms after created, as it was before this request
	readAt    int64             // when the load began, Unix ms
	readSeq   uint64            // the local cache's seq when the load began (see localCache.seq)
	user      string
	fp        []byte
	device    string
	remember  bool  // started with Remember: the longer timeouts
	exists    bool  // a live record backs this session
	expired   bool  // the cookie named a session that had timed out (now deleted)
	hadCookie bool  // the request carried a cookie of this name
	resign    bool  // an older secret verified the cookie: re-sign it on the next write or guarded read
	loadErr   error // Redis failed: fail closed
	decodeErr error // a stored value did not decode: every Get of the request returns it
}

// lastSeen returns the session's last activity before this request, Unix ms.
func (st *state) lastSeen() int64 { return st.created + st.seenAfter }

// setMeta is the one parser of the store's metadata fields (see the meta*
// consts): it sets the state's field f from its stored value v, and
// reports false for a time that does not parse as an integer.
func (st *state) setMeta(f, v string) bool {
	var err error
	switch f {
	case metaCreated:
		st.created, err = strconv.ParseInt(v, 10, 64)
	case metaLastSeen:
		st.seenAfter, err = strconv.ParseInt(v, 10, 64)
	case metaUser:
		st.user = v
	case metaFP:
		st.fp = []byte(v)
	case metaDevice:
		st.device = v
	case metaRemember:
		st.remember = v == "1"
	}
	return err == nil
}

// requestStates holds the states of the sessions loaded in one request. It
// lives in the request's context, next to gorilla's session registry.
type requestStates struct {
	first   [1]stateEntry // backs entries for the usual single session, saving an allocation
	entries []stateEntry
}

type stateEntry struct {
	sess *gsessions.Session
	st   *state
}

type statesKey struct{}

// loaded returns the session called name that store s already loaded in
// the request behind ctx, and its state, or nils.
func loaded(ctx context.Context, s *Store, name string) (*gsessions.Session, *state) {
	rs, ok := ctx.Value(statesKey{}).(*requestStates)
	if !ok {
		return nil, nil
	}
	for _, e := range rs.entries {
		if e.st.name == name && e.sess.Store() == gsessions.Store(s) {
			return e.sess, e.st
		}
	}
	return nil, nil
}

// stateMarker is the key under which a session's Values also point to its
// state. gin-contrib's session keeps the request it started with, so when a
// middleware replaces c.Request after sessions.Sessions (tracing, request
// IDs, timeouts), the state is not in c.Request's context; Login, Logout
// and RequireAuth then find it through the session itself. The codec never
// writes the marker, and session.Clear() removes it (the context still
// serves Save, which gets gin-contrib's own request).
type stateMarker struct{}

// attach records st for sess in r's context and in sess.Values, so that
// a session is loaded at most once per request. Like gorilla's session
// registry, which it replaces, it replaces *r with a shallow copy that
// carries the new context, so the caller's *http.Request (gin's
// c.Request) sees it.
func attach(r *http.Request, sess *gsessions.Session, st *state) {
	sess.Values[stateMarker{}] = st
	if rs, ok := r.Context().Value(statesKey{}).(*requestStates); ok {
		rs.entries = append(rs.entries, stateEntry{sess, st})
		return
	}
	rs := &requestStates{first: [1]stateEntry{{sess, st}}}
	rs.entries = rs.first[:]
	*r = *r.WithContext(context.WithValue(r.Context(), statesKey{}, rs))
}

// forget makes sess and st a new anonymous session that a write would
// create under a new ID, after its session ended; its values go unless
// keepValues.
func forget(sess *gsessions.Session, st *state, keepValues bool) {
	st.exists, st.user, st.fields, st.opaque, st.id = false, "", nil, 0, ""
	st.remember, st.fp, st.device = false, nil, ""
	if !keepValues {
		resetValues(sess, st)
	}
	sess.ID = ""
	sess.IsNew = true
}

// resetValues empties a session's values, keeping its state marker.
func resetValues(sess *gsessions.Session, st *state) {
	clear(sess.Values)
	sess.Values[stateMarker{}] = st
}

// stateOf returns the state of sess loaded in the request behind ctx, or nil.
func (s *Store) stateOf(ctx context.Context, sess *gsessions.Session) *state {
	if st := lookup(ctx, sess); st != nil {
		return st
	}
	st, _ := sess.Values[stateMarker{}].(*state)
	return st
}

// lookup returns the state recorded for sess, or nil.
func lookup(ctx context.Context, sess *gsessions.Session) *state {
	rs, ok := ctx.Value(statesKey{}).(*requestStates)
	if !ok {
		return nil
	}
	for _, e := range rs.entries {
		if e.sess == sess {
			return e.st
		}
	}
	return nil
}
