package ginsession

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"

	"github.com/redis/go-redis/v9"
)

// loadScript reads a session and, if it is live, refreshes its last-seen
// time (_a, in ms after the creation time _c) and its TTL in the same round
// trip. The timeouts (ARGV[2] and [3], or [5] and [6] for a remembered
// session, whose _r is "1") are checked here too, with the application's clock, so
// a stale TTL never keeps a session alive: an expired session is deleted.
// The refresh is written at most once per refreshEvery: a busy session does
// not write on every read, and may end up to that much before its idle
// timeout, never after.
//
// The reply is the hash's fields and values followed by a status: "1" live,
// "2" expired and deleted. A missing session replies an empty array.
var loadScript = newScript(`
local v = redis.call('HGETALL', KEYS[1])
if #v == 0 then return v end
local c, a, r
for i = 1, #v, 2 do
  if v[i] == '_c' then c = tonumber(v[i+1]) elseif v[i] == '_a' then a = tonumber(v[i+1]) elseif v[i] == '_r' then r = v[i+1] end
end
local now, idle, abs, every = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if r == '1' then idle, abs = tonumber(ARGV[5]), tonumber(ARGV[6]) end
local status = '1'
if c == nil or a == nil or now - (c + a) >= idle or now - c >= abs then
  redis.call('DEL', KEYS[1])
  status = '2'
elseif now - (c + a) >= every then
  local ttl = c + abs - now
  if idle < ttl then ttl = idle end
  redis.pcall('HSET', KEYS[1], '_a', string.format('%d', now - c)) -- refused when Redis is out of memory: the read still succeeds
  redis.call('PEXPIRE', KEYS[1], ttl)
end
v[#v + 1] = status
return v
`)

// createScript writes a new session and its TTL atomically, and returns 1,
// unless its key holds a tombstone of endScript: then it writes nothing
// and returns 0 (it may run twice, when a pipeline is sent again after
// NOSCRIPT, so its own first write does not count). Fields go to HSET 500 pairs at a time: Lua's unpack cannot
// spread more than a few thousand values.
var createScript = newScript(`
if redis.call('HEXISTS', KEYS[1], '_t') == 1 then return 0 end
for i = 2, #ARGV, 1000 do
  redis.call('HSET', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`)

// updateScript writes the fields of a session that changed, deletes the ones
// that were removed and sets the TTL, atomically, and only if the session
// still exists: a save that races a logout never recreates the session.
var updateScript = newScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local n = tonumber(ARGV[2])
for i = 3, 2 + n, 1000 do
  redis.call('HDEL', KEYS[1], unpack(ARGV, i, math.min(i + 999, 2 + n)))
