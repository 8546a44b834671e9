package ginsession

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
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
	return s, nil
}

// derive returns a 32-byte key for one purpose from a secret (HKDF-SHA256),
// so that the cookie MAC and the fingerprint never share a key.
func derive(secret []byte, info string) []byte {
	k, err := hkdf.Key(sha256.New, secret, nil, info, 32)
	if err != nil {
		panic("ginsession: hkdf: " + err.Error()) // only for key lengths HKDF cannot produce
	}
	return k
}

// Options sets the cookie attributes of sessions from this store: it is
// configuration, like Config, and may choose what Config may (Lax, a
// Domain), unlike session.Options in request code, which can never weaken
// the cookie. The attributes are merged into the current ones rather than
// replacing them, unlike in the other gin-contrib stores: a zero field
// keeps the current value (sessions.Options{SameSite: http.SameSiteLaxMode}
// keeps Max-Age); a Path, a Domain, a positive MaxAge (capped, when the
// cookie is sent, at the time left to the absolute timeout) and SameSite
// Strict or Lax are taken; HttpOnly and Secure cannot be switched off;
// SameSite None is dropped with a warning; a negative MaxAge, which on a
// session's Options destroys it on Save, is ignored (it would destroy
// every session). A browser-session cookie (no Max-Age) is
// Config.BrowserSessionCookie. The table in docs/cookie-options.md lists
// every case.
//
// With Config.CookieName set, Options panics with an error wrapping
// ErrConfig when the new attributes would make that name unusable (a
// Domain or a Path other than "/" for a __Host- name): call it at startup.
// It is safe to call while serving.
func (s *Store) Options(o sessions.Options) {
	merged, dropped := storeOptions(s.defaults(), o.ToGorillaOptions())
	for _, opt := range dropped {
		s.warnDropped("store.Options", opt)
	}
	if s.cfg.CookieName != "" {
		if err := checkName(s.cfg.CookieName, merged); err != nil {
			panic(fmt.Errorf("ginsession: store.Options: %w", err))
		}
	}
	s.opts.Store(&merged)
}

// CheckCookieName returns an error wrapping ErrConfig when sessions called
// name cannot work with the store's cookie attributes: a __Host- name needs
// Secure (no Config.Insecure), Path "/" and no Domain, a __Secure- name
// needs Secure. Call it at startup with the name given to
// sessions.Sessions, or set Config.CookieName, which NewStore checks.
// Without either, a bad name fails at its first request: Get, Save, Login
// and Logout return this error, and RequireAuth and Authenticate panic
// with it.
func (s *Store) CheckCookieName(name string) error {
	return checkName(name, s.defaults())
}

// MaxSessionsPerUser returns the number of sessions a user may have (see
// Config.MaxSessionsPerUser), or NoSessionLimit when there is no cap.
func (s *Store) MaxSessionsPerUser() int { return s.cfg.MaxSessionsPerUser }

// defaults returns the cookie attributes sessions start with.
func (s *Store) defaults() gsessions.Options { return *s.opts.Load() }

