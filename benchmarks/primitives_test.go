package benchmarks

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// loadScriptCopy is ginsession's loadScript (store.go), copied so that its
// Redis-side cost can be compared with plain commands.
var loadScriptCopy = redis.NewScript(`
local v = redis.call('HGETALL', KEYS[1])
if #v == 0 then return 0 end
local c, a
for i = 1, #v, 2 do
  if v[i] == '_c' then c = tonumber(v[i+1]) elseif v[i] == '_a' then a = tonumber(v[i+1]) end
end
local now, idle, abs = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if c == nil or a == nil or now - a >= idle or now - c >= abs then
  redis.call('DEL', KEYS[1])
  table.insert(v, 1, 2)
  return v
end
local ttl = c + abs - now
if idle < ttl then ttl = idle end
redis.call('HSET', KEYS[1], '_a', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl)
table.insert(v, 1, 1)
return v
`)

// BenchmarkRedisPrimitive measures, with a bare go-redis client and no
// HTTP, what one session read costs in Redis with each way of doing it:
// the floor's GET, a bare HGETALL, sessionshield's load script, and the
// same three commands pipelined without Lua.
func BenchmarkRedisPrimitive(b *testing.B) {
	env := benchEnv(b)
	ctx := context.Background()
	prefix := env.Prefix("prim")
	b.Cleanup(func() { _ = env.Cleanup(ctx, prefix) })
	rdb := redis.NewClient(env.Admin.Options())
	b.Cleanup(func() { _ = rdb.Close() })
	str, hash := prefix+"str", prefix+"hash"
	now := time.Now().UnixMilli()
	nowS := strconv.FormatInt(now, 10)
	rdb.Set(ctx, str, "user-12345\n"+UserAgent, time.Hour)
	rdb.HSet(ctx, hash, "_c", nowS, "_a", nowS, "_u", "user-12345",
		"_f", string(make([]byte, 35)), "_d", "Chrome on Windows")
	rdb.Expire(ctx, hash, time.Hour)
	idle, abs := int64(30*60*1000), int64(24*3600*1000)
	cases := []struct {
		name string
		do   func() error
	}{
		{"GET", func() error { return rdb.Get(ctx, str).Err() }},
		{"HGETALL", func() error { return rdb.HGetAll(ctx, hash).Err() }},
		{"EVALSHA-loadScript", func() error {
			return loadScriptCopy.Run(ctx, rdb, []string{hash}, time.Now().UnixMilli(), idle, abs).Err()
		}},
		{"pipeline-HGETALL-HSET-PEXPIRE", func() error {
			_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				p.HGetAll(ctx, hash)
				p.HSet(ctx, hash, "_a", time.Now().UnixMilli())
				p.PExpire(ctx, hash, 30*time.Minute)
				return nil
			})
			return err
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			if err := c.do(); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.Run("serial", func(b *testing.B) {
				for b.Loop() {
					if err := c.do(); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("parallel", func(b *testing.B) {
				b.SetParallelism(Parallelism())
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := c.do(); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		})
	}
}
