package ginsession

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// RevokeSession ends the session of userID whose ref is ref and reports it as
// EventRevoked. It returns an error wrapping ErrUnknownSession when the
// user's index does not list ref, and nil when that session had already
// ended. On an error wrapping ErrStoreUnavailable, call it again.
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

// RevokeUser ends every session of userID and returns how many live sessions
// it ended; it also refuses every Login whose credentials
// were checked before it (see CheckedAt). It costs three round trips and sets
// no cookie. On an error wrapping ErrStoreUnavailable the sessions it did not
// end are still listed: call it again.
func (s *Store) RevokeUser(ctx context.Context, userID string) (int, error) {
	return s.revoke(ctx, userID, "")
}

// RevokeOthers is RevokeUser for every session of userID except the one
// whose ref is ref, the caller's own (sessions.Default(c).ID()):
// "sign out other devices". Logins in flight are refused as by RevokeUser.
func (s *Store) RevokeOthers(ctx context.Context, userID, ref string) (int, error) {
	if ref == "" {
		return 0, fmt.Errorf("%w: RevokeOthers needs the ref of the session to keep", ErrConfig)
	}
	return s.revoke(ctx, userID, ref)
}

// markTTL is how long before its Login a credential check may have been
// made (see CheckedAt); a revocation mark lasts markLife, a minute more,
// so that it outlives every Login it must refuse, round trip included.
const (
	markTTL  = 5 * time.Minute
	markLife = markTTL + time.Minute
)

// revoke raises userID's revocation mark to now and reads the index in one
// script (revokeScript), then ends every listed session but ref's.
func (s *Store) revoke(ctx context.Context, userID, ref string) (int, error) {
	now := s.cfg.Now()
	res, err := runScript(ctx, s.rdb, revokeScript, redis.NewZSliceCmd, []string{s.userKey(userID)},
		now.Unix(), now.UnixMicro(), markLife.Milliseconds()).Result()
	if err != nil {
		return 0, s.unavailable("revoking the user's sessions", err)
	}
	var atRestNames []string
	var scores []float64
	for _, z := range res {
		m := str(z.Member)
		if m == markMember || (ref != "" && s.ref(memberAtRest(m)) == ref) {
			continue
		}
		atRestNames, scores = append(atRestNames, memberAtRest(m)), append(scores, z.Score)
	}
	if len(atRestNames) == 0 {
		return 0, nil
	}
	return s.endIndexed(ctx, userID, atRestNames, scores, "revoked")
}
