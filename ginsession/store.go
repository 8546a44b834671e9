package ginsession

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	gsessions "github.com/gorilla/sessions"
	"github.com/redis/go-redis/v9"

	"github.com/sessionshield/sessionshield/fingerprint"
)

// Compile-time check: a *Store is a gin-contrib/sessions Store.
var _ sessions.Store = (*Store)(nil)

// The defaults of Config, chosen to be safe with no configuration (see the
// README for the reasoning and sources).
const (
	DefaultKeyPrefix       = "sess:"
	DefaultIdleTimeout     = 30 * time.Minute
	DefaultAbsoluteTimeout = 24 * time.Hour
	DefaultMaxSessionBytes = 4096
	// DefaultMaxSessionsPerUser is the number of live sessions a user may
	// have when Config.MaxSessionsPerUser is 0.
	DefaultMaxSessionsPerUser = 10
	// NoSessionLimit, as Config.MaxSessionsPerUser, lets a user have any
	// number of sessions.
	NoSessionLimit = -1
	// MinSecretLen is the shortest secret NewStore accepts, in bytes.
	MinSecretLen = 32
)

// Config configures a Store. The zero Config with Secrets set is the
// hardened default: no other field has to be set to be safe.
type Config struct {
	// Secrets sign session cookies and key the fingerprints, newest
	// first: the first signs, every one verifies. Key rotation: put the new
	// secret first. RequireAuth re-signs a cookie an old secret signed and
	// stores the session's fingerprint again with the new key (Save
	// re-signs the cookie too), so once IdleTimeout has passed every live
	// session whose requests go through RequireAuth is on the new secret,
	// and the old one can be dropped; AbsoluteTimeout after the rotation no
	// session from before it is left at all. Each
	// must be at least 32 random bytes (openssl rand -base64 48), from a
	// secret store, never generated at startup; NewStore refuses one that
	// is obviously not random (see CheckSecret). Required.
	Secrets [][]byte

	// KeyPrefix is put in front of every Redis key the store writes.
	// A session lives at <KeyPrefix><base64url(SHA-256(ID))>, a user's
	// session index at <KeyPrefix>u:<userID>. Default: "sess:".
	KeyPrefix string

	// IdleTimeout ends a session that saw no request for this long.
	// Default: 30 minutes.
	IdleTimeout time.Duration

	// AbsoluteTimeout ends a session this long after it was created (for a
	// logged-in session: after the login), however active it is. It is also
	// the cookie's Max-Age (see BrowserSessionCookie). Default: 24 hours.
	AbsoluteTimeout time.Duration

	// Insecure drops the Secure cookie attribute, for plain-http development
	// only. It cannot be combined with a __Host- or __Secure- cookie name.
	// Default: false (Secure is always set, never derived from the request).
	Insecure bool

	// SameSite is http.SameSiteStrictMode or http.SameSiteLaxMode.
	// SameSiteNoneMode is refused. Default: Strict.
	SameSite http.SameSite

	// Domain is the cookie's Domain attribute. Default: none (host-only),
	// which a __Host- cookie name requires.
	Domain string

	// BrowserSessionCookie sends the cookie without Max-Age, so the browser
	// drops it when it closes (browsers that restore sessions keep it). The
	// session still ends at IdleTimeout and AbsoluteTimeout. Default: false,
	// Max-Age is AbsoluteTimeout.
	BrowserSessionCookie bool

	// CookieName, when set, is the name the application gives to
	// sessions.Sessions: NewStore returns an error wrapping ErrConfig when
	// the other settings make it unusable (a __Host- name with Insecure or
	// a Domain, a __Secure- name with Insecure), instead of failing at the
	// first request, and store.Options panics when it would. The store
	// serves any name whether or not this is set. Default: "" (use
	// Store.CheckCookieName to check a name at startup).
	CookieName string

	// MaxSessionBytes caps the encoded size of a session's values; Save
	// returns ErrTooLarge above it. Default: 4096.
	MaxSessionBytes int

	// MaxSessionsPerUser caps the sessions a user may have: a Login that
	// would leave the user with more ends the oldest ones, by login time
	// (to the second; the order of sessions that began within the same
	// second is arbitrary), never the session it creates. Each ended
	// session is reported as EventRevoked with Reason "session-limit" and
	// gets 401 on its next request. The count is of the user's index
	// entries: a session that ended without leaving it (one that idled out
	// and was never logged out) counts until its absolute deadline or until
	// UserSessions or RevokeUser finds it gone (once it is 10 seconds old).
	// NoSessionLimit removes the cap; other
	// negative values are refused. Default (0): DefaultMaxSessionsPerUser,
	// 10.
	MaxSessionsPerUser int

	// Fingerprint chooses what Login binds a session to and what a mismatch
	// does. Default: User-Agent (hard), Accept-Language (soft), IP off.
	Fingerprint fingerprint.Config

	// Logger receives the security events (login, logout, fingerprint
	// mismatch, expiry, revocation, store errors). Events never carry a
	// session ID, a cookie value or a raw header. Default: slog.Default().
	Logger *slog.Logger

	// OnEvent, when set, is called with every security event too, for
	// metrics or alerting. It runs in the request's goroutine.
	OnEvent func(Event)

	// ClientIP returns the client address the fingerprint binds when
	// Fingerprint.ClientIP is on. Default: the peer's address
	// (c.RemoteIP()), never a forwarding header. Behind a reverse proxy,
	// call engine.SetTrustedProxies with the proxies' addresses and set
	// ClientIP to (*gin.Context).ClientIP: Gin believes X-Forwarded-For
	// from every peer until SetTrustedProxies is called, which would let a
	// thief claim the victim's address.
	ClientIP func(*gin.Context) string

	// Now returns the current time. Default: time.Now. Tests inject a clock.
	Now func() time.Time
}

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
	idleMS     int64
	absMS      int64
	idleArg    any // idleMS, absMS and refreshEvery as script arguments, boxed once
	absArg     any
	everyArg   any
	everyMS    int64
	macs       []*sync.Pool         // one pool of HMAC states per cookie key
	memo       refreshMemo          // when recently read sessions last had their activity written
	memoOff    bool                 // reads may go to replicas: always run loadScript, on the primary
	cluster    *redis.ClusterClient // rdb, when it is one: see reloadAfter
	nextReload atomic.Int64         // when reloadAfter may next ask for a reload, in Unix ns
	warned     sync.Map             // "source option" keys of the cookie options already warned about
}

