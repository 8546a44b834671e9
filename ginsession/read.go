package ginsession

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"

	gsessions "github.com/gorilla/sessions"
	"github.com/redis/go-redis/v9"
)

func (s *Store) load(ctx context.Context, sess *gsessions.Session, st *state, id string) error {
	key := s.sessionKey(id)
	atRest := key[len(s.cfg.KeyPrefix):]
	now := s.now()
	st.readAt = now
	if s.cache != nil {
		st.readSeq = s.cache.seq.Load()
	}
	res, status, err := s.read(ctx, key, atRest, now)
	if err != nil {
		st.loadErr = s.unavailable("loading session", err)
		return st.loadErr
	}
	if status == 0 {
		return nil // no live record: strict mode, a write gets a new ID
	}
	var decodeErr error
	for i := 0; i+1 < len(res); i += 2 {
		f, v := res[i], res[i+1]
		if isMeta(f) {
			st.setMeta(f, v)
			continue
		}
		if status != '1' {
			continue
		}
		k, err := decodeKey(f)
		if err == nil {
			var val any
			if val, err = decodeValue(v); err == nil {
				sess.Values[k] = val
				if st.fields == nil {
					st.fields = make(map[string]string)
				}
				st.fields[f] = v
				continue
			}
		}
		st.opaque++
		if decodeErr == nil {
			decodeErr = fmt.Errorf("ginsession: field %q: %w", f, err)
		}
	}
	st.atRest = atRest
	if status != '1' {
		st.expired = true
		s.emit(ctx, Event{Type: EventExpired, UserID: st.user, Ref: s.ref(atRest), Reason: cmp.Or(s.expiredBy(st.remember, st.created, st.seenAfter, now), "idle")})
		st.user, st.fields = "", nil
		return nil
	}
	st.id, st.key, st.exists = id, key, true
	sess.ID = s.ref(atRest)
	sess.IsNew = false
	st.decodeErr = decodeErr
	return decodeErr
}

// runLoad runs loadScript on key and returns its reply (see loadScript).
func (s *Store) runLoad(ctx context.Context, key string, now int64) ([]string, error) {
	res, err := runScript(ctx, s.rdb, loadScript, redis.NewStringSliceCmd, []string{key}, now, s.idleArg, s.absArg, s.everyArg, s.rIdleArg, s.rAbsArg).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	return res, nil
}

// read returns a session's fields and values, as they are in Redis after
// the read (its last activity included), and its status: '1' live, '2'
// expired (now deleted), 0 no record. It is a plain HGETALL when the memo
// says no refresh is due and loadScript otherwise: one round trip, two when
// the HGETALL finds something the script must do (see docs/design.md).
func (s *Store) read(ctx context.Context, key, atRest string, now int64) ([]string, byte, error) {
	if !s.memoOff && s.memo.fresh(atRest, now, s.everyMS) {
		// HGetAll's map, not a []string: over RESP3 the reply is a map.
		m, err := s.rdb.HGetAll(ctx, key).Result()
		if err != nil {
			return nil, 0, err
		}
		if _, tomb := m[metaTombstone]; len(m) == 0 || tomb {
			return nil, 0, nil
		}
		res := make([]string, 0, 2*len(m)) // one allocation, so load reads both paths alike
		for f, v := range m {
			res = append(res, f, v)
		}
		if c, a, r, ok := metaTimes(res); ok && now-(c+a) < s.everyMS && s.expiredBy(r, c, a, now) == "" {
			return res, '1', nil
		}
	}
	res, err := s.runLoad(ctx, key, now)
	if err != nil {
		return nil, 0, err
	}
	if len(res)%2 != 1 || len(res[len(res)-1]) != 1 {
		return nil, 0, nil
	}
	status := res[len(res)-1][0]
	res = res[:len(res)-1]
	switch c, a, _, ok := metaTimes(res); {
	case status == '3': // live, its refresh refused: nothing to remember
		status = '1'
	case ok && status == '1':
		if now-(c+a) >= s.everyMS { // loadScript refreshed it
			setField(res, metaLastSeen, strconv.FormatInt(now-c, 10))
			a = now - c
		}
		s.memo.record(atRest, c+a)
	}
	return res, status, nil
}

// setField sets the value of field f in res, a hash's fields and values.
func setField(res []string, f, v string) {
	for i := 0; i+1 < len(res); i += 2 {
		if res[i] == f {
			res[i+1] = v
			return
		}
	}
}

// metaTimes returns the creation time, the last activity (ms after it)
// and whether the session is remembered from a session's fields and
// values, parsed by setMeta, and whether both times were there and well
// formed.
func metaTimes(res []string) (created, seenAfter int64, remember, ok bool) {
	var st state
	var hasC, hasA bool
	for i := 0; i+1 < len(res); i += 2 {
		switch res[i] {
		case metaCreated:
			hasC = st.setMeta(res[i], res[i+1])
		case metaLastSeen:
			hasA = st.setMeta(res[i], res[i+1])
		case metaRemember:
			st.setMeta(res[i], res[i+1])
		}
	}
	return st.created, st.seenAfter, st.remember, hasC && hasA
}
