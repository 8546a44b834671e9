package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/sessionshield/sessionshield/ginsession"
)

// devRedisAddr is where development looks for a Redis when REDIS_URL is
// not set (Config.devRedisAddr overrides it in tests).
const devRedisAddr = "localhost:6379"

// Open connects to Redis as cfg says and builds the application on it.
// With RedisURL set it builds the client of RedisMode (see
// applyClientDefaults for the options it sets where the URL does not), and
// the server must answer and be of the right kind: a Cluster node in
// standalone mode, or a server without cluster support in cluster mode, is
// refused with an error wrapping ErrConfig. In development standalone mode
// without RedisURL it uses localhost:6379 if that answers, and otherwise
// starts an in-process Redis (miniredis) and says so; production, cluster
// and sentinel mode never do. Unless Redis's maxmemory-policy is
// noeviction it warns in development and returns an error wrapping
// ErrConfig in production. Call Close when done.
func Open(ctx context.Context, cfg Config) (*App, error) {
	cfg = cfg.withDefaults()
	log := cfg.Logger
	var (
		rdb     redis.UniversalClient
		closers []func()
		inProc  bool
	)
	switch {
	case cfg.RedisURL != "":
		target, err := parseRedisTarget(cfg.RedisMode, cfg.RedisURL)
		if err != nil {
			return nil, err
		}
		if rdb, err = target.open(ctx); err != nil {
			return nil, err
		}
		log.Info("using Redis from REDIS_URL", "mode", cfg.RedisMode, "servers", target.where(), "tls", target.tls())
	default:
		if err := cfg.needsRedisURL(); err != nil {
			return nil, err
		}
		// One quick TCP dial first: nothing on localhost is the usual case
		// on a new machine, and a go-redis client would log its failure.
		why := "nothing answers on " + cfg.devRedisAddr
		if localRedis(ctx, cfg.devRedisAddr) {
			var err error
			rdb, err = defaultTarget(cfg.devRedisAddr).open(ctx)
			switch {
			case err == nil:
				log.Warn("REDIS_URL is not set: using the Redis on " + cfg.devRedisAddr)
			case errors.Is(err, ErrConfig):
				return nil, err
			default:
				// Something listens but does not answer PING: a Redis that
				// wants a password, or another server. Say which.
				why = "the server on " + cfg.devRedisAddr + " does not answer PING (" + err.Error() + "; set REDIS_URL to use it)"
			}
		}
		if rdb != nil {
			break
		}
		m := miniredis.NewMiniRedis()
		if err := m.Start(); err != nil {
			return nil, fmt.Errorf("starting the in-process Redis: %w", err)
		}
		m.ClockTTL(true) // expire keys with the wall clock, like a real server
		closers = append(closers, m.Close)
		rdb = defaultTarget(m.Addr()).newClient()
		inProc = true
		log.Warn("REDIS_URL is not set and "+why+
			": using an in-process Redis (miniredis); all users and sessions are lost when the program stops;"+
			" redis-cli can inspect it at the address given", "addr", m.Addr())
	}
	closers = append(closers, func() { _ = rdb.Close() })
	release := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	a, err := New(cfg, rdb)
	if err != nil {
		release()
		return nil, err
	}
	a.closers = append(closers, a.closers...) // run in reverse: the store stops before its client closes
	if !inProc {
		if err := checkEviction(ctx, a); err != nil {
			a.Close()
			return nil, err
		}
	}
	return a, nil
}

// evictionFix says how to make Redis keep every key under memory pressure.
const evictionFix = "run CONFIG SET maxmemory-policy noeviction and put maxmemory-policy noeviction in redis.conf"

// checkEviction checks Redis's maxmemory-policy. Any policy but noeviction
// lets Redis evict live sessions, the users' session indexes (then "log
// out everywhere" misses sessions) and the login throttle's counters (then
// a locked account is unlocked): in production that is an error wrapping
// ErrConfig, one line that says how to fix it, and so is a policy that
// cannot be read (the store's ACL must allow CONFIG GET); in development a
// warning.
func checkEviction(ctx context.Context, a *App) error {
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	err := a.store.CheckRedis(cctx)
	cancel()
	log := a.log
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ginsession.ErrEvictionPolicy) && a.cfg.Production():
		return fmt.Errorf("%w: Redis may evict sessions, session indexes and login-throttle counters under memory pressure (%v): %s", ErrConfig, err, evictionFix)
	case errors.Is(err, ginsession.ErrEvictionPolicy):
		log.Warn("Redis may evict live sessions, session indexes and login-throttle counters under memory pressure: "+evictionFix+" (production refuses to start)", "error", err.Error())
	case a.cfg.Production():
		return fmt.Errorf("%w: cannot read Redis's maxmemory-policy, which must be noeviction in production (allow CONFIG GET in the ACL: +config|get): %v", ErrConfig, err)
	default:
		log.Warn("could not check Redis's maxmemory-policy (CONFIG GET may be forbidden by its ACL)", "error", err.Error())
	}
	return nil
}

// localRedis reports whether something accepts TCP connections at addr
// within half a second.
func localRedis(ctx context.Context, addr string) bool {
	d := net.Dialer{Timeout: 500 * time.Millisecond}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}
