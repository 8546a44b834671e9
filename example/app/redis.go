package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// The values of REDIS_MODE: which kind of go-redis client REDIS_URL is for.
const (
	// RedisStandalone is the default: one server, REDIS_URL parsed by
	// redis.ParseURL, a redis.NewClient.
	RedisStandalone = "standalone"
	// RedisCluster is a Redis Cluster: REDIS_URL names one or more seed
	// nodes (redis.ParseClusterURL, more seeds with ?addr=host:port), a
	// redis.NewClusterClient.
	RedisCluster = "cluster"
	// RedisSentinel is a master found through Redis Sentinel: REDIS_URL
	// names the Sentinels and the master (redis.ParseFailoverURL,
	// ?master_name=... required, more Sentinels with ?addr=host:port), a
	// redis.NewFailoverClient.
	RedisSentinel = "sentinel"
)

// clusterSlots is the number of hash slots of a Redis Cluster.
const clusterSlots = 16384

// redisTarget is REDIS_URL parsed as REDIS_MODE says: exactly one of
// single, cluster and failover is set, with the example's client defaults
// applied where the URL's query did not set an option.
type redisTarget struct {
	mode     string
	single   *redis.Options
	cluster  *redis.ClusterOptions
	failover *redis.FailoverOptions
}

// parseRedisTarget parses rawURL with go-redis's own parser for mode and
// applies the client defaults (see applyClientDefaults). Its errors wrap
// ErrConfig, fit on one line and never contain the URL, which may hold a
// password.
func parseRedisTarget(mode, rawURL string) (*redisTarget, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, urlError(mode, err)
	}
	query := u.Query()
	t := &redisTarget{mode: mode}
	switch mode {
	case RedisStandalone:
		if t.single, err = redis.ParseURL(rawURL); err != nil {
			return nil, urlError(mode, err)
		}
		o := t.single
		applyClientDefaults(query, clientOptions{&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout, &o.MaxRetries, nil, &o.DialerRetries, &o.ContextTimeoutEnabled})
	case RedisCluster:
		if t.cluster, err = redis.ParseClusterURL(rawURL); err != nil {
			return nil, urlError(mode, err)
		}
		o := t.cluster
		// No max_retries: a ClusterClient retries by itself (see applyClientDefaults).
		applyClientDefaults(query, clientOptions{&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout, nil, &o.MaxRedirects, &o.DialerRetries, &o.ContextTimeoutEnabled})
		// Not in the URL format, so always set: see clusterStateReloadInterval.
		o.ClusterStateReloadInterval = clusterStateReloadInterval
	case RedisSentinel:
		if t.failover, err = redis.ParseFailoverURL(rawURL); err != nil {
			return nil, urlError(mode, err)
		}
		o := t.failover
		if o.MasterName == "" {
			return nil, fmt.Errorf("%w: REDIS_URL needs ?master_name=<name> (the master's name in the Sentinels' configuration) when REDIS_MODE=sentinel", ErrConfig)
		}
		applyClientDefaults(query, clientOptions{&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout, &o.MaxRetries, nil, &o.DialerRetries, &o.ContextTimeoutEnabled})
	default:
		return nil, fmt.Errorf("%w: REDIS_MODE must be %q, %q or %q, got %q", ErrConfig, RedisStandalone, RedisCluster, RedisSentinel, mode)
	}
	return t, nil
}

// urlError turns a parse error of REDIS_URL into a one-line ErrConfig
// error without the URL: url.Error quotes the whole URL, password
// included, so only its cause is kept.
func urlError(mode string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	format := map[string]string{
		RedisStandalone: "redis://[user:password@]host:port/db or rediss://",
		RedisCluster:    "redis://[user:password@]host:port?addr=host2:port2 or rediss://",
		RedisSentinel:   "redis://[sentinel-user:sentinel-password@]host:port/db?master_name=name&addr=host2:port2 or rediss://",
	}[mode]
	return fmt.Errorf("%w: REDIS_URL is not a valid URL for REDIS_MODE=%s (%s): %v", ErrConfig, mode, format, err)
}

// clientOptions points at the fields that applyClientDefaults sets, which
// have the same names in redis.Options, redis.ClusterOptions and
// redis.FailoverOptions. maxRetries is nil for a Cluster and maxRedirects
// for the others.
type clientOptions struct {
	dialTimeout, readTimeout, writeTimeout, poolTimeout *time.Duration
	maxRetries, maxRedirects, dialerRetries             *int
	contextTimeoutEnabled                               *bool
}

