package ginsession

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/gin-contrib/sessions"
	gsessions "github.com/gorilla/sessions"
	"github.com/redis/go-redis/v9"

	"github.com/sessionshield/sessionshield/fingerprint"
)

// Compile-time check: a *Store is a gin-contrib/sessions Store.
var _ sessions.Store = (*Store)(nil)

// Store is a gin-contrib/sessions Store on Redis (any redis.UniversalClient:
// a single node, Sentinel or Cluster) that is hardened by default. Use it
// with sessions.Sessions and sessions.Default as usual, and with Login,
// Logout and RequireAuth for the authentication lifecycle. A Store is safe
// for concurrent use.
type Store struct {
	rdb        redis.UniversalClient
	cfg        Config
	opts       atomic.Pointer[gsessions.Options] // the cookie defaults; see Options
	cookieKeys [][]byte
	fp         *fingerprint.Binder
	log        *slog.Logger
	idleMS     int64 // the timeouts, and those of a remembered session (Remember)
	absMS      int64
	rIdleMS    int64
	rAbsMS     int64
	idleArg    any // the timeouts and refreshEvery as script arguments, boxed once
	absArg     any
	rIdleArg   any
	rAbsArg    any
	everyArg   any
	everyMS    int64
	macs       []*sync.Pool         // one pool of HMAC states per cookie key
	memo       refreshMemo          // when recently read sessions last had their activity written (2 MiB; none when memoOff)
	memoOff    bool                 // reads may go to replicas: always run loadScript, on the primary
	cluster    *redis.ClusterClient // rdb, when it is one: see reloadAfter
	nextReload atomic.Int64         // when reloadAfter may next ask for a reload, in Unix ns
	warned     sync.Map             // the keys of the warnings already logged (see firstWarning)
	cache      *localCache          // Config.LocalCache; nil when off
}

// NewStore returns a Store that keeps sessions in rdb. It returns an error
// that says what to fix when cfg is not safe to run with.
func NewStore(rdb redis.UniversalClient, cfg Config) (*Store, error) {
	if rdb == nil {
		return nil, ErrNoClient
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	fp, err := fingerprint.New(cfg.Secrets, cfg.Fingerprint)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	s := &Store{
		rdb:     rdb,
		cfg:     cfg,
		fp:      fp,
		log:     cfg.Logger,
		idleMS:  cfg.IdleTimeout.Milliseconds(),
		absMS:   cfg.AbsoluteTimeout.Milliseconds(),
		rIdleMS: cfg.RememberIdleTimeout.Milliseconds(),
		rAbsMS:  cfg.RememberAbsoluteTimeout.Milliseconds(),
	}
	for _, sec := range cfg.Secrets {
		s.cookieKeys = append(s.cookieKeys, derive(sec, "sessionshield/cookie/v1"))
	}
	s.everyMS = refreshEvery(s.idleMS)
	s.idleArg, s.absArg, s.rIdleArg, s.rAbsArg, s.everyArg = s.idleMS, s.absMS, s.rIdleMS, s.rAbsMS, s.everyMS
	s.memoOff = readsFromReplicas(rdb)
	if !s.memoOff {
		s.memo = newRefreshMemo()
	}
	s.cluster, _ = rdb.(*redis.ClusterClient)
	for _, k := range s.cookieKeys {
		s.macs = append(s.macs, newMACPool(k))
	}
	opts := defaultOptions(&cfg)
	s.opts.Store(&opts)
	if cfg.LocalCache > 0 {
		s.startCache()
	}
	return s, nil
}

// Get returns the session called name for r, loaded at most once per request
// (gorilla/sessions' Store). Every Get of the request returns the load's
// error: one wrapping ErrStoreUnavailable (the session is then empty and
// never saved), ErrDecode, or an ErrConfig error for an unusable name.
func (s *Store) Get(r *http.Request, name string) (*gsessions.Session, error) {
	if sess, st := loaded(r.Context(), s, name); sess != nil {
		if st.loadErr != nil {
			return sess, st.loadErr
		}
		return sess, st.decodeErr
	}
	return s.New(r, name)
}

// New loads the session called name from the request's cookie, or starts a
// new one (gorilla/sessions' Store; applications call Get or
// sessions.Default). A missing or invalid cookie costs no Redis command; a
// valid one costs one round trip, which also slides the expiry. An ID without
// a live record is never adopted.
func (s *Store) New(r *http.Request, name string) (*gsessions.Session, error) {
	sess := gsessions.NewSession(s, name)
	st := &state{name: name, opts: s.defaults()}
	sess.Options = &st.opts
	sess.IsNew = true
	attach(r, sess, st)
	if s.cfg.CookieName != "" && name != s.cfg.CookieName {
		s.warnCookieName(name)
	}
	if err := checkName(name, st.opts); err != nil {
		st.loadErr = err
		return sess, err
	}
	value, found := cookieValue(r, name)
	if !found {
		return sess, nil
	}
	st.hadCookie = true
	id, stale, ok := s.verify(name, value)
	if !ok {
		s.emit(r.Context(), Event{Type: EventInvalidCookie, Request: r})
		return sess, nil
	}
	st.resign = stale
	err := s.load(r.Context(), sess, st, id)
	if err != nil && !errors.Is(err, ErrDecode) {
		s.emit(r.Context(), Event{Type: EventStoreError, Err: err})
	}
	return sess, err
}

func (s *Store) now() int64 { return s.cfg.Now().UnixMilli() }

// timeouts returns the idle and absolute timeouts, in ms, of a session
// that is remembered (Remember) or not.
func (s *Store) timeouts(remember bool) (idle, abs int64) {
	if remember {
		return s.rIdleMS, s.rAbsMS
	}
	return s.idleMS, s.absMS
}

// expiredBy returns the timeout a session has passed at now, "absolute"
// or "idle", or "" while it is live: the Go side of loadScript's check.
func (s *Store) expiredBy(remember bool, created, seenAfter, now int64) string {
	idle, abs := s.timeouts(remember)
	switch {
	case now-created >= abs:
		return "absolute"
	case now-(created+seenAfter) >= idle:
		return "idle"
	}
	return ""
}

// ttl returns the Redis TTL of a session created at created, at now:
// min(idle timeout, time left to the absolute deadline), at least 1 ms.
func (s *Store) ttl(remember bool, created, now int64) int64 {
	idle, abs := s.timeouts(remember)
	return max(min(idle, created+abs-now), 1)
}

// refreshEvery returns how often, in ms, reads of a session write its last
// activity and TTL: 1/60 of the idle timeout, at most one second.
func refreshEvery(idleMS int64) int64 { return min(idleMS/60, 1000) }