end
for i = 3 + n, #ARGV, 1000 do
  redis.call('HSET', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`)

// refreshEvery returns how often, in ms, reads of a session write its last
// activity and TTL: 1/60 of the idle timeout, at most one second.
func refreshEvery(idleMS int64) int64 { return min(idleMS/60, 1000) }

// luaScript is a Lua script the store runs. runScript and
// pipelineScripts are the one way to run one: by its SHA1 (EVALSHA), and
// again with its source (EVAL, which caches it) when Redis answers
// NOSCRIPT because its script cache was emptied (a restart, SCRIPT FLUSH,
// a failover to a replica that never ran it).
type luaScript struct {
	src   string
	sha   string
	bySHA [2]any // "evalsha" and the SHA1, boxed once
	bySrc [2]any // "eval" and the source, boxed once
}

func newScript(src string) *luaScript {
	sum := sha1.Sum([]byte(src))
	sc := &luaScript{src: src, sha: hex.EncodeToString(sum[:])}
	sc.bySHA = [2]any{"evalsha", sc.sha}
	sc.bySrc = [2]any{"eval", sc.src}
	return sc
}

// args returns the arguments of the command that runs sc on keys with
// args, by SHA1 when sha is set and by source otherwise, in one
// allocation.
func (sc *luaScript) args(sha bool, keys []string, args []any) []any {
	all := make([]any, 0, 3+len(keys)+len(args))
	if sha {
		all = append(all, sc.bySHA[:]...)
	} else {
		all = append(all, sc.bySrc[:]...)
	}
	all = append(all, len(keys))
	for _, k := range keys {
		all = append(all, k)
	}
	return append(all, args...)
}

// noScript reports whether err is Redis's NOSCRIPT: the script is not in
// its cache.
func noScript(err error) bool { return err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") }

// runScript runs sc on keys with args, outside a pipeline, and returns the
// reply as newCmd types it: redis.NewStringSliceCmd reads loadScript's
// reply as a plain []string, where go-redis's Script.Run would box every
// element in an interface. It sends sc by SHA1 and, on NOSCRIPT, once more
// with its source.
func runScript[C redis.Cmder](ctx context.Context, rdb redis.UniversalClient, sc *luaScript,
	newCmd func(context.Context, ...any) C, keys []string, args ...any) C {
	cmd := newCmd(ctx, sc.args(true, keys, args)...)
	_ = rdb.Process(ctx, cmd)
	if noScript(cmd.Err()) {
		cmd = newCmd(ctx, sc.args(false, keys, args)...)
		_ = rdb.Process(ctx, cmd)
	}
	return cmd
}

// evalFunc queues a Lua script in a pipeline, as pipelineScripts decides:
// by its SHA1 or with its source.
type evalFunc func(sc *luaScript, keys []string, args ...any) *redis.Cmd

// pipelineScripts runs the commands queue queues in one pipeline, one
// round trip; queue queues scripts with eval, which sends them by SHA1.
// When Redis answers NOSCRIPT the whole pipeline runs again with the
// scripts' sources, so everything queue queues must be idempotent.
func (s *Store) pipelineScripts(ctx context.Context, queue func(p redis.Pipeliner, eval evalFunc)) error {
	run := func(sha bool) error {
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			queue(p, func(sc *luaScript, keys []string, args ...any) *redis.Cmd {
				cmd := redis.NewCmd(ctx, sc.args(sha, keys, args)...)
				_ = p.Process(ctx, cmd)
				return cmd
			})
			return nil
		})
		return err
	}
	err := run(true)
	if noScript(err) {
		err = run(false)
	}
	return err
}

// runLoad runs loadScript on key and returns its reply (see loadScript).
func (s *Store) runLoad(ctx context.Context, key string, now int64) ([]string, error) {
	res, err := runScript(ctx, s.rdb, loadScript, redis.NewStringSliceCmd, []string{key}, now, s.idleArg, s.absArg, s.everyArg, s.rIdleArg, s.rAbsArg).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	return res, nil
}

// read returns a session's fields and values, and its status: '1' live,
// '2' expired (and now deleted), 0 no record. It usually costs one round
// trip: a plain HGETALL when the memo says the session's activity was written less
// than refreshEvery ago, so there is probably nothing to refresh;
// loadScript otherwise. The HGETALL's answer stands only if the session's
// own times say what loadScript would: live, and last active less than
// refreshEvery ago (no slide due). Anything else (expired, a slide due,
// missing or malformed times) goes through loadScript, which deletes an
// expired session: a second round trip. It is rare: for a live session it
// takes a memo that was wrong (a tag collision, one in 2^40, or an activity
// write that Redis refused when out of memory).
func (s *Store) read(ctx context.Context, key, atRest string, now int64) ([]string, byte, error) {
	if !s.memoOff && s.memo.fresh(atRest, now, s.everyMS) {
		// HGetAll's map, not a []string: over RESP3 the reply is a map.
		m, err := s.rdb.HGetAll(ctx, key).Result()
		if err != nil {
			return nil, 0, err
		}
		if len(m) == 0 {
			return nil, 0, nil
		}
		res := make([]string, 0, 2*len(m)) // one allocation, so load reads both paths alike
		for f, v := range m {
			res = append(res, f, v)
		}
		if c, a, r, ok := metaTimes(res); ok && now-(c+a) < s.everyMS && now-c < s.absOf(r) { // everyMS <= idleMS: not idle either
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
	if c, a, _, ok := metaTimes(res); ok && status == '1' {
		last := c + a // what loadScript did: refreshed now, or left as is
		if now-last >= s.everyMS {
			last = now
		}
		s.memo.record(atRest, last)
	}
	return res, status, nil
}

// readsFromReplicas reports whether rdb may send read-only commands such as
// HGETALL to replicas (a ClusterClient with ReadOnly, RouteByLatency or
// RouteRandomly, which is also what NewFailoverClusterClient returns). A
// replica can lag behind a logout on the primary, so such a Store never
// takes the plain-read path: loadScript always runs on the primary.
func readsFromReplicas(rdb redis.UniversalClient) bool {
	cc, ok := rdb.(*redis.ClusterClient)
	if !ok {
		return false
	}
	o := cc.Options()
	return o.ReadOnly || o.RouteByLatency || o.RouteRandomly
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

// absOf returns the absolute timeout, in ms, of a session that is
// remembered or not.
func (s *Store) absOf(remember bool) int64 {
	_, abs := s.timeouts(remember)
	return abs
}
