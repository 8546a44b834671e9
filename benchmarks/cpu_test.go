package benchmarks

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionshield/sessionshield/internal/redistest"
)

var cpuReads = flag.Int("cpu.reads", 40000, "how many guarded reads TestRedisCPUPerRead makes per setting (CPU=1 only)")

// TestRedisCPUPerRead measures the Redis CPU that one guarded read costs,
// with the local cache off and at 1 s, with 1, 100, 1,000 and 8,000
// sessions active at once: 8 goroutines read them in turn, -cpu.reads
// reads in all, on a redis-server started for it (loopback port). Around
// each setting it resets the server's statistics (CONFIG RESETSTAT) and
// reads INFO cpu (used_cpu_sys + used_cpu_user) and INFO commandstats. It
// prints a table, with the share of reads the cache answered, and asserts
// only that every read was a 200. It runs
// only with CPU=1:
//
//	CPU=1 go test -run TestRedisCPUPerRead -v
func TestRedisCPUPerRead(t *testing.T) {
	if os.Getenv("CPU") != "1" {
		t.Skip("set CPU=1 to measure Redis CPU per guarded read")
	}
	srv := redistest.StartServer(t)
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer admin.Close()
	ctx := context.Background()

	t.Log("| sessions | LocalCache | Redis CPU µs/read | commands/read (client) | calls/read (Redis, with those run by scripts) | hits | reads/s |")
	t.Log("|--:|--|--:|--:|--:|--:|--:|")
	for _, life := range []time.Duration{0, time.Second} {
		for _, n := range []int{1, 100, 1000, 8000} {
			c := new(Counter)
			rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, PoolSize: 16})
			rdb.AddHook(c.Hook())
			target, err := newSessionShieldOn(rdb, c, fmt.Sprintf("cpu%d-%d:", life/time.Millisecond, n), life)
			if err != nil {
				t.Fatal(err)
			}
			reqs := make([]*http.Request, n)
			for i := range reqs {
				cookie, err := target.Login(NextUser("cpu"), UserAgent)
				if err != nil {
					t.Fatal(err)
				}
				reqs[i] = ReadRequest(cookie, UserAgent)
			}
			for life > 0 && target.Store.CacheStats().ProvenLag < 0 {
				time.Sleep(time.Millisecond)
			}
			for _, r := range reqs { // every session read once: active, cached when the cache is on
				if code := serve(target.Handler, r).Code; code != http.StatusOK {
					t.Fatalf("read: %d", code)
				}
			}

			if err := admin.ConfigResetStat(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			cpu0 := redisCPU(t, admin)
			before, hits := c.Snapshot(), target.Store.CacheStats().Hits
			start := time.Now()
			const workers = 8
			var wg sync.WaitGroup
			failed := make(chan int, workers)
			for g := range workers {
				wg.Go(func() {
					for k := range *cpuReads / workers {
						if code := serve(target.Handler, reqs[(g+workers*k)%n]).Code; code != http.StatusOK {
							failed <- code
							return
						}
					}
				})
			}
			wg.Wait()
			took := time.Since(start)
			cpu1 := redisCPU(t, admin)
			cmds := c.Snapshot().Sub(before).Cmds
			calls, stats := redisCalls(t, admin)
			close(failed)
			for code := range failed {
				t.Fatalf("read: %d", code)
			}
			reads := float64(*cpuReads / workers * workers)
			cache := "off"
			if life > 0 {
				cache = life.String()
			}
			t.Logf("| %d | %s | %.2f | %.3f | %.3f | %.0f%% | %.0f |", n, cache, (cpu1-cpu0)*1e6/reads,
				float64(cmds)/reads, float64(calls)/reads, float64(target.Store.CacheStats().Hits-hits)*100/reads, reads/took.Seconds())
			t.Logf("  commandstats: %s", stats)
			_ = target.Close()
			_ = rdb.Close()
		}
	}
}

// redisCPU returns the server's used_cpu_sys + used_cpu_user, in seconds.
func redisCPU(t *testing.T, admin *redis.Client) float64 {
	t.Helper()
	info, err := admin.Info(context.Background(), "cpu").Result()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for line := range strings.SplitSeq(info, "\r\n") {
		k, v, _ := strings.Cut(line, ":")
		if k == "used_cpu_sys" || k == "used_cpu_user" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			sum += f
		}
	}
	return sum
}

// redisCalls returns the calls INFO commandstats counts since the last
// CONFIG RESETSTAT, but those of INFO and CONFIG, and each command's
// calls and usec.
func redisCalls(t *testing.T, admin *redis.Client) (int64, string) {
	t.Helper()
	info, err := admin.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	var each []string
	// cmdstat_evalsha:calls=40000,usec=123456,usec_per_call=3.09,...
	for line := range strings.SplitSeq(info, "\r\n") {
		name, rest, ok := strings.Cut(strings.TrimPrefix(line, "cmdstat_"), ":")
		if !ok || name == "info" || strings.HasPrefix(name, "config") {
			continue
		}
		fields := map[string]string{}
		for kv := range strings.SplitSeq(rest, ",") {
			k, v, _ := strings.Cut(kv, "=")
			fields[k] = v
		}
		calls, _ := strconv.ParseInt(fields["calls"], 10, 64)
		total += calls
		each = append(each, fmt.Sprintf("%s calls=%s usec=%s", name, fields["calls"], fields["usec"]))
	}
	return total, strings.Join(each, "; ")
}
