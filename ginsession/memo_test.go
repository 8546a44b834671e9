package ginsession

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionshield/sessionshield/internal/redistest"
)

// lastSeen returns the session's _a field in Redis.
func (h *harness) lastSeen(key string) int64 {
	h.t.Helper()
	v, err := h.raw.HGet(context.Background(), key, metaLastSeen).Result()
	require.NoError(h.t, err)
	n, err := strconv.ParseInt(v, 10, 64)
	require.NoError(h.t, err)
	return n
}

// TestReadsBetweenRefreshesSkipTheScript: a read whose session had its
// activity written less than refreshEvery ago is a plain HGETALL; the next
// read after that runs the script and slides the expiry.
func TestReadsBetweenRefreshesSkipTheScript(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.IdleTimeout = 30 * time.Minute; c.AbsoluteTimeout = time.Hour })
	c := h.login(chromeWin, "memo")
	key := h.keyOf(c.cookie)

	h.clock.Advance(5 * time.Second)
	h.count.Reset()
	require.Equal(t, http.StatusOK, c.do("GET", "/api/profile").status)
	assert.Equal(t, []string{"evalsha"}, h.count.Names(), "the first read refreshes")
	seen := h.lastSeen(key)
	assert.Equal(t, (5 * time.Second).Milliseconds(), seen)

	for range 3 {
		h.clock.Advance(300 * time.Millisecond)
		h.count.Reset()
		require.Equal(t, http.StatusOK, c.do("GET", "/api/profile").status)
		assert.Equal(t, []string{"hgetall"}, h.count.Names(), "refreshed less than a second ago: nothing to write")
		assert.Equal(t, int64(1), h.count.RoundTrips())
		assert.Equal(t, seen, h.lastSeen(key))
	}

	h.clock.Advance(100 * time.Millisecond) // 1 s after the refresh
	h.count.Reset()
	require.Equal(t, http.StatusOK, c.do("GET", "/api/profile").status)
	assert.Equal(t, []string{"evalsha"}, h.count.Names())
	assert.Equal(t, seen+1000, h.lastSeen(key), "the activity slid")
	pttl, err := h.raw.PTTL(context.Background(), key).Result()
	require.NoError(t, err)
	assert.Greater(t, pttl, 29*time.Minute, "the TTL slid with it")
}

// refreshedSession logs in, lets 5 s pass and reads once, so the script
// slides the expiry and the memo knows the session: the next read within a
// second is a plain HGETALL.
func (h *harness) refreshedSession(user string) (*client, string) {
	h.t.Helper()
	c := h.login(chromeWin, user)
	h.clock.Advance(5 * time.Second)
	require.Equal(h.t, http.StatusOK, c.do("GET", "/api/profile").status)
	return c, h.keyOf(c.cookie)
}

// TestPlainReadStillChecksTheDeadline: a session past its absolute
// deadline is found expired by the plain read, deleted by the script and
// refused. (The deadline is moved in Redis, keeping _c+_a, so the key's
// own TTL stays long and the test does not race it.)
func TestPlainReadStillChecksTheDeadline(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.IdleTimeout = 30 * time.Minute; c.AbsoluteTimeout = time.Hour })
	c, key := h.refreshedSession("deadline")
	ctx := context.Background()
	created, err := h.raw.HGet(ctx, key, metaCreated).Int64()
	require.NoError(t, err)
	seen := h.lastSeen(key)
	abs := time.Hour.Milliseconds()
	require.NoError(t, h.raw.HSet(ctx, key, metaCreated, created-abs, metaLastSeen, seen+abs).Err())

	h.count.Reset()
	r := c.do("GET", "/api/profile")
	assert.Equal(t, http.StatusUnauthorized, r.status)
	assert.JSONEq(t, `{"error":"session expired"}`, r.body)
	assert.Equal(t, []string{"hgetall", "evalsha"}, h.count.Names(), "the plain read found it expired; the script deleted it")
	assert.False(t, h.isSession(key))
	require.Len(t, h.eventsOf(EventExpired), 1)
	assert.Equal(t, "absolute", h.eventsOf(EventExpired)[0].Reason)
}

