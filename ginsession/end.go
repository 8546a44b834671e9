package ginsession

import (
	"context"
	"net/http"
	"time"

	gsessions "github.com/gorilla/sessions"
	"github.com/redis/go-redis/v9"
)

// tombstoneTTL is how long endScript's tombstone lasts; Login gives up on
// a pipeline that took longer (see Login), so a session write on its way
// always meets the tombstone.
const tombstoneTTL = 60 * time.Second

// endKeys is the one way sessions end in Redis (a logout, a revocation,
// the cap, a destroy after a mismatch or a timeout): in one pipelined
// round trip it deletes the keys of the sessions whose at-rest names are
// atRestNames (those whose scores say a login of the last few seconds go
// through endScript), and then, when userID is set, removes from the
// user's index in another only the entries whose command succeeded. The
// two keys may live on different Cluster nodes, which fail independently;
// in this order a failure can leave an index entry naming a session that
// has ended (harmless: UserSessions prunes it), never a live session that
// nothing lists. It returns which sessions were live, and, when a command
// failed, an error wrapping ErrStoreUnavailable: the sessions it did not
// end are still listed, so a retry, RevokeSession or RevokeUser finds them.
func (s *Store) endKeys(ctx context.Context, userID string, atRestNames []string, scores []float64) ([]bool, error) {
	ends := make([]redis.Cmder, len(atRestNames))
	err := s.pipelineScripts(ctx, func(p redis.Pipeliner, eval evalFunc) {
		for i, h := range atRestNames {
			if scores != nil && s.inFlight(scores[i]) {
				ends[i] = eval(endScript, []string{s.atRestKey(h)}, tombstoneTTL.Milliseconds())
			} else {
				ends[i] = p.Del(ctx, s.atRestKey(h))
			}
		}
	})
	found := make([]bool, len(atRestNames))
	ended := make([]any, 0, len(atRestNames))
	for i, h := range atRestNames {
		if ends[i].Err() != nil {
			continue // still listed: a retry finds it
		}
		switch c := ends[i].(type) {
		case *redis.IntCmd:
			found[i] = c.Val() == 1
		case *redis.Cmd:
			n, _ := c.Int64()
			found[i] = n == 1
		}
		ended = append(ended, indexMember(h))
	}
	if userID != "" && len(ended) > 0 {
		s.unindex(ctx, userID, ended...)
	}
	if err != nil {
		return found, s.unavailable("ending sessions", err)
	}
	return found, nil
}

// endIndexed ends the sessions of userID whose at-rest names are
// atRestNames, with their index scores (see endKeys). It reports each
// session that was live as EventRevoked with reason (entries of sessions
// that had already ended are only pruned), and returns how many there
// were. On error (wrapping ErrStoreUnavailable) the sessions it did not
// end are still listed.
func (s *Store) endIndexed(ctx context.Context, userID string, atRestNames []string, scores []float64, reason string) (int, error) {
	found, err := s.endKeys(ctx, userID, atRestNames, scores)
	n := 0
	for i, h := range atRestNames {
		if found[i] {
			n++
			s.emit(ctx, Event{Type: EventRevoked, UserID: userID, Ref: s.ref(h), Reason: reason})
		}
	}
	return n, err
}

// destroy is the one way a session loaded in this request ends: its key
// is deleted and then its index entry removed (endKeys), its cookie is
// expired with the same Path and Domain (when it had a record or the
// request carried its cookie), and its state and values are reset. It
// returns e with the session's user and ref filled in, for the
// caller to report. When Redis fails it changes nothing, reports a store
// error and returns it. It costs two round trips for a logged-in session,
// one for an anonymous one, none for a session without a record.
func (s *Store) destroy(ctx context.Context, w http.ResponseWriter, sess *gsessions.Session, st *state, e Event) (Event, error) {
	e.UserID = st.user
	if st.exists {
		e.Ref = s.ref(st.atRest)
		if _, err := s.endKeys(ctx, st.user, []string{st.atRest}, nil); err != nil {
			s.emit(ctx, Event{Type: EventStoreError, Err: err})
			return e, err
		}
	}
	if st.exists || st.hadCookie {
		s.expireCookie(w, sess, st)
	}
	st.exists, st.user, st.fields, st.id = false, "", nil, ""
	resetValues(sess, st)
	sess.ID = ""
	sess.IsNew = true
	return e, nil
}