// applyClientDefaults sets the example's client options, those that make a
// guarded request meet a hung Redis with a 503 within about a second, on
// every option that query (REDIS_URL's query) does not name: the URL's own
// options win, even a blank one (which asks for go-redis's default).
//
//	dial_timeout              500ms  a server that does not accept fails fast
//	read_timeout              400ms  a server that does not answer fails fast
//	write_timeout             400ms
//	pool_timeout              1s     waiting for a free connection
//	max_retries               1      one retry: two attempts of at most 400ms
//	max_redirects             2      Cluster: three attempts of at most 400ms
//	dialer_retries            1      one dial per attempt, not five 100ms apart
//	context_timeout_enabled   true   a request's deadline bounds its commands
//
// A ClusterClient retries a failed command itself, up to max_redirects
// times (go-redis's default: 3), the same node first and then again once
// it has marked it failing, and runs each attempt through a node client
// that would retry max_retries more times: so on a Cluster max_retries is
// left at go-redis's default (none), and a master that hangs costs three
// attempts, not the eight of max_retries 1 with the default max_redirects
// (2.27 s measured, against 1.28 s: TestFaultClusterFrozenMaster).
//
// go-redis v9.23's own defaults (5s dial, 5s read and write, 3 retries,
// five dials per connection, context deadlines ignored) keep a request
// waiting many seconds on a hung or unreachable server. ParseURL reads
// neither dialer_retries nor context_timeout_enabled from the query, and
// ParseClusterURL not context_timeout_enabled: there they are always the
// values above.
func applyClientDefaults(query url.Values, o clientOptions) {
	duration := func(name string, p *time.Duration, v time.Duration) {
		if !query.Has(name) {
			*p = v
		}
	}
	duration("dial_timeout", o.dialTimeout, 500*time.Millisecond)
	duration("read_timeout", o.readTimeout, 400*time.Millisecond)
	duration("write_timeout", o.writeTimeout, 400*time.Millisecond)
	duration("pool_timeout", o.poolTimeout, time.Second)
	if o.maxRetries != nil && !query.Has("max_retries") {
		*o.maxRetries = 1
	}
	if o.maxRedirects != nil && !query.Has("max_redirects") {
		*o.maxRedirects = 2
	}
	if !query.Has("dialer_retries") {
		*o.dialerRetries = 1
	}
	if !query.Has("context_timeout_enabled") {
		*o.contextTimeoutEnabled = true
	}
}

// clusterStateReloadInterval is how old a ClusterClient's slot map may get
// before a command makes it reload it in the background (one CLUSTER SLOTS).
// go-redis's default is 60 s, and it reloads sooner only on MOVED: after a
// master dies and its replica takes over, the client keeps dialling the
// dead master for up to a minute. The session store asks for a reload
// itself when one of its commands fails that way, and the client's one
// slot map then serves every command; but the example's own commands
// (users, login throttle) can fail while no session command does (failed
// logins and signups touch no session), and without this interval they
// would answer 503 for up to a minute (TestFaultTopologyClusterFailedLogins).
const clusterStateReloadInterval = 2 * time.Second

// defaultTarget is a standalone target at addr with the client defaults,
// for the development fallbacks that have no REDIS_URL.
func defaultTarget(addr string) *redisTarget {
	o := &redis.Options{Addr: addr}
	applyClientDefaults(nil, clientOptions{&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout, &o.MaxRetries, nil, &o.DialerRetries, &o.ContextTimeoutEnabled})
	return &redisTarget{mode: RedisStandalone, single: o}
}

// newClient builds the go-redis client of t.
func (t *redisTarget) newClient() redis.UniversalClient {
	switch {
	case t.cluster != nil:
		return redis.NewClusterClient(t.cluster)
	case t.failover != nil:
		return redis.NewFailoverClient(t.failover)
	default:
		return redis.NewClient(t.single)
	}
}

// where describes the servers of t for logs and errors: addresses and
// names only, never a user name or a password.
func (t *redisTarget) where() string {
	switch {
	case t.cluster != nil:
		return "the Redis Cluster with seed nodes " + strings.Join(t.cluster.Addrs, ", ")
	case t.failover != nil:
		return fmt.Sprintf("master %q through the Sentinels at %s", t.failover.MasterName, strings.Join(t.failover.SentinelAddrs, ", "))
	default:
		return "Redis at " + t.single.Addr
	}
}

// tls reports whether t connects with TLS (rediss://).
func (t *redisTarget) tls() bool {
	switch {
	case t.cluster != nil:
		return t.cluster.TLSConfig != nil
	case t.failover != nil:
		return t.failover.TLSConfig != nil
	default:
		return t.single.TLSConfig != nil
	}
}