// TestPlainReadDefersToTheScript: whatever the plain read finds that the
// script would act on (an old last activity, missing or malformed times)
// goes to the script, which decides as it always did.
func TestPlainReadDefersToTheScript(t *testing.T) {
	for _, tc := range []struct {
		name   string
		edit   func(h *harness, key string)
		status int
	}{
		{"idle timeout passed", func(h *harness, key string) {
			require.NoError(t, h.raw.HSet(context.Background(), key, metaLastSeen, h.lastSeen(key)-time.Hour.Milliseconds()).Err())
		}, http.StatusUnauthorized},
		{"no last activity", func(h *harness, key string) {
			require.NoError(t, h.raw.HDel(context.Background(), key, metaLastSeen).Err())
		}, http.StatusUnauthorized},
		{"malformed last activity", func(h *harness, key string) {
			require.NoError(t, h.raw.HSet(context.Background(), key, metaLastSeen, "soon").Err())
		}, http.StatusUnauthorized},
		{"a slide due (written earlier elsewhere)", func(h *harness, key string) {
			require.NoError(t, h.raw.HSet(context.Background(), key, metaLastSeen, h.lastSeen(key)-2000).Err())
		}, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.IdleTimeout = 30 * time.Minute; c.AbsoluteTimeout = 2 * time.Hour })
			c, key := h.refreshedSession("defer")
			tc.edit(h, key)
			h.count.Reset()
			r := c.do("GET", "/api/profile")
			assert.Equal(t, tc.status, r.status, r.body)
			assert.Equal(t, []string{"hgetall", "evalsha"}, h.count.Names())
			if tc.status == http.StatusOK {
				assert.Equal(t, (5 * time.Second).Milliseconds(), h.lastSeen(key), "the script slid it")
			} else {
				assert.False(t, h.isSession(key), "the script deleted it")
			}
		})
	}
}

// TestMemoRecordsWhatTheScriptDid: a script read that did not slide (the
// last write is recent) records that write's time, not now, so the slide
// comes refreshEvery after the write, not after the read.
func TestMemoRecordsWhatTheScriptDid(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.IdleTimeout = 30 * time.Minute; c.AbsoluteTimeout = time.Hour })
	c := h.login(chromeWin, "record")
	key := h.keyOf(c.cookie)
	steps := []struct {
		advance time.Duration
		want    string
	}{
		{300 * time.Millisecond, "evalsha"}, // memo miss; 0.3 s after the login's write: no slide
		{300 * time.Millisecond, "hgetall"}, // 0.6 s after the write
		{500 * time.Millisecond, "evalsha"}, // 1.1 s after the write: the slide is due
	}
	for i, st := range steps {
		h.clock.Advance(st.advance)
		h.count.Reset()
		require.Equal(t, http.StatusOK, c.do("GET", "/api/profile").status)
		assert.Equal(t, []string{st.want}, h.count.Names(), "step %d", i)
	}
	assert.Equal(t, int64(1100), h.lastSeen(key))
}

// TestPlainReadFailsClosed: a Redis error on the plain read is a 503, never
// "not logged in" and never a pass.
func TestPlainReadFailsClosed(t *testing.T) {
	h := newHarness(t, nil)
	c, _ := h.refreshedSession("closed")
	hook := &failHGetAll{}
	h.rdb.AddHook(hook)
	hook.on.Store(true)
	h.count.Reset()
	r := c.do("GET", "/api/profile")
	assert.Equal(t, http.StatusServiceUnavailable, r.status)
	assert.JSONEq(t, `{"error":"session store unavailable"}`, r.body)
	assert.Empty(t, r.setCookies)
	hook.on.Store(false)
	assert.Equal(t, http.StatusOK, c.do("GET", "/api/profile").status)
}

// failHGetAll fails every HGETALL while on.
type failHGetAll struct{ on atomic.Bool }

func (f *failHGetAll) DialHook(next redis.DialHook) redis.DialHook { return next }
func (f *failHGetAll) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if f.on.Load() && cmd.Name() == "hgetall" {
			err := errors.New("injected: connection reset")
			cmd.SetErr(err)
			return err
		}
		return next(ctx, cmd)
	}
}
func (f *failHGetAll) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestReplicaReadsNeverTakeThePlainPath: with a ClusterClient that may send
// HGETALL to a lagging replica, every read runs the script on the primary.
func TestReplicaReadsNeverTakeThePlainPath(t *testing.T) {
	for _, o := range []*redis.ClusterOptions{
		{Addrs: []string{"127.0.0.1:1"}, ReadOnly: true},
		{Addrs: []string{"127.0.0.1:1"}, RouteByLatency: true},
		{Addrs: []string{"127.0.0.1:1"}, RouteRandomly: true},
	} {
		cc := redis.NewClusterClient(o)
		s, err := NewStore(cc, Config{Secrets: [][]byte{[]byte(testSecret)}})
		require.NoError(t, err)
		assert.True(t, s.memoOff)
		_ = cc.Close()
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}})
	defer cc.Close()
	s, err := NewStore(cc, Config{Secrets: [][]byte{[]byte(testSecret)}})
	require.NoError(t, err)
	assert.False(t, s.memoOff, "primary-only Cluster reads may use it")
}

