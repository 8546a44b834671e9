package benchmarks

import (
	"context"
	"flag"
	"net/http"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionshield/sessionshield/internal/redistest"
)

var lagTrials = flag.Int("lag.trials", 1000, "how many revocations TestRevocationLag times (LAG=1 only)")

// TestRevocationLag measures, with Config.LocalCache at 1 s, how long after
// RevokeUser returns on one instance (A) another instance (B) that had the
// session cached refuses it, over -lag.trials trials, and prints the p50,
// p99 and max. It asserts only that every trial ended within LocalCache.
// It runs only with LAG=1:
//
//	LAG=1 go test -run TestRevocationLag -v -lag.trials 1000
func TestRevocationLag(t *testing.T) {
	if os.Getenv("LAG") != "1" {
		t.Skip("set LAG=1 to measure the cross-instance revocation lag")
	}
	env, err := NewEnv(context.Background())
	if err != nil {
		t.Skip(err)
	}
	defer env.Close()
	const life = time.Second
	prefix := env.Prefix("lag")
	a, err := newSessionShieldWith(env, prefix, life)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := newSessionShieldWith(env, prefix, life)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	measureLag(t, a, b, life)
}

// TestRevocationLagCluster is TestRevocationLag on a three-master Redis
// Cluster started for it (redis-server on loopback ports), both Stores on
// one ClusterClient. It runs only with LAG=1.
func TestRevocationLagCluster(t *testing.T) {
	if os.Getenv("LAG") != "1" {
		t.Skip("set LAG=1 to measure the cross-instance revocation lag")
	}
	const life = time.Second
	cluster := redistest.StartCluster(t)
	a, err := newSessionShieldOn(cluster, new(Counter), "lag:", life)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := newSessionShieldOn(cluster, new(Counter), "lag:", life)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	measureLag(t, a, b, life)
}

// TestRevocationLagSentinel is TestRevocationLag through Redis Sentinel: a
// master, its replica and three Sentinels started for it (loopback ports),
// both Stores on one failover client (redis.NewFailoverClient). It runs
// only with LAG=1.
func TestRevocationLagSentinel(t *testing.T) {
	if os.Getenv("LAG") != "1" {
		t.Skip("set LAG=1 to measure the cross-instance revocation lag")
	}
	const life = time.Second
	rdb := redistest.StartSentinels(t, 5*time.Second).Client(t, &redis.FailoverOptions{})
	a, err := newSessionShieldOn(rdb, new(Counter), "lag:", life)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := newSessionShieldOn(rdb, new(Counter), "lag:", life)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	measureLag(t, a, b, life)
}

// measureLag times -lag.trials revocations on a of a session b has cached.
func measureLag(t *testing.T, a, b *Target, life time.Duration) {
	t.Helper()
	for a.Store.CacheStats().ProvenLag < 0 || b.Store.CacheStats().ProvenLag < 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(2 * time.Millisecond)

	ctx := context.Background()
	var lags, fromStart []time.Duration
	cached := 0
	for range *lagTrials {
		user := NextUser("lag")
		cookie, err := a.Login(user, UserAgent)
		if err != nil {
			t.Fatal(err)
		}
		req := ReadRequest(cookie, UserAgent)
		hits := b.Store.CacheStats().Hits
		for range 2 {
			if rec := serve(b.Handler, req); rec.Code != http.StatusOK {
				t.Fatalf("B before the revocation: %d", rec.Code)
			}
		}
		if b.Store.CacheStats().Hits > hits {
			cached++
		}
		start := time.Now()
		if _, err := a.Store.RevokeUser(ctx, user); err != nil {
			t.Fatal(err)
		}
		done := time.Now()
		for serve(b.Handler, req).Code == http.StatusOK {
			if time.Since(done) > 2*life {
				t.Fatalf("B still serves the session %v after the revocation", time.Since(done))
			}
		}
		end := time.Now()
		lags, fromStart = append(lags, end.Sub(done)), append(fromStart, end.Sub(start))
	}
	slices.Sort(lags)
	slices.Sort(fromStart)
	q := func(d []time.Duration, p float64) time.Duration { return d[int(p*float64(len(d)-1))] }
	t.Logf("%d trials, %d with B's entry cached (a hit) just before the revocation", len(lags), cached)
	t.Logf("after RevokeUser returned: p50 %v, p99 %v, max %v", q(lags, .5), q(lags, .99), lags[len(lags)-1])
	t.Logf("after RevokeUser was called: p50 %v, p99 %v, max %v", q(fromStart, .5), q(fromStart, .99), fromStart[len(fromStart)-1])
	if lags[len(lags)-1] > life {
		t.Errorf("max lag %v is over LocalCache %v", lags[len(lags)-1], life)
	}
}
