package ginsession

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"
)

// MaxCacheEntries is the most sessions a Store's local cache holds (see
// Config.LocalCache); beyond it, a new entry replaces an arbitrary one. It
// also remembers at most this many recent ends; beyond that it empties
// itself.
const MaxCacheEntries = 100_000

// CacheStats is what a Store's local cache has done since NewStore.
type CacheStats struct {
	Hits          uint64        // guarded reads answered from the cache, at no Redis command
	Misses        uint64        // guarded reads that went to Redis with the cache on
	Invalidations uint64        // ended sessions announced on the channel, this Store's own included
	Entries       int           // sessions cached now
	ProvenLag     time.Duration // how old the newest own heartbeat received back is, negative when none came back since the last (re)subscription; the cache serves while it is below LocalCache
}

// localCache holds the authentication checks of recently read sessions
// (never their values), and what it needs to know they are still good:
// the recent ends it was told of, and the last heartbeat it received back
// on the invalidation channel. Times are Unix ms of the Store's clock.
type localCache struct {
	life     int64 // Config.LocalCache, in ms
	channel  string
	token    string // this Store's heartbeat token
	mu       sync.RWMutex
	entries  map[string]cacheEntry // by at-rest name
	ended    map[string]endMark    // at-rest name -> when it was invalidated here
	flushed  uint64                // the seq of the last emptying (a (re)subscribe, a lost connection)
	seq      atomic.Uint64         // counts ends and flushes: orders reads against them, whatever the wall clock does
	proven   atomic.Int64          // the send time of the newest own heartbeat received back; 0: none
	kick     chan struct{}         // asks the heartbeat goroutine for a heartbeat now
	hits     atomic.Uint64
	misses   atomic.Uint64
	invals   atomic.Uint64
	stop     context.CancelFunc
	done     sync.WaitGroup
	pubsub   *redis.PubSub
	closeMu  sync.Mutex
	isClosed bool
}

// cacheEntry is one session's authentication check.
type cacheEntry struct {
	user      string
	fp        []byte // never written after the load that read it
	created   int64
	seenAfter int64
	remember  bool
	readAt    int64 // when the read that made it began
	until     int64 // min(read start + LocalCache, activity write + refreshEvery)
}

// endMark is when a session ended on this instance (or was announced to):
// at, on the wall clock, to forget it after LocalCache; seq, to refuse the
// entry of a read that began before it.
type endMark struct {
	at  int64
	seq uint64
}

// receiveHook, when set, runs before each message of the channel is
// applied, and drops it when it returns false: tests lose ends there.
var receiveHook atomic.Pointer[func(payload string) bool]

// stores maps each Store with a running cache, by address, to itself: the
// middleware finds the Store behind gin-contrib's session this way without
// loading it.
var stores sync.Map // uintptr -> *Store

// caching counts the Stores in stores: with none, the middleware does not
// look.
var caching atomic.Int32

// startCache starts s's cache: the subscriber and the heartbeat goroutines.
func (s *Store) startCache() {
	tok := make([]byte, 8)
	_, _ = rand.Read(tok)
	lc := &localCache{
		life:    s.cfg.LocalCache.Milliseconds(),
		channel: s.cfg.KeyPrefix + "inval",
		token:   hex.EncodeToString(tok),
		entries: make(map[string]cacheEntry),
		ended:   make(map[string]endMark),
		kick:    make(chan struct{}, 1),
	}
	s.cache = lc
	ctx, cancel := context.WithCancel(context.Background())
	lc.stop = cancel
	lc.pubsub = s.rdb.Subscribe(ctx, lc.channel)
	lc.done.Add(2)
	go s.receive(ctx)
	go s.heartbeat(ctx)
	stores.Store(reflect.ValueOf(s).Pointer(), s)
	caching.Add(1)
}

// Close stops the goroutines of the local cache (Config.LocalCache) and
// releases its Redis connection; the Store then reads every session from
// Redis. It does not close the Redis client. Without the cache it does
// nothing. It returns nil, and may be called more than once.
func (s *Store) Close() error {
	lc := s.cache
	if lc == nil {
		return nil
	}
	lc.closeMu.Lock()
	if lc.isClosed {
		lc.closeMu.Unlock()
		return nil
	}
	lc.isClosed = true
	lc.closeMu.Unlock()
	stores.Delete(reflect.ValueOf(s).Pointer())
	caching.Add(-1)
	lc.stop()
	_ = lc.pubsub.Close()
	lc.done.Wait()
	lc.flush(s.now())
	lc.proven.Store(0)
	return nil
}

