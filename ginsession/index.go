package ginsession

import (
	"context"
	"sort"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionshield/sessionshield/internal/device"
)

// indexScript adds a new session to its user's index (KEYS[1]) and, when
// the index then holds more entries than the user's cap, returns every
// other entry, oldest first, as member and score pairs, without removing
// any: the index counts entries, and some of them may name sessions that
// idled out, so Login checks which are live before it ends any (see
// enforceLimit). Below the cap it returns an empty array. It first prunes
// the entries whose absolute deadline has passed, and sets the index's TTL
// to the new session's lifetime, the longest of any. ARGV: the current
// time in seconds, the new entry's score (its absolute deadline in
// seconds) and member, the TTL in ms, the cap (negative: none), and the
// member of the pre-login session that this login replaces, or "". The new
// and the replaced entries are never returned and the replaced one does
// not count. Entries with equal scores are ordered by member, which is
// random. It touches only the index key, so it runs on a Cluster too, and
// calls only commands the README's least-privilege ACL allows. It reads
// the whole index, which the cap keeps short.
var indexScript = newScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
local cap = tonumber(ARGV[5])
if cap < 0 then return {} end
local all = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local excess = #all / 2 - cap
for i = 1, #all, 2 do
  if all[i] == ARGV[6] then excess = excess - 1 end
