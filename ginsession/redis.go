package ginsession

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// CheckRedis checks the Redis settings the store depends on. It returns an
// error wrapping ErrEvictionPolicy unless maxmemory-policy is noeviction:
// every session key has a TTL, so the volatile-* policies evict live
// sessions under memory pressure and log users out at random.
// Call it at startup and warn or refuse to start.
func (s *Store) CheckRedis(ctx context.Context) error {
	res, err := s.rdb.ConfigGet(ctx, "maxmemory-policy").Result()
	if err != nil {
		return s.unavailable("reading maxmemory-policy", err)
	}
	if p := res["maxmemory-policy"]; p != "noeviction" {
		return fmt.Errorf("%w (it is %q)", ErrEvictionPolicy, p)
	}
	return nil
}

// reloadEvery is the shortest time between two slot-map reloads the store
// asks of a ClusterClient.
const reloadEvery = 500 * time.Millisecond

// unavailable wraps a Redis failure in ErrStoreUnavailable, saying what was
// being done, after giving reloadAfter a look at it.
func (s *Store) unavailable(doing string, err error) error {
	s.reloadAfter(err)
	return fmt.Errorf("%w: %s: %w", ErrStoreUnavailable, doing, err)
}

// reloadAfter asks a ClusterClient to reload its slot map when err came
// without a reply from Redis (a dead master's replica may have taken its
// slots), at most once per reloadEvery, without a lock. docs/design.md says
// why.
func (s *Store) reloadAfter(err error) {
	if s.cluster == nil || err == nil || errors.Is(err, context.Canceled) {
		return
	}
	var reply redis.Error
	if errors.As(err, &reply) {
		return
	}
	now := time.Now().UnixNano()
	next := s.nextReload.Load()
	if now < next || !s.nextReload.CompareAndSwap(next, now+int64(reloadEvery)) {
		return // another request asked moments ago
	}
	s.cluster.ReloadState(context.Background())
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
