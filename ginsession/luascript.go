package ginsession

import (
	"context"
	"crypto/sha1"
	"encoding/hex"

	"github.com/redis/go-redis/v9"
)

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
