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

// endKeys is the one way sessions end in Redis: one round trip deletes the
// keys of the sessions atRestNames (in-flight ones through endScript, which
// leaves a tombstone), then, when userID is set, another removes their index
// entries, only those whose delete succeeded. It reports which sessions were
// live; on an error wrapping ErrStoreUnavailable the ones it did not end are
// still listed.
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

// destroy is the one way a session loaded in this request ends: endKeys, its
// cookie expired with the same Path and Domain (when it had a record or a
// cookie), and its state and values reset. It returns e with the user and ref
// filled in, for the caller to report. When Redis fails it changes nothing
// and returns the error.
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