// Get returns the session called name for r, loading it from Redis at most
// once per request. It implements gorilla/sessions' Store. When Redis fails
// the session is empty and the error wraps ErrStoreUnavailable; such a
// session is never saved and never counts as logged in. Every Get of the
// request also returns the load's other errors: ErrDecode for a stored
// value that does not decode, an ErrConfig error for an unusable name.
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
// new one. It implements gorilla/sessions' Store; applications call Get (or
// sessions.Default) instead. A missing, forged, tampered, malformed or
// oversized cookie starts a new session without any Redis command, and an
// ID that has no live record is never adopted: the first write gets a new ID.
// Reading a live session refreshes its idle timeout in the same round trip
// when a refresh is due (at most once per min(1 s, IdleTimeout/60)); see
// the package documentation for what a read costs.
func (s *Store) New(r *http.Request, name string) (*gsessions.Session, error) {
	sess := gsessions.NewSession(s, name)
	st := &state{name: name, opts: s.defaults()}
	sess.Options = &st.opts
	sess.IsNew = true
	s.attach(r, sess, st)
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

// ttl returns the Redis TTL of a session created at created, at now:
// min(idle timeout, time left to the absolute deadline), at least 1 ms.
func (s *Store) ttl(remember bool, created, now int64) int64 {
	idle, abs := s.timeouts(remember)
	return max(min(idle, created+abs-now), 1)
}

func (s *Store) load(ctx context.Context, sess *gsessions.Session, st *state, id string) error {
	key := s.sessionKey(id)
	atRest := key[len(s.cfg.KeyPrefix):]
	now := s.now()
	res, status, err := s.read(ctx, key, atRest, now)
	if err != nil {
		st.loadErr = s.unavailable("loading session", err)
		return st.loadErr
	}
	if status == 0 {
		return nil // no live record: strict mode, a write gets a new ID
	}
	var decodeErr error
	for i := 0; i+1 < len(res); i += 2 {
		f, v := res[i], res[i+1]
		if isMeta(f) {
			st.setMeta(f, v)
			continue
		}
		if status != '1' {
			continue
		}
		k, err := decodeKey(f)
		if err == nil {
			var val any
			if val, err = decodeValue(v); err == nil {
				sess.Values[k] = val
				if st.fields == nil {
					st.fields = make(map[string]string)
				}
				st.fields[f] = v
				continue
			}
		}
		st.opaque++
		if decodeErr == nil {
			decodeErr = fmt.Errorf("ginsession: field %q: %w", f, err)
		}
	}
	st.atRest = atRest
	if status != '1' {
		st.expired = true
		s.emit(ctx, Event{Type: EventExpired, UserID: st.user, Session: s.ref(atRest), Reason: s.expiryReason(st, now)})
		st.user, st.fields = "", nil
		return nil
	}
	st.id, st.key, st.exists = id, key, true
	sess.ID = s.ref(atRest)
	sess.IsNew = false
	st.decodeErr = decodeErr
	return decodeErr
}

// Save writes the session to Redis. It implements gorilla/sessions' Store;
// applications call session.Save(). It writes only what changed: the fields
// that were set or changed and the deletion of the ones removed, together
// with the TTL, in one atomic round trip. A new session with no values is
// never written and sets no cookie; an existing anonymous session that
// becomes empty is deleted and its cookie expired; a logged-in session
// that is emptied is written (its login stays); an unchanged session is
// not rewritten. A new
// session (or one whose cookie named no live record) gets a new ID. A
// negative MaxAge in the session's options destroys it: the Redis key is
// deleted and the cookie expired with the same Path and Domain.
func (s *Store) Save(r *http.Request, w http.ResponseWriter, sess *gsessions.Session) error {
	st := s.stateOf(r.Context(), sess)
	if st == nil {
		return ErrNotLoaded
	}
	o, err := s.writable(sess, st)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if o.MaxAge < 0 {
		e, err := s.destroy(ctx, w, sess, st, Event{Type: EventDestroyed, Reason: "save"})
		if err == nil && e.UserID != "" {
			s.emit(ctx, e)
		}
		return err
	}
	fields, err := s.encode(sess.Values)
	if err != nil {
		return err
	}
	now := s.now()
	if !st.exists {
		if len(fields) == 0 {
			return nil
		}
		if err := s.create(ctx, w, sess, st, o, fields, now); err != nil {
			return err
		}
		s.warnPlainHTTP(r, nil, o.Secure)
		return nil
	}
	if st.user == "" && len(fields) == 0 && st.opaque == 0 {
		_, err := s.destroy(ctx, w, sess, st, Event{}) // anonymous: nothing to report
		return err
	}
	args := make([]any, 2, 2+len(st.fields)+2*len(fields)+2)
	args[0] = s.ttl(st.remember, st.created, now)
	ndel := 0
	for f := range st.fields {
		if _, ok := fields[f]; !ok {
			args = append(args, f)
			ndel++
		}
	}
	args[1] = ndel
	for f, v := range fields {
		if old, ok := st.fields[f]; !ok || old != v {
			args = append(args, f, v)
		}
	}
	if len(args) > 2 {
		args = append(args, metaLastSeen, now-st.created)
		n, err := runScript(ctx, s.rdb, updateScript, redis.NewIntCmd, []string{st.key}, args...).Result()
		if err != nil {
			err = s.unavailable("saving session", err)
			s.emit(ctx, Event{Type: EventStoreError, Err: err})
			return err
		}
		if n == 0 {
			st.exists, st.user = false, ""
			return ErrSessionGone
		}
		st.fields = fields
		st.seenAfter = now - st.created
	}
	if st.resign || o != s.defaults() {
		setCookie(w, cookie(st.name, s.sign(st.name, st.id), o, s.maxAge(o, st, now)))
		st.resign = false
		s.warnPlainHTTP(r, nil, o.Secure)
	}
	return nil
}

// writable returns the cookie attributes sess is written with, or the
// error that keeps it from being written: the one its load met (Redis
// failed, wrapping ErrStoreUnavailable: fail closed), or a cookie name
// that cannot work with those attributes (wrapping ErrConfig). Save and
// Login start with it.
func (s *Store) writable(sess *gsessions.Session, st *state) (gsessions.Options, error) {
	if st.loadErr != nil {
		return gsessions.Options{}, st.loadErr
	}
	o := s.sessionOptions(sess.Options)
	return o, checkName(st.name, o)
}

// encode encodes a session's values as its Redis hash fields, or returns
// an error wrapping ErrEncode, or ErrTooLarge above Config.MaxSessionBytes.
func (s *Store) encode(values map[any]any) (map[string]string, error) {
	fields, size, err := encodeValues(values)
	if err != nil {
		return nil, err
	}
	if size > s.cfg.MaxSessionBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, size, s.cfg.MaxSessionBytes)
	}
	return fields, nil
}