// receive reads the invalidation channel: every (re)subscription or lost
// connection empties the cache and forgets the proof; an end removes its
// sessions; an own heartbeat proves everything published before it was
// received.
func (s *Store) receive(ctx context.Context) {
	lc := s.cache
	defer lc.done.Done()
	fails := 0
	for {
		msg, err := lc.pubsub.Receive(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			lc.proven.Store(0)
			lc.flush(s.now())
			s.reloadAfter(err) // on a Cluster, the next Receive goes to the channel's new master
			fails++
			select { // the next Receive reconnects; not in a busy loop while Redis is down
			case <-ctx.Done():
				return
			case <-time.After(time.Duration(min(fails, 10)) * 50 * time.Millisecond):
			}
			continue
		}
		fails = 0
		switch m := msg.(type) {
		case *redis.Subscription:
			lc.proven.Store(0)
			lc.flush(s.now())
			select {
			case lc.kick <- struct{}{}:
			default:
			}
		case *redis.Message:
			if h := receiveHook.Load(); h != nil && !(*h)(m.Payload) {
				continue
			}
			lc.handle(m.Payload, s.now())
		}
	}
}

// handle applies one message of the channel received at now.
func (lc *localCache) handle(payload string, now int64) {
	kind, rest, _ := strings.Cut(payload, " ")
	switch kind {
	case "h":
		tok, at, _ := strings.Cut(rest, " ")
		if tok != lc.token {
			return
		}
		if t, err := strconv.ParseInt(at, 10, 64); err == nil && t > lc.proven.Load() {
			lc.proven.Store(t)
		}
	case "e":
		names := strings.Fields(rest)
		lc.invalidate(names, now)
		lc.invals.Add(uint64(len(names)))
	}
}

// heartbeat publishes this Store's token with its send time every
// LocalCache/4, and at once when the subscriber asks.
func (s *Store) heartbeat(ctx context.Context) {
	lc := s.cache
	defer lc.done.Done()
	t := time.NewTicker(max(s.cfg.LocalCache/4, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-lc.kick:
		}
		msg := "h " + lc.token + " " + strconv.FormatInt(s.now(), 10)
		_ = s.rdb.Process(ctx, lc.publish(ctx, msg)) // a failure only lets the proof age: hits stop
	}
}

// endMessage is the message that announces the ends of atRestNames.
func endMessage(atRestNames []string) string {
	return "e " + strings.Join(atRestNames, " ")
}

// invalidate removes the entries of atRestNames and remembers, for
// LocalCache, that they ended at now: a read that began before is not
// cached.
func (lc *localCache) invalidate(atRestNames []string, now int64) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	seq := lc.seq.Add(1)
	for _, h := range atRestNames {
		delete(lc.entries, h)
		lc.ended[h] = endMark{at: now, seq: seq}
	}
	if len(lc.ended) > MaxCacheEntries {
		for h, m := range lc.ended {
			if now-m.at > lc.life {
				delete(lc.ended, h)
			}
		}
	}
	if len(lc.ended) > MaxCacheEntries {
		// More recent ends than it may hold: a flush at now refuses every
		// read any of them would, so they can go.
		clear(lc.entries)
		clear(lc.ended)
		lc.flushed = seq
	}
}

// flush empties the cache and refuses entries of reads begun before now.
func (lc *localCache) flush(now int64) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	clear(lc.entries)
	lc.flushed = lc.seq.Add(1)
}

// cacheInsert caches the check of a session read live at readAt, unless it
// ended or the cache was flushed since the read began (st.readSeq), or its
// activity write is due (the read's refresh was refused): an entry never
// stands in for that write.
func (s *Store) cacheInsert(atRest string, st *state, readAt int64) {
	lc := s.cache
	lastWrite := st.created + st.seenAfter // as in Redis after the read
	if readAt-lastWrite >= s.everyMS {
		return
	}
	e := cacheEntry{user: st.user, fp: st.fp, created: st.created, seenAfter: lastWrite - st.created,
		remember: st.remember, readAt: readAt, until: min(readAt+lc.life, lastWrite+s.everyMS)}
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if st.readSeq < lc.flushed {
		return
	}
	if m, ok := lc.ended[atRest]; ok {
		if st.readSeq < m.seq {
			return
		}
		if readAt-m.at > lc.life {
			delete(lc.ended, atRest)
		}
	}
	if len(lc.entries) >= MaxCacheEntries {
		for h, old := range lc.entries {
			delete(lc.entries, h)
			if old.until > readAt { // an expired one is freed; else one live one goes
				break
			}
		}
	}
	lc.entries[atRest] = e
}