// NewStore returns a Store that keeps sessions in rdb. It returns an error
// that says what to fix when cfg is not safe to run with.
func NewStore(rdb redis.UniversalClient, cfg Config) (*Store, error) {
	if rdb == nil {
		return nil, ErrNoClient
	}
	if len(cfg.Secrets) == 0 {
		return nil, ErrNoSecret
	}
	for i, sec := range cfg.Secrets {
		if err := secretError(sec, "secret "+strconv.Itoa(i)); err != nil {
			return nil, err
		}
	}
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = DefaultKeyPrefix
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.AbsoluteTimeout == 0 {
		cfg.AbsoluteTimeout = DefaultAbsoluteTimeout
	}
	switch {
	case cfg.IdleTimeout < time.Millisecond:
		return nil, fmt.Errorf("%w: IdleTimeout must be at least 1ms, got %v", ErrConfig, cfg.IdleTimeout)
	case cfg.AbsoluteTimeout < time.Millisecond:
		return nil, fmt.Errorf("%w: AbsoluteTimeout must be at least 1ms, got %v", ErrConfig, cfg.AbsoluteTimeout)
	case cfg.IdleTimeout > cfg.AbsoluteTimeout:
		return nil, fmt.Errorf("%w: IdleTimeout (%v) must not exceed AbsoluteTimeout (%v)", ErrConfig, cfg.IdleTimeout, cfg.AbsoluteTimeout)
	}
	switch cfg.SameSite {
	case 0:
		cfg.SameSite = http.SameSiteStrictMode
	case http.SameSiteStrictMode, http.SameSiteLaxMode:
	case http.SameSiteNoneMode:
		return nil, fmt.Errorf("%w: SameSite=None is refused: it sends the session cookie on cross-site requests; use Strict or Lax", ErrConfig)
	default:
		return nil, fmt.Errorf("%w: SameSite must be http.SameSiteStrictMode or http.SameSiteLaxMode", ErrConfig)
	}
	if cfg.MaxSessionBytes == 0 {
		cfg.MaxSessionBytes = DefaultMaxSessionBytes
	}
	if cfg.MaxSessionBytes < 0 {
		return nil, fmt.Errorf("%w: MaxSessionBytes must not be negative", ErrConfig)
	}
	switch {
	case cfg.MaxSessionsPerUser == 0:
		cfg.MaxSessionsPerUser = DefaultMaxSessionsPerUser
	case cfg.MaxSessionsPerUser < 0 && cfg.MaxSessionsPerUser != NoSessionLimit:
		return nil, fmt.Errorf("%w: MaxSessionsPerUser must be positive, 0 for the default (%d) or NoSessionLimit, got %d",
			ErrConfig, DefaultMaxSessionsPerUser, cfg.MaxSessionsPerUser)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	fp, err := fingerprint.New(cfg.Secrets, cfg.Fingerprint)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	s := &Store{
		rdb:    rdb,
		cfg:    cfg,
		fp:     fp,
		log:    cfg.Logger,
		idleMS: cfg.IdleTimeout.Milliseconds(),
		absMS:  cfg.AbsoluteTimeout.Milliseconds(),
	}
	for _, sec := range cfg.Secrets {
		s.cookieKeys = append(s.cookieKeys, derive(sec, "sessionshield/cookie/v1"))
	}
	s.everyMS = refreshEvery(s.idleMS)
	s.idleArg, s.absArg, s.everyArg = s.idleMS, s.absMS, s.everyMS
	s.memo.base = s.now() - 1<<(memoTimeBits-1) // room for clocks on either side
	s.memoOff = readsFromReplicas(rdb)
	s.cluster, _ = rdb.(*redis.ClusterClient)
	for _, k := range s.cookieKeys {
		s.macs = append(s.macs, newMACPool(k))
	}
	opts := defaultOptions(&cfg)
	if cfg.CookieName != "" {
		if err := checkName(cfg.CookieName, opts); err != nil {
			return nil, err
		}
	}
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
// Without either, a bad name fails at its first request: Save and Login
// return this error, and RequireAuth panics with it.
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
// session is never saved and never counts as logged in.
func (s *Store) Get(r *http.Request, name string) (*gsessions.Session, error) {
	if sess, st := loaded(r.Context(), s, name); sess != nil {
		return sess, st.loadErr
	}
	return s.New(r, name)
}

// New loads the session called name from the request's cookie, or starts a
// new one. It implements gorilla/sessions' Store; applications call Get (or
// sessions.Default) instead. A missing, forged, tampered, malformed or
// oversized cookie starts a new session without any Redis command, and an
// ID that has no live record is never adopted: the first write gets a new ID.
// Reading a live session refreshes its idle timeout in the same round trip.
func (s *Store) New(r *http.Request, name string) (*gsessions.Session, error) {
	sess := gsessions.NewSession(s, name)
	st := &state{name: name, opts: s.defaults()}
	sess.Options = &st.opts
	sess.IsNew = true
	s.attach(r, sess, st)
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

// loadScript reads a session and, if it is live, refreshes its last-seen
// time (_a, in ms after the creation time _c) and its TTL in the same round
// trip. The timeouts are checked here too, with the application's clock, so
// a stale TTL never keeps a session alive: an expired session is deleted.
// The refresh is written at most once per refreshEvery: a busy session does
// not write on every read, and may end up to that much before its idle
// timeout, never after.
//
// The reply is the hash's fields and values followed by a status: "1" live,
// "2" expired and deleted. A missing session replies an empty array.
var loadScript = redis.NewScript(loadSource)

const loadSource = `
local v = redis.call('HGETALL', KEYS[1])
if #v == 0 then return v end
local c, a
for i = 1, #v, 2 do
  if v[i] == '_c' then c = tonumber(v[i+1]) elseif v[i] == '_a' then a = tonumber(v[i+1]) end
end
local now, idle, abs, every = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local status = '1'
if c == nil or a == nil or now - (c + a) >= idle or now - c >= abs then
  redis.call('DEL', KEYS[1])
  status = '2'
elseif now - (c + a) >= every then
  local ttl = c + abs - now
  if idle < ttl then ttl = idle end
  redis.pcall('HSET', KEYS[1], '_a', string.format('%d', now - c)) -- refused when Redis is out of memory: the read still succeeds
  redis.call('PEXPIRE', KEYS[1], ttl)
end
v[#v + 1] = status
return v
`

// createScript writes a new session and its TTL atomically. Fields go to
// HSET 500 pairs at a time: Lua's unpack cannot spread more than a few
// thousand values.
var createScript = redis.NewScript(`
for i = 2, #ARGV, 1000 do
  redis.call('HSET', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`)

// updateScript writes the fields of a session that changed, deletes the ones
// that were removed and sets the TTL, atomically, and only if the session
// still exists: a save that races a logout never recreates the session.
var updateScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local n = tonumber(ARGV[2])
for i = 3, 2 + n, 1000 do
  redis.call('HDEL', KEYS[1], unpack(ARGV, i, math.min(i + 999, 2 + n)))
end
for i = 3 + n, #ARGV, 1000 do
  redis.call('HSET', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`)

func (s *Store) now() int64 { return s.cfg.Now().UnixMilli() }

// refreshEvery returns how often, in ms, reads of a session write its last
// activity and TTL: 1/60 of the idle timeout, at most one second.
func refreshEvery(idleMS int64) int64 { return min(idleMS/60, 1000) }

// sessionKey returns the Redis key of the session with ID id:
// <KeyPrefix><base64url(SHA-256(id))>, built in one allocation.
func (s *Store) sessionKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	var enc [idLen]byte
	b64.Encode(enc[:], sum[:])
	var b strings.Builder
	b.Grow(len(s.cfg.KeyPrefix) + idLen)
	b.WriteString(s.cfg.KeyPrefix)
	b.Write(enc[:])
	return b.String()
}

// hashKey returns the Redis key of the session whose at-rest hash is hash.
func (s *Store) hashKey(hash string) string { return s.cfg.KeyPrefix + hash }

func (s *Store) userKey(userID string) string { return s.cfg.KeyPrefix + "u:" + userID }

// ttl returns the Redis TTL of a session created at created, at now:
// min(idle timeout, time left to the absolute deadline), at least 1 ms.
func (s *Store) ttl(created, now int64) int64 {
	t := min(s.idleMS, created+s.absMS-now)
	return max(t, 1)
}

// ref returns the opaque, non-secret reference of a session: what logs,
// events, Session.ID and the sessions list show instead of the ID. It is
// the first 16 characters (96 bits) of the at-rest name, base64url(SHA-256
// (ID)): it cannot be turned back into the ID, and costs nothing to compute
// on every load (a keyed hash would add nothing: the ID has 256 random bits
// and the at-rest name is no secret).
func (s *Store) ref(atRest string) string { return atRest[:refLen] }

// refLen is the length of a session reference.
const refLen = 16

// runLoad runs loadScript on key. It reads the reply as a plain []string
// (go-redis's generic script reply boxes every element in an interface),
// and sends the script's source when the server does not have it cached
// (EVALSHA, then EVAL on NOSCRIPT, as redis.Script.Run does; EVAL caches it).
func (s *Store) runLoad(ctx context.Context, key string, now int64) ([]string, error) {
	cmd := redis.NewStringSliceCmd(ctx, "evalsha", loadScript.Hash(), 1, key, now, s.idleArg, s.absArg, s.everyArg)
	_ = s.rdb.Process(ctx, cmd)
	if err := cmd.Err(); err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		cmd = redis.NewStringSliceCmd(ctx, "eval", loadSource, 1, key, now, s.idleArg, s.absArg, s.everyArg)
		_ = s.rdb.Process(ctx, cmd)
	}
	res, err := cmd.Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	return res, nil
}

// read returns a session's fields and values, and its status: '1' live,
// '2' expired (and now deleted), 0 no record. It costs one round trip: a
// plain HGETALL when the memo says the session's activity was written less
// than refreshEvery ago, so there is probably nothing to refresh;
// loadScript otherwise. The HGETALL's answer stands only if the session's
// own times say what loadScript would: live, and last active less than
// refreshEvery ago (no slide due). Anything else (expired, a slide due,
// missing or malformed times) goes through loadScript, which deletes an
// expired session: a second round trip. It is rare: for a live session it
// takes a memo that was wrong (a tag collision, one in 2^23, or an activity
// write that Redis refused when out of memory).
func (s *Store) read(ctx context.Context, key, hash string, now int64) ([]string, byte, error) {
	if !s.memoOff && s.memo.fresh(hash, now, s.everyMS) {
		// HGetAll's map, not a []string: over RESP3 the reply is a map.
		m, err := s.rdb.HGetAll(ctx, key).Result()
		if err != nil {
			return nil, 0, err
		}
		if len(m) == 0 {
			return nil, 0, nil
		}
		res := make([]string, 0, 2*len(m)) // one allocation, so load reads both paths alike
		for f, v := range m {
			res = append(res, f, v)
		}
		if c, a, ok := metaTimes(res); ok && now-(c+a) < s.everyMS && now-c < s.absMS { // everyMS <= idleMS: not idle either
			return res, '1', nil
		}
	}
	res, err := s.runLoad(ctx, key, now)
	if err != nil {
		return nil, 0, err
	}
	if len(res)%2 != 1 || len(res[len(res)-1]) != 1 {
		return nil, 0, nil
	}
	status := res[len(res)-1][0]
	res = res[:len(res)-1]
	if c, a, ok := metaTimes(res); ok && status == '1' {
		last := c + a // what loadScript did: refreshed now, or left as is
		if now-last >= s.everyMS {
			last = now
		}
		s.memo.record(hash, last)
	}
	return res, status, nil
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

// metaTimes returns the creation time and the last activity (ms after it)
// from a session's fields and values.
func metaTimes(res []string) (created, seenAfter int64, ok bool) {
	var hasC, hasA bool
	for i := 0; i+1 < len(res); i += 2 {
		switch res[i] {
		case metaCreated:
			var err error
			created, err = strconv.ParseInt(res[i+1], 10, 64)
			hasC = err == nil
		case metaLastSeen:
			var err error
			seenAfter, err = strconv.ParseInt(res[i+1], 10, 64)
			hasA = err == nil
		}
	}
	return created, seenAfter, hasC && hasA
}

func (s *Store) load(ctx context.Context, sess *gsessions.Session, st *state, id string) error {
	key := s.sessionKey(id)
	hash := key[len(s.cfg.KeyPrefix):]
	now := s.now()
	res, status, err := s.read(ctx, key, hash, now)
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
	st.hash = hash
	if status != '1' {
		st.expired = true
		s.emit(ctx, Event{Type: EventExpired, UserID: st.user, Session: s.ref(hash)})
		st.user, st.fields = "", nil
		return nil
	}
	st.id, st.key, st.exists = id, key, true
	sess.ID = s.ref(hash)
	sess.IsNew = false
	return decodeErr
}

// Save writes the session to Redis. It implements gorilla/sessions' Store;
// applications call session.Save(). It writes only what changed: the fields
// that were set or changed and the deletion of the ones removed, together
// with the TTL, in one atomic round trip. A session with no values is never
// written and sets no cookie; an unchanged session is not rewritten. A new
// session (or one whose cookie named no live record) gets a new ID. A
// negative MaxAge in the session's options destroys it: the Redis key is
// deleted and the cookie expired with the same Path and Domain.
func (s *Store) Save(r *http.Request, w http.ResponseWriter, sess *gsessions.Session) error {
	st := s.stateOf(r.Context(), sess)
	if st == nil {
		return ErrNotLoaded
	}
	if st.loadErr != nil {
		return fmt.Errorf("ginsession: not saved, the session could not be loaded: %w", st.loadErr)
	}
	d := s.defaults()
	o := s.sessionOptions(sess.Options)
	if err := checkName(st.name, o); err != nil {
		return err
	}
	ctx := r.Context()
	if o.MaxAge < 0 {
		return s.destroy(ctx, w, sess, st, "save")
	}
	fields, size, err := encodeValues(sess.Values)
	if err != nil {
		return err
	}
	if size > s.cfg.MaxSessionBytes {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, size, s.cfg.MaxSessionBytes)
	}
	now := s.now()
	if !st.exists {
		if len(fields) == 0 {
			return nil
		}
		return s.create(ctx, w, sess, st, o, fields, now, nil)
	}
	if st.user == "" && len(fields) == 0 && st.opaque == 0 {
		return s.destroy(ctx, w, sess, st, "empty")
	}
	args := make([]any, 2, 2+len(st.fields)+2*len(fields)+2)
	args[0] = s.ttl(st.created, now)
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
		n, err := updateScript.Run(ctx, s.rdb, []string{st.key}, args...).Int()
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
	if st.resign || o != d {
		setCookie(w, cookie(st.name, s.sign(st.name, st.id), o, s.maxAge(o, st.created, now)))
		st.resign = false
	}
	return nil
}

// maxAge returns the Max-Age of a session cookie: the configured MaxAge,
// capped at the time left to the session's absolute deadline.
func (s *Store) maxAge(o gsessions.Options, created, now int64) int {
	if o.MaxAge <= 0 {
		return 0
	}
	left := int((created + s.absMS - now) / 1000)
	return max(min(o.MaxAge, left), 1)
}

// evalFunc queues a Lua script in a pipeline: by its SHA1 (EVALSHA) or
// with its source (EVAL), as the pipeline's run decides.
type evalFunc func(script *redis.Script, keys []string, args ...any) *redis.Cmd

// create writes a new session under a new ID with fields plus the store's
// metadata, and sets its cookie. pre, when set, adds commands to the same
// pipeline, one round trip (Login uses it to delete the old session, index
// the new one and learn which sessions exceed the cap), and runs its
// scripts with eval. They are queued after the new session's write, so on
// a single node (Redis runs one connection's commands in order) the
// session exists by the time its index entry can be seen: a concurrent
// Login that ends it as beyond the cap, or UserSessions, never finds it
// missing and drops a live session's entry. On a Cluster each node's share
// runs in parallel, so that order is not guaranteed there, and a partial
// failure can leave an index entry without a session (pruned later) or a
// session key with no cookie (it expires), never a usable session.
func (s *Store) create(ctx context.Context, w http.ResponseWriter, sess *gsessions.Session, st *state,
	o gsessions.Options, fields map[string]string, now int64, pre func(p redis.Pipeliner, hash string, eval evalFunc)) error {
	id := newID()
	key := s.sessionKey(id)
	hash := key[len(s.cfg.KeyPrefix):]
	args := make([]any, 0, 1+2*len(fields)+10)
	args = append(args, s.ttl(now, now), metaCreated, now, metaLastSeen, 0)
	if st.user != "" {
		args = append(args, metaUser, st.user, metaFP, st.fp, metaDevice, st.device)
	}
	for f, v := range fields {
		args = append(args, f, v)
	}
	var err error
	if pre == nil {
		err = createScript.Run(ctx, s.rdb, []string{key}, args...).Err()
	} else {
		run := func(sha bool) error {
			_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				eval := func(script *redis.Script, keys []string, args ...any) *redis.Cmd {
					if sha {
						return script.EvalSha(ctx, p, keys, args...)
					}
					return script.Eval(ctx, p, keys, args...)
				}
				eval(createScript, []string{key}, args...)
				pre(p, hash, eval)
				return nil
			})
			return err
		}
		// Every command and script of the pipeline is idempotent, so a
		// server without a script cached gets the whole pipeline again,
		// with the sources.
		if err = run(true); err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			err = run(false)
		}
	}
	if err != nil {
		err = s.unavailable("creating session", err)
		s.emit(ctx, Event{Type: EventStoreError, Err: err})
		return err
	}
	st.id, st.hash, st.key, st.exists = id, hash, key, true
	st.created, st.seenAfter, st.fields, st.expired, st.resign = now, 0, fields, false, false
	sess.ID = s.ref(hash)
	sess.IsNew = false
	setCookie(w, cookie(st.name, s.sign(st.name, id), o, s.maxAge(o, now, now)))
	return nil
}

// destroy deletes the session from Redis and from its user's index, and
// expires the cookie with the same Path and Domain.
func (s *Store) destroy(ctx context.Context, w http.ResponseWriter, sess *gsessions.Session, st *state, reason string) error {
	user, ref := st.user, ""
	if st.exists {
		ref = s.ref(st.hash)
	}
	if err := s.destroyQuiet(ctx, w, sess, st); err != nil {
		return err
	}
	if user != "" {
		s.emit(ctx, Event{Type: EventDestroyed, UserID: user, Session: ref, Reason: reason})
	}
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