// maxAge returns the Max-Age of the cookie of st's session, sent with
// attributes o: the configured MaxAge (none for a browser-session cookie),
// or for a remembered session its whole lifetime, capped at the time left
// to the session's absolute deadline.
func (s *Store) maxAge(o gsessions.Options, st *state, now int64) int {
	_, abs := s.timeouts(st.remember)
	left := int((st.created + abs - now) / 1000)
	switch {
	case st.remember:
		return max(left, 1)
	case o.MaxAge <= 0:
		return 0
	}
	return max(min(o.MaxAge, left), 1)
}

// fresh is a session about to be written under a new ID: createScript's
// key and arguments.
type fresh struct {
	id, key, atRest string
	args            []any
}

// newFresh prepares the write of st's session under a new ID with fields
// plus the store's metadata, created at now.
func (s *Store) newFresh(st *state, fields map[string]string, now int64) fresh {
	id := newID()
	key := s.sessionKey(id)
	args := make([]any, 0, 1+2*len(fields)+10)
	args = append(args, s.ttl(st.remember, now, now), metaCreated, now, metaLastSeen, 0)
	if st.user != "" {
		args = append(args, metaUser, st.user, metaFP, st.fp, metaDevice, st.device)
	}
	if st.remember {
		args = append(args, metaRemember, "1")
	}
	for f, v := range fields {
		args = append(args, f, v)
	}
	return fresh{id: id, key: key, atRest: key[len(s.cfg.KeyPrefix):], args: args}
}

// adopt makes f, now written, the request's session, and sets its cookie.
func (s *Store) adopt(w http.ResponseWriter, sess *gsessions.Session, st *state, o gsessions.Options, f fresh, fields map[string]string, now int64) {
	st.id, st.atRest, st.key, st.exists = f.id, f.atRest, f.key, true
	st.created, st.seenAfter, st.fields, st.expired, st.resign = now, 0, fields, false, false
	sess.ID = s.ref(f.atRest)
	sess.IsNew = false
	setCookie(w, cookie(st.name, s.sign(st.name, f.id), o, s.maxAge(o, st, now)))
}

// create writes a new session under a new ID with fields plus the store's
// metadata, in one round trip, and sets its cookie.
func (s *Store) create(ctx context.Context, w http.ResponseWriter, sess *gsessions.Session, st *state,
	o gsessions.Options, fields map[string]string, now int64) error {
	f := s.newFresh(st, fields, now)
	n, err := runScript(ctx, s.rdb, createScript, redis.NewIntCmd, []string{f.key}, f.args...).Result()
	if err == nil && n != 1 {
		err = errors.New("the new session's key was taken") // only a tombstone can be there: never for a fresh ID
	}
	if err != nil {
		err = s.unavailable("creating session", err)
		s.emit(ctx, Event{Type: EventStoreError, Err: err})
		return err
	}
	s.adopt(w, sess, st, o, f, fields, now)
	return nil
}

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
