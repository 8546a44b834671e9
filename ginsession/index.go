package ginsession

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionshield/sessionshield/internal/device"
)

// markMember is the index member that holds the user's revocation mark:
// its score is the time, in Unix µs, before which a Login's credential
// check does not count (see RevokeUser and CheckedAt). Session entries are
// 32 bytes long, so it never names a session.
const markMember = "revoked"

// indexScript adds a new session to its user's index (KEYS[1]) unless the
// user's revocation mark is after the login's credential check, and,
// when the index then holds more sessions than the user's cap, returns
// every other entry, oldest first, as member and score pairs, without
// removing any: the index counts entries, and some of them may name
// sessions that idled out, so Login checks which are live before it ends
// any (see enforceLimit). Below the cap it returns an empty array; a
// refused login gets the one-element array {markMember}. It first prunes
// the entries whose absolute deadline has passed, and extends the index's
// TTL to the new session's lifetime when that is longer. ARGV: the current
// time in seconds, the new entry's score (its absolute deadline in
// seconds) and member, the TTL in ms, the cap (negative: none), the member
// of the pre-login session that this login replaces, or "", and the time
// of the credential check in Unix µs. The new and the replaced entries are
// never returned and the replaced one does not count. Entries with equal
// scores are ordered by member, which is random.
var indexScript = newScript(`
local mark = redis.call('ZSCORE', KEYS[1], 'revoked')
if mark and tonumber(ARGV[7]) < tonumber(mark) then return {'revoked'} end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[4]) then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
local cap = tonumber(ARGV[5])
if cap < 0 then return {} end
local all = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local excess = #all / 2 - cap
for i = 1, #all, 2 do
  if all[i] == ARGV[6] or all[i] == 'revoked' then excess = excess - 1 end
end
if excess <= 0 then return {} end
local out = {}
for i = 1, #all, 2 do
  if all[i] ~= ARGV[3] and all[i] ~= ARGV[6] and all[i] ~= 'revoked' then
    out[#out + 1] = all[i]
    out[#out + 1] = all[i + 1]
  end
end
return out
`)

