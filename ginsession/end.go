package ginsession

import (
	"context"
	"net/http"
	"time"

	gsessions "github.com/gorilla/sessions"
	"github.com/redis/go-redis/v9"
)

// tombstoneTTL is how long endScript's tombstone lasts: longer than a
// Login's round trip may take (loginGiveUp), so a session write on its way
// always meets it.
const tombstoneTTL = 60 * time.Second

// loginGiveUp is how long a Login's round trip may take: a Login whose
// session write may have landed after its entry stopped counting as in
// flight (inFlightSeconds, on another instance's clock) fails instead. The
// 5 seconds between the two allow for clocks that differ that much.
const loginGiveUp = inFlightSeconds * time.Second / 2

// endKeys is the one way sessions end in Redis: one round trip deletes the
// keys of the sessions atRestNames (in-flight ones through endScript, which
// leaves a tombstone), then, when userID is set, another removes their index
// entries, only those whose delete succeeded. It reports which sessions were
// live; on an error wrapping ErrStoreUnavailable the ones it did not end are
// still listed.
func (s *Store) endKeys(ctx context.Context, userID string, atRestNames []string, scores []float64) ([]bool, error) {
	found := make([]bool, len(atRestNames))
	var ends []redis.Cmder
	if s.cache != nil {
		s.cache.invalidate(atRestNames, s.now())
		defer func() { s.cache.invalidate(atRestNames, s.now()) }() // after the DELs: a read begun before them is not cached
	}
	err := s.pipelineScripts(ctx, func(p redis.Pipeliner, eval evalFunc) {
		if ends != nil { // sent again after NOSCRIPT: what the first run deleted counts
			for i, c := range ends {
				found[i] = found[i] || deleted(c)
			}
		}
		ends = make([]redis.Cmder, len(atRestNames))
		for i, h := range atRestNames {
			if scores != nil && s.inFlight(scores[i]) {
				ends[i] = eval(endScript, []string{s.atRestKey(h)}, tombstoneTTL.Milliseconds())
			} else {
				ends[i] = p.Del(ctx, s.atRestKey(h))
			}
		}
	})
	ended := make([]any, 0, len(atRestNames))
	for i, h := range atRestNames {
		if ends[i].Err() != nil {
			continue // still listed: a retry finds it
		}
		found[i] = found[i] || deleted(ends[i])
		ended = append(ended, indexMember(h))
	}
	if len(ended) > 0 {
		s.announceEnds(ctx, atRestNames)
	}
	if userID != "" && len(ended) > 0 {
		s.unindex(ctx, userID, ended...)
	}
	if err != nil {
		return found, s.unavailable("ending sessions", err)
	}
	return found, nil
}

// announceEnds publishes the ends of atRestNames to the other Stores' local
// caches, once their DELs have replied: on a Cluster the channel's node is
// not the sessions', and a message that overtook its DEL would let another
// Store read the session again and cache it. A failed PUBLISH is reported
// as EventStoreError and not returned: the sessions have ended, and the
// other caches still drop them within LocalCache.
func (s *Store) announceEnds(ctx context.Context, atRestNames []string) {
	if s.cache == nil {
		return
	}
	if err := s.rdb.Process(ctx, s.cache.publish(ctx, endMessage(atRestNames))); err != nil {
		s.emit(ctx, Event{Type: EventStoreError, Err: s.unavailable("announcing ended sessions", err)})
	}
}

// deleted reports whether c, a DEL or endScript, deleted a session.
func deleted(c redis.Cmder) bool {
	switch c := c.(type) {
	case *redis.IntCmd:
		return c.Err() == nil && c.Val() == 1
	case *redis.Cmd:
		n, err := c.Int64()
		return err == nil && n == 1
	}
	return false
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
	forget(sess, st, false)
	return e, nil
}
