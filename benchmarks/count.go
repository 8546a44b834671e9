package benchmarks

import (
	"context"
	"net"
	"sync/atomic"

	redigo "github.com/gomodule/redigo/redis"
	"github.com/redis/go-redis/v9"
)

// Counter counts the Redis commands a client sends and the round trips it
// makes. A pipeline is one round trip carrying several commands; a Lua
// script (EVAL, EVALSHA) is one command, whatever it runs inside Redis.
type Counter struct {
	cmds atomic.Int64
	rts  atomic.Int64
}

// Counts is a snapshot of a Counter.
type Counts struct {
	Cmds, RoundTrips int64
}

// Snapshot returns the counts so far.
func (c *Counter) Snapshot() Counts {
	if c == nil {
		return Counts{}
	}
	return Counts{Cmds: c.cmds.Load(), RoundTrips: c.rts.Load()}
}

// Sub returns the counts between an earlier snapshot and this one.
func (c Counts) Sub(earlier Counts) Counts {
	return Counts{Cmds: c.Cmds - earlier.Cmds, RoundTrips: c.RoundTrips - earlier.RoundTrips}
}

// Hook returns a go-redis hook that counts into c: one round trip per
// command or pipeline, one command per command in it.
func (c *Counter) Hook() redis.Hook { return goRedisHook{c} }

type goRedisHook struct{ c *Counter }

var _ redis.Hook = goRedisHook{}

// DialHook implements redis.Hook; dials are not counted.
func (h goRedisHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		return next(ctx, network, addr)
	}
}

// ProcessHook counts one command and one round trip.
func (h goRedisHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.c.cmds.Add(1)
		h.c.rts.Add(1)
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook counts every command of a pipeline and one round trip.
func (h goRedisHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.c.cmds.Add(int64(len(cmds)))
		h.c.rts.Add(1)
		return next(ctx, cmds)
	}
}

// CountingDial wraps a redigo dial function so that every connection it
// returns counts into c. Use it as a redigo Pool's Dial.
func (c *Counter) CountingDial(dial func() (redigo.Conn, error)) func() (redigo.Conn, error) {
	return func() (redigo.Conn, error) {
		conn, err := dial()
		if err != nil {
			return nil, err
		}
		return &countingConn{Conn: conn, c: c}, nil
	}
}

// countingConn is a redigo Conn that counts commands and round trips. Do
// with a command is one command and one round trip; Send queues a command
// and the Flush (or Do("")) that sends the queue is one round trip. A
// redigo Conn is used by one goroutine at a time, so unflushed needs no lock.
type countingConn struct {
	redigo.Conn
	c         *Counter
	unflushed int
}

// Do counts one command and one round trip.
func (cc *countingConn) Do(cmd string, args ...any) (any, error) {
	switch {
	case cmd != "":
		cc.c.cmds.Add(1)
		cc.c.rts.Add(1)
	case cc.unflushed > 0:
		cc.c.rts.Add(1)
	}
	cc.unflushed = 0
	return cc.Conn.Do(cmd, args...)
}

// Send counts one command; its round trip is counted by Flush.
func (cc *countingConn) Send(cmd string, args ...any) error {
	cc.c.cmds.Add(1)
	cc.unflushed++
	return cc.Conn.Send(cmd, args...)
}

// Flush counts one round trip when commands were sent.
func (cc *countingConn) Flush() error {
	if cc.unflushed > 0 {
		cc.c.rts.Add(1)
		cc.unflushed = 0
	}
	return cc.Conn.Flush()
}