// lookup returns the entry of atRest when it may answer at now.
func (lc *localCache) lookup(atRest string, now int64) (cacheEntry, bool) {
	if p := lc.proven.Load(); p == 0 || now < p || now-p >= lc.life {
		return cacheEntry{}, false // unproven, or the clock went back: no age can be trusted
	}
	lc.mu.RLock()
	e, ok := lc.entries[atRest]
	lc.mu.RUnlock()
	return e, ok && e.readAt <= now && now < e.until
}

// publish returns a PUBLISH of msg on the cache's channel, routed as if
// the channel were a key: a ClusterClient sends a plain PUBLISH to any
// master, and a heartbeat proves the ends published before it only when
// both travel the same way, to the channel's slot node, where the
// subscription is.
func (lc *localCache) publish(ctx context.Context, msg string) *redis.IntCmd {
	cmd := redis.NewIntCmd(ctx, "publish", lc.channel, msg)
	cmd.SetFirstKeyPos(1)
	return cmd
}

// CacheStats returns what the local cache has done; the zero CacheStats
// without one (Config.LocalCache is 0).
func (s *Store) CacheStats() CacheStats {
	lc := s.cache
	if lc == nil {
		return CacheStats{}
	}
	lc.mu.Lock()
	n := len(lc.entries)
	lc.mu.Unlock()
	var lag time.Duration
	if p := lc.proven.Load(); p != 0 {
		lag = time.Duration(s.now()-p) * time.Millisecond
	} else {
		lag = -1
	}
	return CacheStats{Hits: lc.hits.Load(), Misses: lc.misses.Load(), Invalidations: lc.invals.Load(), Entries: n, ProvenLag: lag}
}

// cachedStore returns the caching Store behind c's session and the session's
// name, without loading it, or nil when there is none or the session was
// loaded already.
func cachedStore(c *gin.Context) (*Store, string) {
	if caching.Load() == 0 {
		return nil, ""
	}
	gs, _ := registered(c)
	if gs == nil {
		return nil, ""
	}
	rv := reflect.ValueOf(gs)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return nil, ""
	}
	f, n := rv.Elem().FieldByName("store"), rv.Elem().FieldByName("name")
	if !f.IsValid() || f.Kind() != reflect.Interface || f.IsNil() || f.Elem().Kind() != reflect.Pointer || !n.IsValid() || n.Kind() != reflect.String {
		return nil, ""
	}
	x, ok := stores.Load(f.Elem().Pointer())
	if !ok {
		return nil, ""
	}
	return x.(*Store), n.String()
}

// authenticateCached answers authenticate from the local cache, and reports
// whether it did: only for a live, logged-in session whose cookie the
// newest secret signed and whose fingerprint matches exactly with the
// newest key. Anything else is left to the load.
func authenticateCached(c *gin.Context) bool {
	s, name := cachedStore(c)
	if s == nil || s.cache == nil {
		return false
	}
	if want := cmp.Or(c.GetString(sessionNameKey), s.cfg.CookieName); name != want {
		return false // the cookie this request's session reads is not the one named
	}
	if sess, _ := loaded(c.Request.Context(), s, name); sess != nil {
		return false
	}
	value, found := cookieValue(c.Request, name)
	if !found {
		return false
	}
	id, stale, ok := s.verify(name, value)
	if !ok || stale {
		return false
	}
	atRest := s.sessionKey(id)[len(s.cfg.KeyPrefix):]
	now := s.now()
	e, ok := s.cache.lookup(atRest, now)
	if !ok || s.expiredBy(e.remember, e.created, e.seenAfter, now) != "" {
		s.cache.misses.Add(1)
		return false
	}
	res := s.fp.Check(e.fp, c.Request, s.clientIP(c))
	if !res.OK() || len(res.Soft) > 0 || res.OldKey {
		s.cache.misses.Add(1)
		return false
	}
	s.cache.hits.Add(1)
	c.Set(userIDKey, e.user)
	return true
}