// TestPlainReadSeesADestroyFromElsewhere: a session deleted by another
// process (a logout on another instance) is gone for the plain read too.
func TestPlainReadSeesADestroyFromElsewhere(t *testing.T) {
	h := newHarness(t, nil)
	c := h.login(chromeWin, "elsewhere")
	key := h.keyOf(c.cookie)
	h.clock.Advance(2 * time.Second)
	require.Equal(t, http.StatusOK, c.do("GET", "/api/profile").status) // refreshes: the memo knows it
	require.NoError(t, h.raw.Del(context.Background(), key).Err())
	h.count.Reset()
	r := c.do("GET", "/api/profile")
	assert.Equal(t, http.StatusUnauthorized, r.status)
	assert.JSONEq(t, `{"error":"not logged in"}`, r.body)
	assert.Equal(t, []string{"hgetall"}, h.count.Names())
	assert.False(t, h.isSession(key), "nothing recreated it")
}

// memoNames returns n at-rest names, as atRestName makes them.
func memoNames(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = atRestName(prefix + strconv.Itoa(i))
	}
	return out
}

// sameBucket returns n at-rest names in the bucket of atRest, none with its
// tag.
func sameBucket(atRest string, n int) []string {
	bucket, tag := memoBucketTag(atRest)
	var out []string
	for i := 0; len(out) < n; i++ {
		name := atRestName("other-" + strconv.Itoa(i))
		if b, tg := memoBucketTag(name); b == bucket && tg != tag {
			out = append(out, name)
		}
	}
	return out
}

func TestRefreshMemo(t *testing.T) {
	const every = int64(1000)
	now := int64(1_767_225_600_000) // 2026-01-01
	a := atRestName("a")

	var zero refreshMemo
	zero.record(a, now)
	assert.False(t, zero.fresh(a, now, every), "the zero memo knows nothing")

	m := newRefreshMemo()
	assert.False(t, m.fresh(a, now, every), "empty")
	m.record(a, now)
	assert.True(t, m.fresh(a, now, every))
	assert.True(t, m.fresh(a, now+999, every))
	assert.False(t, m.fresh(a, now+1000, every), "a full refreshEvery later")
	assert.False(t, m.fresh(a, now-1, every), "a clock that went back knows nothing")
	assert.False(t, m.fresh(a, now, 0), "refreshEvery 0: always refresh")
	assert.False(t, m.fresh(atRestName("b"), now, every), "another session")

	m.record(a, now+600)
	assert.True(t, m.fresh(a, now+1500, every), "the newer write counts")
	m.record(a, now+100) // a concurrent read that saw an earlier write
	assert.True(t, m.fresh(a, now+1500, every), "an earlier write does not replace a later one")
	bucket, _ := memoBucketTag(a)
	used := 0
	for i := range m.bucket(bucket) {
		if m.bucket(bucket)[i].Load() != 0 {
			used++
		}
	}
	assert.Equal(t, 1, used, "a session's record replaces its own entry")
}

// TestRefreshMemoBucket: sessions that share a bucket are told apart by
// their tags; a full bucket evicts the entry whose write is oldest, and an
// entry older than refreshEvery is as good as free.
func TestRefreshMemoBucket(t *testing.T) {
	const every = int64(1000)
	now := int64(1_767_225_600_000)
	a := atRestName("a")
	others := sameBucket(a, 2*memoWays+1)
	m := newRefreshMemo()
	m.record(a, now)
	for i, o := range others[:memoWays-1] {
		assert.False(t, m.fresh(o, now, every), "same bucket, other tag")
		m.record(o, now+1+int64(i))
	}
	for _, s := range append([]string{a}, others[:memoWays-1]...) {
		assert.True(t, m.fresh(s, now+100, every), "8 ways hold 8 sessions")
	}
	m.record(others[memoWays-1], now+100)
	assert.False(t, m.fresh(a, now+100, every), "the oldest write was evicted")
	for _, s := range others[:memoWays] {
		assert.True(t, m.fresh(s, now+100, every))
	}

	m.record(others[memoWays], now+50) // a record of a write older than the newest entries
	assert.True(t, m.fresh(others[memoWays], now+100, every))
	assert.False(t, m.fresh(others[0], now+100, every), "the oldest write was evicted")
	assert.True(t, m.fresh(others[memoWays-1], now+100, every), "not the newest, which is later than the record's time")

	later := now + 5000 // every entry is stale: a new round fills the bucket again
	for i, o := range others[memoWays+1:] {
		m.record(o, later+int64(i))
	}
	for _, o := range others[memoWays+1:] {
		assert.True(t, m.fresh(o, later+500, every))
	}
	for _, o := range others[:memoWays+1] {
		assert.False(t, m.fresh(o, later+500, every))
	}
}