// open builds the client of t and checks that its servers answer and are
// of the right kind (see checkTopology). A server of the wrong kind gives
// an error wrapping ErrConfig; one that does not answer, another error. On
// error the client is closed.
func (t *redisTarget) open(ctx context.Context) (redis.UniversalClient, error) {
	if t.cluster != nil {
		// A ClusterClient's first command fails on a server without
		// cluster support with a message that does not say what to do:
		// ask the seeds first.
		if err := t.checkTopology(ctx, nil); err != nil {
			return nil, err
		}
	}
	rdb := t.newClient()
	if err := ping(ctx, rdb); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("%s does not answer: %w", t.where(), err)
	}
	if t.single != nil {
		if err := t.checkTopology(ctx, rdb); err != nil {
			_ = rdb.Close()
			return nil, err
		}
	}
	return rdb, nil
}

// checkTopology refuses a server of the wrong kind for the mode: in
// standalone mode a Cluster node (which would answer MOVED to every other
// key), in cluster mode a server without cluster support. It asks INFO
// cluster of the standalone server through rdb (a server whose INFO fails,
// as it does for a user whose ACL does not allow it, is accepted), or
// CLUSTER SLOTS of the first cluster seed that answers, with the target's
// credentials and TLS (rdb is not used): the ClusterClient needs CLUSTER
// SLOTS anyway, so a user allowed to run the example can run the check.
// Sentinel mode is not checked: Sentinel does not manage Cluster nodes.
func (t *redisTarget) checkTopology(ctx context.Context, rdb redis.UniversalClient) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	switch {
	case t.single != nil:
		// A server that cannot say (INFO forbidden by an ACL, an
		// in-process Redis without the section) is taken at its word:
		// only a server that says it is a Cluster node is refused.
		if on, err := clusterEnabled(ctx, rdb); err == nil && on {
			return fmt.Errorf("%w: %s is a Redis Cluster node (cluster_enabled:1): set REDIS_MODE=cluster", ErrConfig, t.single.Addr)
		}
	case t.cluster != nil:
		var errs []error
		for _, addr := range t.cluster.Addrs {
			node := redis.NewClient(&redis.Options{
				Addr: addr, Username: t.cluster.Username, Password: t.cluster.Password, TLSConfig: t.cluster.TLSConfig,
				Protocol: t.cluster.Protocol, DialTimeout: t.cluster.DialTimeout, ReadTimeout: t.cluster.ReadTimeout,
				WriteTimeout: t.cluster.WriteTimeout, MaxRetries: -1, ContextTimeoutEnabled: true,
			})
			err := node.ClusterSlots(ctx).Err()
			_ = node.Close()
			switch {
			case clusterDisabled(err):
				return fmt.Errorf("%w: %s is not a Redis Cluster node (cluster support disabled): set REDIS_MODE=standalone, or point REDIS_URL at a Cluster node", ErrConfig, addr)
			case err != nil:
				errs = append(errs, fmt.Errorf("%s: %w", addr, err))
				continue
			}
			return nil
		}
		return fmt.Errorf("no cluster seed node answers CLUSTER SLOTS: %w", errors.Join(errs...))
	}
	return nil
}

// clusterEnabled reports whether the server of rdb says cluster_enabled:1
// in INFO cluster.
func clusterEnabled(ctx context.Context, rdb redis.UniversalClient) (bool, error) {
	info, err := rdb.Info(ctx, "cluster").Result()
	if err != nil {
		return false, err
	}
	return infoField(info, "cluster_enabled") == "1", nil
}

// clusterDisabled reports whether err is a server's answer that it has no
// cluster support ("ERR This instance has cluster support disabled").
func clusterDisabled(err error) bool {
	var reply redis.Error
	return errors.As(err, &reply) && strings.Contains(reply.Error(), "cluster support disabled")
}

// infoField returns the value of field in an INFO or CLUSTER INFO reply
// (lines "field:value"), or "" when it is missing.
func infoField(info, field string) string {
	for line := range strings.Lines(info) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && k == field {
			return v
		}
	}
	return ""
}

// RedisLogger adapts l for redis.SetLogger, so that go-redis's own messages
// (a connection pool that cannot dial, say) come out as Warn records of the
// application's logger instead of bare lines on stderr. main installs it;
// the setting is global to the process.
func RedisLogger(l *slog.Logger) interface {
	Printf(ctx context.Context, format string, v ...any)
} {
	return redisLogger{l}
}

// redisLogger is the logger RedisLogger returns.
type redisLogger struct{ l *slog.Logger }

// Printf logs one go-redis message at Warn, without its "redis: " prefix.
func (r redisLogger) Printf(ctx context.Context, format string, v ...any) {
	r.l.Log(ctx, slog.LevelWarn, "go-redis", "message", strings.TrimPrefix(fmt.Sprintf(format, v...), "redis: "))
}

// ping sends PING to rdb and waits at most 3 s for the answer.
func ping(ctx context.Context, rdb redis.UniversalClient) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	return rdb.Ping(ctx).Err()
}