end
if excess <= 0 then return {} end
local out = {}
for i = 1, #all, 2 do
  if all[i] ~= ARGV[3] and all[i] ~= ARGV[6] then
    out[#out + 1] = all[i]
    out[#out + 1] = all[i + 1]
  end
end
return out
`)

// enforceLimit keeps userID within Config.MaxSessionsPerUser after a Login
// whose index script found more entries than the cap; others are the
// user's other entries (the new session's and the replaced one's
// excluded), oldest first, as the script returned them. An entry may name
// a session that ended without leaving the index (it idled out), so it
// first checks which sessions still exist, in one pipelined EXISTS (the
// sessions live in other Cluster slots than the index, so the script
// cannot). An entry whose session is gone is pruned, unless it is inFlight:
// that one counts as live, since its session may still be on its way. Then
// it ends the oldest live sessions beyond the cap, the new one counting,
// with endIndexed, whose index removal prunes the dead entries too. It
// costs one round trip (EXISTS) and then one (the prune) when no live
// session is beyond the cap, or two (DELs, then the index removal) when
// some are.
func (s *Store) enforceLimit(ctx context.Context, userID string, others []string) error {
	n := len(others) / 2
	atRestNames, scores := make([]string, n), make([]float64, n)
	for i := range atRestNames {
		atRestNames[i] = memberAtRest(others[2*i])
		scores[i], _ = strconv.ParseFloat(others[2*i+1], 64)
	}
	exists := make([]*redis.IntCmd, n)
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, h := range atRestNames {
			exists[i] = p.Exists(ctx, s.atRestKey(h))
		}
		return nil
	})
	if err != nil {
		return s.unavailable("checking the user's sessions", err)
	}
	var liveH, deadH []string
	var liveS, deadS []float64
	for i, h := range atRestNames {
		if exists[i].Val() == 0 && !s.inFlight(scores[i]) {
			deadH, deadS = append(deadH, h), append(deadS, scores[i])
			continue
		}
		liveH, liveS = append(liveH, h), append(liveS, scores[i])
	}
	excess := len(liveH) + 1 - s.cfg.MaxSessionsPerUser
	if excess <= 0 {
		if len(deadH) > 0 {
			members := make([]any, len(deadH))
			for i, h := range deadH {
				members[i] = indexMember(h)
			}
			s.unindex(ctx, userID, members...)
		}
		return nil
	}
	_, err = s.endIndexed(ctx, userID, append(deadH, liveH[:excess]...), append(deadS, liveS[:excess]...), "session-limit")
	return err
}

// unindex removes the entries of sessions whose DEL has succeeded from
// user's index. It is best effort: an entry it leaves behind names a key
// that no longer exists, which UserSessions prunes when it finds it and
// the entry's score drops at the session's absolute deadline.
func (s *Store) unindex(ctx context.Context, user string, members ...any) {
	if err := s.rdb.ZRem(ctx, s.userKey(user), members...).Err(); err != nil {
		s.reloadAfter(err)
	}
}

// SessionInfo describes one live session of a user, for a "your sessions"
// page. It holds nothing secret.
type SessionInfo struct {
	// Ref is the session's opaque reference: pass it to RevokeSession.
	Ref string `json:"ref"`
	// Created is when the session was created (the login).
	Created time.Time `json:"created"`
	// LastSeen is the session's last activity.
	LastSeen time.Time `json:"lastSeen"`
	// Device is a short description of the browser, such as "Firefox on Linux".
	Device string `json:"device"`
	// Current is true for the session whose reference UserSessions was
	// given as currentRef: the caller's own.
	Current bool `json:"current"`
}

// UserSessions lists the live sessions of userID, most recently active
// first. The session whose reference is currentRef is marked Current: pass
// the caller's own, sessions.Default(c).ID() (the session's public
// reference, never its ID), or "" to mark none. The comparison is by
// reference alone, so it holds whatever a middleware did to c.Request.
// Entries of sessions that have ended are left out of the list and pruned
// from the index as they are found, except that the entry of a login of
// the last 10 seconds is kept (not listed) when its session is not found:
// on a Cluster its session write may still be on its way.
func (s *Store) UserSessions(ctx context.Context, userID, currentRef string) ([]SessionInfo, error) {
	atRestNames, scores, err := s.indexed(ctx, userID)
	if err != nil || len(atRestNames) == 0 {
		return nil, err
	}
	cmds := make([]*redis.SliceCmd, len(atRestNames))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, h := range atRestNames {
			cmds[i] = p.HMGet(ctx, s.atRestKey(h), metaCreated, metaLastSeen, metaDevice, metaUser)
		}
		return nil
	})
	if err != nil {
		return nil, s.unavailable("listing sessions", err)
	}
	var gone []any
	out := make([]SessionInfo, 0, len(atRestNames))
	for i, cmd := range cmds {
		v := cmd.Val()
		if len(v) != 4 || v[0] == nil || v[3] != userID {
			if !s.inFlight(scores[i]) {
				gone = append(gone, indexMember(atRestNames[i]))
			}
			continue
		}
		var st state
		st.setMeta(metaCreated, str(v[0]))
		st.setMeta(metaLastSeen, str(v[1]))
		out = append(out, SessionInfo{
			Ref:      s.ref(atRestNames[i]),
			Created:  time.UnixMilli(st.created).UTC(),
			LastSeen: time.UnixMilli(st.lastSeen()).UTC(),
			Device:   device.Name(str(v[2])),
			Current:  currentRef != "" && s.ref(atRestNames[i]) == currentRef,
		})
	}
	if len(gone) > 0 {
		_ = s.rdb.ZRem(ctx, s.userKey(userID), gone...).Err() // pruning is best effort
	}
	sort.Slice(out, func(i, j int) bool { return out[i].LastSeen.After(out[j].LastSeen) })
	return out, nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// deadlineSeconds rounds an absolute deadline in Unix ms up to seconds: the
// index scores sessions by it (a 32-bit integer stores smaller than ms), and
// an entry is pruned once its second has passed.
func deadlineSeconds(ms int64) int64 { return (ms + 999) / 1000 }

// inFlightSeconds is how recent, in seconds, a login must be for its index
// entry to stay listed when its session is not found: see inFlight.
const inFlightSeconds = 10

// inFlight reports whether an index entry's score (its session's absolute
// deadline in seconds) is that of a login of the last inFlightSeconds. On
// a Cluster, Login's index entry and session write go to different nodes
// in parallel, so such a session may not be written yet: its entry stays
// listed when a read or a DEL finds nothing, instead of being dropped and
// leaving the session, written a moment later, live and unlisted. An entry
// of a recent session that did end is pruned once it is older.
func (s *Store) inFlight(score float64) bool {
	return int64(score) > deadlineSeconds(s.now()+s.absMS)-inFlightSeconds
}

// indexed returns the at-rest names of userID's sessions that have not
// passed their absolute deadline, and their scores, pruning the ones that
// have.
func (s *Store) indexed(ctx context.Context, userID string) ([]string, []float64, error) {
	idx := s.userKey(userID)
	var members *redis.ZSliceCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.ZRemRangeByScore(ctx, idx, "-inf", strconv.FormatInt(s.now()/1000, 10))
		members = p.ZRangeWithScores(ctx, idx, 0, -1)
		return nil
	})
	if err != nil {
		return nil, nil, s.unavailable("reading the user's sessions", err)
	}
	zs := members.Val()
	atRestNames, scores := make([]string, len(zs)), make([]float64, len(zs))
	for i, z := range zs {
		atRestNames[i], scores[i] = memberAtRest(str(z.Member)), z.Score
	}
	return atRestNames, scores, nil
}

// RevokeSession ends the session of userID whose reference is ref (from
// UserSessions): its key is deleted and then it leaves the index, so its
// next request gets 401, and it is reported as EventRevoked. It returns an
// error wrapping ErrUnknownSession when the user's index does not list
// that reference (another user's session, or one that has left the
// index). A listed session that had already ended (it idled out) is only
// pruned from the index, as RevokeUser does: RevokeSession returns nil and
// reports no event. An entry of a login of the last 10 seconds whose
// session is not found stays listed: on a Cluster its session's write may
// still be on its way. On an error wrapping
// ErrStoreUnavailable the session is either ended or still listed, so
// calling it again (after a Cluster or Sentinel failover, say) ends it.
func (s *Store) RevokeSession(ctx context.Context, userID, ref string) error {
	atRestNames, scores, err := s.indexed(ctx, userID)
	if err != nil {
		return err
	}
	for i, h := range atRestNames {
		if s.ref(h) == ref {
			found, err := s.endKeys(ctx, userID, []string{h}, scores[i:i+1])
			if err != nil {
				return err
			}
			if found[0] {
				s.emit(ctx, Event{Type: EventRevoked, UserID: userID, Session: ref, Reason: "revoked"})
			}
			return nil
		}
	}
	return ErrUnknownSession
}

// RevokeUser ends every session of userID ("log out everywhere", password
// change, account disabled) and returns how many live sessions it ended.
// Every client of that user gets 401 on its next request. It deletes the
// sessions' keys in one pipelined round trip and then, in another, removes
// from the user's index only the entries whose DEL succeeded. When it
// returns nil it has ended every session of userID that existed when it
// started. When it returns an error (wrapping ErrStoreUnavailable: a
// Cluster node down, say), the count is of the sessions it did end, and
// every session it did not end is still listed: call it again, after the
// failover, to end them. A login that runs at the same moment may survive,
// listed, so that the next call ends it: call it again after changing the
// password. It sets no cookie: in a "log out everywhere" handler, whose own
// session it ends too, call Logout(c) after it so that the caller's cookie
// is expired as well (the example's /logout-all does).
//
// Redis replicates asynchronously, so a DEL that a master acknowledged
// and then lost in a crash before sending it to its replica (a window of
// the replication lag: about 0.1 ms on loopback) comes back with
// the promoted replica, without its index entry if that removal reached
// another master's replica. The store does not WAIT for replicas: WAIT
// narrows the window but, as Redis documents, does not close it, and it
// blocks for its whole timeout on a server without replicas.
func (s *Store) RevokeUser(ctx context.Context, userID string) (int, error) {
	atRestNames, scores, err := s.indexed(ctx, userID)
	if err != nil || len(atRestNames) == 0 {
		return 0, err
	}
	return s.endIndexed(ctx, userID, atRestNames, scores, "revoked")
}

// endKeys is the one way sessions end in Redis (a logout, a revocation,
// the cap, a destroy after a mismatch or a timeout): it deletes the keys
// of the sessions whose at-rest names are atRestNames in one pipelined
// round trip and then, when userID is set, removes from the user's index
// in another only the entries whose DEL succeeded, except those whose DEL
// found nothing and whose score (scores[i], when scores is not nil) is
// inFlight. The two keys may live on different Cluster nodes, which fail
// independently; in this order a failure can leave an index entry naming
// a session that has ended (harmless: UserSessions prunes it, RevokeUser
// counts it as already ended), never a live session that nothing lists.
// It returns which sessions the DELs found, and, when a DEL failed, an
// error wrapping ErrStoreUnavailable: the sessions it did not end are
// still listed, so a retry, RevokeSession or RevokeUser finds them.
func (s *Store) endKeys(ctx context.Context, userID string, atRestNames []string, scores []float64) ([]bool, error) {
	dels := make([]*redis.IntCmd, len(atRestNames))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, h := range atRestNames {
			dels[i] = p.Del(ctx, s.atRestKey(h))
		}
		return nil
	})
	found := make([]bool, len(atRestNames))
	ended := make([]any, 0, len(atRestNames))
	for i, h := range atRestNames {
		if dels[i].Err() != nil {
			continue // still listed: a retry finds it
		}
		found[i] = dels[i].Val() == 1
		if !found[i] && scores != nil && s.inFlight(scores[i]) {
			continue // its write may still be on its way: it stays listed
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
			s.emit(ctx, Event{Type: EventRevoked, UserID: userID, Session: s.ref(h), Reason: reason})
		}
	}
	return n, err
}