// TestRefreshMemoTime: an entry stores only the low 24 bits of its time;
// the rest is added to its tag, so a window that crosses a multiple of
// 2^24 ms still finds the session, and the same low bits 2^24 ms later do
// not.
func TestRefreshMemoTime(t *testing.T) {
	const every = int64(1000)
	a := atRestName("a")
	for _, at := range []int64{
		1_767_225_600_000&^memoTimeMask - 300, // 0.3 s before a multiple of 2^24 ms
		1_767_225_600_000 &^ memoTimeMask,
		-400, // clocks before 1970 too
	} {
		m := newRefreshMemo()
		m.record(a, at)
		assert.True(t, m.fresh(a, at+700, every), "at %d", at)
		for _, k := range []int64{1, 2, 1000} {
			assert.False(t, m.fresh(a, at+k<<memoTimeBits, every), "at %d, %d*2^24 ms later", at, k)
			assert.False(t, m.fresh(a, at+k<<memoTimeBits+700, every), "at %d, %d*2^24 ms later", at, k)
			assert.False(t, m.fresh(a, at-k<<memoTimeBits, every), "at %d, %d*2^24 ms earlier", at, k)
		}
	}
}

// TestRefreshMemoConcurrent: records racing into one bucket never make
// the memo find a session that was never recorded, and leave each
// goroutine's last session found.
func TestRefreshMemoConcurrent(t *testing.T) {
	const every, goroutines = int64(1000), 4
	now := int64(1_767_225_600_000)
	names := sameBucket(atRestName("a"), 2*goroutines+1)
	never := names[2*goroutines]
	m := newRefreshMemo()
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10_000 {
				at := now + int64(i)/100
				m.record(names[2*g+i%2], at)
				if m.fresh(never, at, every) {
					t.Errorf("a session never recorded was found")
					return
				}
			}
		}()
	}
	wg.Wait()
	for g := range goroutines {
		assert.True(t, m.fresh(names[2*g+1], now+100, every), "goroutine %d's last record", g)
	}
}

// TestRefreshMemoCapacity: n sessions recorded over half a refresh window
// are each still found half a window after their record. The 2 MiB table
// keeps all of 8,000 and at least 99% of 100,000.
func TestRefreshMemoCapacity(t *testing.T) {
	const every = int64(1000)
	now := int64(1_767_225_600_000)
	for _, tc := range []struct {
		n    int
		want float64
	}{{100, 1}, {1_000, 1}, {3_000, 1}, {8_000, 1}, {100_000, 0.99}} {
		t.Run(strconv.Itoa(tc.n), func(t *testing.T) {
			m := newRefreshMemo()
			names := memoNames("s", tc.n)
			at := func(i int) int64 { return now + int64(i)*every/2/int64(tc.n) }
			for i, s := range names {
				m.record(s, at(i))
			}
			found := 0
			for i, s := range names {
				if m.fresh(s, at(i)+every/2, every) {
					found++
				}
			}
			t.Logf("%d sessions: %d found (%.2f%%)", tc.n, found, 100*float64(found)/float64(tc.n))
			assert.GreaterOrEqual(t, float64(found), tc.want*float64(tc.n))
		})
	}
}

// BenchmarkRefreshMemo is fresh and record with 8,000 sessions recorded:
// a hit, a miss (a session never recorded), and a record.
func BenchmarkRefreshMemo(b *testing.B) {
	const every = int64(1000)
	now := int64(1_767_225_600_000)
	m := newRefreshMemo()
	names := memoNames("s", 8_000)
	for _, s := range names {
		m.record(s, now)
	}
	unknown := memoNames("u", 8_000)
	b.Run("fresh-hit", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if !m.fresh(names[i%len(names)], now+500, every) {
				b.Fatal("not found")
			}
			i++
		}
	})
	b.Run("fresh-miss", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			m.fresh(unknown[i%len(unknown)], now+500, every)
			i++
		}
	})
	b.Run("record", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			m.record(names[i%len(names)], now+int64(i%len(names))/16)
			i++
		}
	})
}