// revokeScript raises the user's revocation mark (KEYS[1], the index) to
// ARGV[2] (Unix µs), keeps the index at least ARGV[3] ms, prunes the
// entries past their absolute deadline (ARGV[1], seconds) and returns the
// index, with scores. Raising the mark and reading the index in one script
// splits every Login in two: one whose index entry came first is in the
// list, and one that comes after finds the mark.
var revokeScript = newScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local cur = redis.call('ZSCORE', KEYS[1], 'revoked')
if not cur or tonumber(cur) < tonumber(ARGV[2]) then redis.call('ZADD', KEYS[1], ARGV[2], 'revoked') end
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
`)

// unindexScript removes members (ARGV[2] on) from a user's index (KEYS[1]);
// when only the revocation mark is left, the index lives no longer than
// the mark must (ARGV[1] ms), so that nothing of a user whose sessions all
// ended stays in Redis for long.
var unindexScript = newScript(`
for i = 2, #ARGV, 1000 do
  redis.call('ZREM', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
if redis.call('ZCARD', KEYS[1]) == 1 and redis.call('ZSCORE', KEYS[1], 'revoked') then
  if redis.call('PTTL', KEYS[1]) > tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
end
return 0
`)

// enforceLimit keeps userID within Config.MaxSessionsPerUser after a Login
// whose index script found more entries than the cap; others are the
// user's other entries (the new session's and the replaced one's
// excluded), oldest first, as the script returned them. An entry may name
// a session that ended without leaving the index (it idled out), so it
// first checks which sessions still exist, in one pipelined HEXISTS of its creation time (the
// sessions live in other Cluster slots than the index, so the script
// cannot). An entry whose session is gone is pruned, unless it is inFlight:
// that one counts as live, since its session may still be on its way. Then
// it ends the oldest live sessions beyond the cap, the new one counting,
// with endIndexed, whose index removal prunes the dead entries too. It
// costs one round trip (HEXISTS) and then one (the prune) when no live
// session is beyond the cap, or two (DELs, then the index removal) when
// some are.
func (s *Store) enforceLimit(ctx context.Context, userID string, others []string) error {
	n := len(others) / 2
	atRestNames, scores := make([]string, n), make([]float64, n)
	for i := range atRestNames {
		atRestNames[i] = memberAtRest(others[2*i])
		scores[i], _ = strconv.ParseFloat(others[2*i+1], 64)
	}
	exists := make([]*redis.BoolCmd, n)
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, h := range atRestNames {
			exists[i] = p.HExists(ctx, s.atRestKey(h), metaCreated) // a session, not a tombstone
		}
		return nil
	})
	if err != nil {
		return s.unavailable("checking the user's sessions", err)
	}
	var liveH, deadH []string
	var liveS, deadS []float64
	for i, h := range atRestNames {
		if !exists[i].Val() && !s.inFlight(scores[i]) {
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
// user's index (unindexScript). It is best effort: an entry it leaves
// behind names a key that no longer exists, which UserSessions prunes when
// it finds it and the entry's score drops at the session's absolute
// deadline.
func (s *Store) unindex(ctx context.Context, user string, members ...any) {
	args := make([]any, 0, 1+len(members))
	args = append(args, markTTL.Milliseconds())
	args = append(args, members...)
	if err := runScript(ctx, s.rdb, unindexScript, redis.NewCmd, []string{s.userKey(user)}, args...).Err(); err != nil {
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
	// Remembered is true for a session Login started with Remember.
	Remembered bool `json:"remembered"`
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
			cmds[i] = p.HMGet(ctx, s.atRestKey(h), metaCreated, metaLastSeen, metaDevice, metaUser, metaRemember)
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
		if len(v) != 5 || v[0] == nil || v[3] != userID {
			if !s.inFlight(scores[i]) {
				gone = append(gone, indexMember(atRestNames[i]))
			}
			continue
		}
		var st state
		st.setMeta(metaCreated, str(v[0]))
		st.setMeta(metaLastSeen, str(v[1]))
		out = append(out, SessionInfo{
			Ref:        s.ref(atRestNames[i]),
			Created:    time.UnixMilli(st.created).UTC(),
			LastSeen:   time.UnixMilli(st.lastSeen()).UTC(),
			Device:     device.Name(str(v[2])),
			Remembered: str(v[4]) == "1",
			Current:    currentRef != "" && s.ref(atRestNames[i]) == currentRef,
		})
	}
	if len(gone) > 0 {
		s.unindex(ctx, userID, gone...)
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
	now := s.now()
	for _, abs := range [2]int64{s.absMS, s.rAbsMS} { // an entry's score does not say which it has
		if d := deadlineSeconds(now + abs); int64(score) > d-inFlightSeconds && int64(score) <= d {
			return true
		}
	}
	return false
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
	var atRestNames []string
	var scores []float64
	for _, z := range members.Val() {
		if m := str(z.Member); m != markMember {
			atRestNames, scores = append(atRestNames, memberAtRest(m)), append(scores, z.Score)
		}
	}
	return atRestNames, scores, nil
}

// RevokeSession ends the session of userID whose reference is ref (from
// UserSessions), so that its next request gets 401, and reports it as
// EventRevoked. It returns an error wrapping ErrUnknownSession when the
// user's index does not list that reference, and nil without an event when
// the listed session had already ended. On an error wrapping
// ErrStoreUnavailable the session is either ended or still listed: call it
// again.
func (s *Store) RevokeSession(ctx context.Context, userID, ref string) error {
	atRestNames, scores, err := s.indexed(ctx, userID)
	if err != nil {
		return err
	}
	for i, h := range atRestNames {
		if s.ref(h) == ref {
			_, err := s.endIndexed(ctx, userID, atRestNames[i:i+1], scores[i:i+1], "revoked")
			return err
		}
	}
	return ErrUnknownSession
}

// RevokeUser ends every session of userID ("log out everywhere", a
// password change, a disabled account) and returns how many live sessions
// it ended. It also refuses every Login of userID whose credentials were
// checked before this call (see CheckedAt), including logins in
// flight at this moment, for the next 5 minutes. It costs three round
// trips. When it returns nil, no session of userID authenticated before
// the call is left; on an error wrapping ErrStoreUnavailable the count is
// of the sessions it did end and the others are still listed: call it
// again. It sets no cookie: call Logout(c) after it for the caller's own.
func (s *Store) RevokeUser(ctx context.Context, userID string) (int, error) {
	return s.revoke(ctx, userID, "")
}

// RevokeOthers is RevokeUser for every session of userID except the one
// whose reference is keepRef, the caller's own (sessions.Default(c).ID()):
// "sign out other devices". Logins in flight are refused as by RevokeUser.
func (s *Store) RevokeOthers(ctx context.Context, userID, keepRef string) (int, error) {
	if keepRef == "" {
		return 0, fmt.Errorf("%w: RevokeOthers needs the reference of the session to keep", ErrConfig)
	}
	return s.revoke(ctx, userID, keepRef)
}

// markTTL is how long a revocation mark lasts, and so how long before its
// Login a credential check may have been made (see CheckedAt).
const markTTL = 5 * time.Minute

// revoke raises userID's revocation mark to now and reads the index in one
// script (revokeScript), then ends every listed session but keepRef's.
func (s *Store) revoke(ctx context.Context, userID, keepRef string) (int, error) {
	now := s.cfg.Now()
	res, err := runScript(ctx, s.rdb, revokeScript, redis.NewZSliceCmd, []string{s.userKey(userID)},
		now.Unix(), now.UnixMicro(), markTTL.Milliseconds()).Result()
	if err != nil {
		return 0, s.unavailable("revoking the user's sessions", err)
	}
	var atRestNames []string
	var scores []float64
	for _, z := range res {
		m := str(z.Member)
		if m == markMember || (keepRef != "" && s.ref(memberAtRest(m)) == keepRef) {
			continue
		}
		atRestNames, scores = append(atRestNames, memberAtRest(m)), append(scores, z.Score)
	}
	if len(atRestNames) == 0 {
		return 0, nil
	}
	return s.endIndexed(ctx, userID, atRestNames, scores, "revoked")
}

// endScript ends one session (KEYS[1]): it deletes its key and returns 1,
// or, when there was no session, leaves a tombstone there for ARGV[1] ms
// and returns 0. A session whose index entry was written but whose own write
// is still on its way (a Login on a Cluster, where the two go to different
// nodes in parallel) then finds the tombstone and is not created
// (createScript), so its entry can leave the index at once.
var endScript = newScript(`
if redis.call('HEXISTS', KEYS[1], '_t') == 1 then return 0 end
if redis.call('DEL', KEYS[1]) == 1 then return 1 end
redis.call('HSET', KEYS[1], '_t', '1')
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 0
`)

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
			s.emit(ctx, Event{Type: EventRevoked, UserID: userID, Session: s.ref(h), Reason: reason})
		}
	}
	return n, err
}
