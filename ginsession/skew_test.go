package ginsession

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInFlightLoginFromAFasterClock checks that a login counts as in flight
// (see inFlight) for an instance whose clock is behind the login's, within
// the clock difference the design allows (the 5 s of loginGiveUp): its
// session write may still be on its way on a Cluster, and ending or pruning
// its entry without a tombstone would let that write land as a live session
// that no index lists, which no later RevokeUser finds. The login runs on
// the harness's Store; the other instance's clock is behind it, 1.5 s, or
// 1 ms across a second's boundary (a login's deadline, rounded up to the
// second, is then later than that instance's now+AbsoluteTimeout, rounded
// the same way). The write on its way is simulated as in
// TestRevokeSessionOfAnEndedSession: the key is deleted, then written again
// with createScript after the other instance acted.
func TestInFlightLoginFromAFasterClock(t *testing.T) {
	for _, tc := range []struct {
		name string
		act  func(t *testing.T, behind *Store, user string)
	}{
		{"RevokeUser", func(t *testing.T, behind *Store, user string) {
			n, err := behind.RevokeUser(context.Background(), user)
			require.NoError(t, err)
			assert.Zero(t, n, "the session was not written yet")
		}},
		{"RevokeSession", func(t *testing.T, behind *Store, user string) {
			list, err := behind.indexedRefs(user)
			require.NoError(t, err)
			require.Len(t, list, 1)
			require.NoError(t, behind.RevokeSession(context.Background(), user, list[0]))
		}},
		{"UserSessions", func(t *testing.T, behind *Store, user string) {
			list, err := behind.UserSessions(context.Background(), user, "")
			require.NoError(t, err)
			assert.Empty(t, list, "not written yet: not listed")
		}},
	} {
		for _, skew := range []time.Duration{1500 * time.Millisecond, time.Millisecond} {
			t.Run(tc.name+"/"+skew.String(), func(t *testing.T) {
				h := newHarness(t, nil)
				ctx := context.Background()
				// The login at a millisecond past a second.
				h.clock.ns.Store(time.Now().Truncate(time.Second).Add(time.Second + time.Millisecond).UnixNano())
				cfg := h.store.cfg
				cfg.Now = func() time.Time { return h.clock.Now().Add(-skew) }
				behind, err := NewStore(h.rdb, cfg)
				require.NoError(t, err)

				c := h.login(chromeWin, "sky")
				key := h.keyOf(c.cookie)
				fields, err := h.raw.HGetAll(ctx, key).Result()
				require.NoError(t, err)
				require.NoError(t, h.raw.Del(ctx, key).Err()) // the session write is still on its way

				tc.act(t, behind, "sky")

				args := []any{time.Hour.Milliseconds()}
				for f, v := range fields {
					args = append(args, f, v)
				}
				late, err := runScript(ctx, h.rdb, createScript, redis.NewIntCmd, []string{key}, args...).Result()
				require.NoError(t, err)
				if tc.name == "UserSessions" {
					// Listing prunes nothing in flight: the write may land, and
					// is then listed, so RevokeUser ends it.
					assert.Equal(t, []string{key[len(h.prefix):]}, h.indexMembers("sky"), "an entry in flight stays listed")
					_, err := h.store.RevokeUser(ctx, "sky")
					require.NoError(t, err)
				} else {
					assert.Zero(t, late, "the late write meets a tombstone")
				}
				assert.Equal(t, http.StatusUnauthorized, h.status(c), "the session does not survive")
				assert.Empty(t, h.sessionKeys())
			})
		}
	}
}

// indexedRefs returns the refs of user's indexed sessions.
func (s *Store) indexedRefs(user string) ([]string, error) {
	names, _, err := s.indexed(context.Background(), user)
	refs := make([]string, len(names))
	for i, n := range names {
		refs[i] = s.ref(n)
	}
	return refs, err
}

// TestInFlightCoversAWholeWindow: a login that began just under
// inFlightSeconds ago counts as in flight whatever the fraction of a second
// its deadline was rounded up from, and one that began inFlightSeconds + 1
// ago does not.
func TestInFlightCoversAWholeWindow(t *testing.T) {
	h := newHarness(t, nil)
	for _, frac := range []int64{1, 50, 500, 999, 1000} {
		now := h.clock.Now().UnixMilli()
		h.clock.Advance(time.Duration((frac-(now+h.store.absMS)%1000+1000)%1000) * time.Millisecond)
		now = h.clock.Now().UnixMilli()
		require.Equal(t, frac%1000, (now+h.store.absMS)%1000)
		recent := float64(deadlineSeconds(now - inFlightSeconds*1000 + 100 + h.store.absMS))
		assert.True(t, h.store.inFlight(recent), "a login just under %d s ago, deadline fraction %d ms", inFlightSeconds, frac)
		old := float64(deadlineSeconds(now - (inFlightSeconds+1)*1000 - 1 + h.store.absMS))
		assert.False(t, h.store.inFlight(old), "a login %d s ago, deadline fraction %d ms", inFlightSeconds+1, frac)
	}
}
