package ginsession

import (
	"context"
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

// enforceLimit keeps userID within Config.MaxSessionsPerUser after a Login
// whose index script returned others (the user's other entries, oldest
// first): it checks which sessions still exist, prunes the entries of those
// that ended (but in-flight ones), and ends the oldest live ones beyond the
// cap. It costs one to three round trips (see docs/design.md).
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
	args = append(args, markLife.Milliseconds())
	args = append(args, members...)
	if err := runScript(ctx, s.rdb, unindexScript, redis.NewCmd, []string{s.userKey(user)}, args...).Err(); err != nil {
		s.reloadAfter(err)
	}
}

// SessionInfo describes one live session of a user, for a "your sessions"
// page. It holds nothing secret.
type SessionInfo struct {
	// Ref is the session's ref: the opaque, non-secret name our API gives
	// a session (never its ID), which sessions.Session.ID() returns too.
	Ref string `json:"ref"`
	// Created is when the session was created (the login).
	Created time.Time `json:"created"`
	// LastSeen is the session's last activity.
	LastSeen time.Time `json:"lastSeen"`
	// Device is a short description of the browser, such as "Firefox on Linux".
	Device string `json:"device"`
	// Remembered is true for a session Login started with Remember.
	Remembered bool `json:"remembered"`
	// Current is true for the session whose ref UserSessions was given.
	Current bool `json:"current"`
}

// UserSessions lists the live sessions of userID, most recently active
// first, and marks Current the one whose ref is ref (the caller's,
// sessions.Default(c).ID(), or "" for none). It costs two round trips,
// three when it prunes the index entries of ended sessions; an error wraps
// ErrStoreUnavailable.
func (s *Store) UserSessions(ctx context.Context, userID, ref string) ([]SessionInfo, error) {
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
			Current:    ref != "" && s.ref(atRestNames[i]) == ref,
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

// inFlight reports whether an index entry's score is that of a login of the
// last inFlightSeconds, whose session write may still be on its way on a
// Cluster: such an entry is kept when its session is not found (see
// docs/design.md). The login's instance may have a clock ahead of this one
// (by the margin loginGiveUp leaves), so a deadline up to that much later
// than this instance's counts too: its login is not in the future, only
// its clock. Scores are rounded up to the second, so one more second counts
// on the old side: every login of the last inFlightSeconds does.
func (s *Store) inFlight(score float64) bool {
	now := s.now()
	for _, abs := range [2]int64{s.absMS, s.rAbsMS} { // an entry's score does not say which it has
		if d := deadlineSeconds(now + abs); int64(score) >= d-inFlightSeconds && int64(score) <= d+clockMarginSeconds {
			return true
		}
	}
	return false
}

// clockMarginSeconds is how far, in seconds, the instances' clocks may
// differ for inFlight: what loginGiveUp leaves of inFlightSeconds.
const clockMarginSeconds = inFlightSeconds - int64(loginGiveUp/time.Second)

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