// TestSecondReadsTakeThePlainPath: with n sessions active at once in one
// Store, each read once (the script slides it) and again half a refresh
// window later, at least 95% of the second reads are a plain HGETALL, on
// the client's count and on Redis's own (INFO commandstats, where the
// script's HGETALL counts too). A dedicated server keeps other tests'
// commands out of its counts.
func TestSecondReadsTakeThePlainPath(t *testing.T) {
	srv := redistest.StartServer(t)
	for _, n := range []int{100, 1_000, 3_000, 8_000} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
			t.Cleanup(func() { _ = rdb.Close() })
			count := &redistest.Counter{}
			rdb.AddHook(count)
			h := newHarnessOn(t, rdb, count, redis.NewClient(&redis.Options{Addr: srv.Addr}), func(c *Config) {
				c.IdleTimeout, c.AbsoluteTimeout, c.Logger = 30*time.Minute, time.Hour, discardLogger
			})
			cookies := make([]string, n)
			for i := range cookies {
				cookies[i] = h.loginInProcess("user-" + strconv.Itoa(i))
			}
			h.clock.Advance(5 * time.Second) // a slide is due: the first reads run the script
			for _, ck := range cookies {
				require.Equal(t, http.StatusOK, serve(h.engine, "GET", "/api/profile", ck).Code)
			}
			h.clock.Advance(500 * time.Millisecond)
			ctx := context.Background()
			require.NoError(t, h.raw.ConfigResetStat(ctx).Err())
			count.Reset()
			for _, ck := range cookies {
				require.Equal(t, http.StatusOK, serve(h.engine, "GET", "/api/profile", ck).Code)
			}
			names := map[string]int{}
			for _, name := range count.Names() {
				names[name]++
			}
			stats := commandStats(t, h.raw)
			t.Logf("%d sessions, second reads: client sent %d hgetall, %d evalsha; Redis counted %d hgetall (%.2f µs each), %d evalsha (%.2f µs each)",
				n, names["hgetall"], names["evalsha"], stats["hgetall"].calls, stats["hgetall"].usecPerCall, stats["evalsha"].calls, stats["evalsha"].usecPerCall)
			assert.Equal(t, int64(n), count.RoundTrips(), "one round trip each")
			assert.Equal(t, n, names["hgetall"]+names["evalsha"])
			assert.GreaterOrEqual(t, names["hgetall"], n*95/100, "plain reads")
			assert.Equal(t, names["evalsha"], stats["evalsha"].calls)
			assert.Equal(t, names["hgetall"]+names["evalsha"], stats["hgetall"].calls, "each script call runs one HGETALL")
		})
	}
}

// loginInProcess logs user in through the router, without a socket, and
// returns the session cookie's value.
func (h *harness) loginInProcess(user string) string {
	h.t.Helper()
	req := httptest.NewRequest("POST", "/login?user="+user, nil)
	req.Header.Set("User-Agent", chromeWin)
	w := httptest.NewRecorder()
	h.engine.ServeHTTP(w, req)
	require.Equal(h.t, http.StatusOK, w.Code, w.Body.String())
	for _, c := range w.Result().Cookies() {
		if c.Name == cookieName {
			return c.Value
		}
	}
	h.t.Fatal("no session cookie")
	return ""
}

// commandStat is one command's line of INFO commandstats.
type commandStat struct {
	calls       int
	usecPerCall float64
}

// commandStats returns INFO commandstats by command name.
func commandStats(t *testing.T, rdb redis.UniversalClient) map[string]commandStat {
	t.Helper()
	info, err := rdb.Info(context.Background(), "commandstats").Result()
	require.NoError(t, err)
	out := map[string]commandStat{}
	for _, line := range strings.Split(info, "\n") {
		name, fields, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		var st commandStat
		for _, f := range strings.Split(fields, ",") {
			k, v, _ := strings.Cut(f, "=")
			switch k {
			case "calls":
				st.calls, err = strconv.Atoi(v)
			case "usec_per_call":
				st.usecPerCall, err = strconv.ParseFloat(v, 64)
			}
			require.NoError(t, err, line)
		}
		out[strings.TrimPrefix(name, "cmdstat_")] = st
	}
	return out
}
