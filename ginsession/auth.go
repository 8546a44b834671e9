package ginsession

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	gsessions "github.com/gorilla/sessions"
	"github.com/redis/go-redis/v9"

	"github.com/sessionshield/sessionshield/fingerprint"
)

// userIDKey is the gin.Context key under which RequireAuth and Login put
// the user ID.
const userIDKey = "github.com/sessionshield/sessionshield/ginsession.userID"

// maxUserIDLen is the longest user ID Login accepts, in bytes.
const maxUserIDLen = 256

// The JSON bodies of RequireAuth's refusals. They are the same bytes
// whatever check failed within a kind, and never name a field.
var (
	bodyNotLoggedIn  = gin.H{"error": "not logged in"}
	bodyInvalid      = gin.H{"error": "session invalid"}
	bodyExpired      = gin.H{"error": "session expired"}
	bodyUnavailable  = gin.H{"error": "session store unavailable"}
	bodyReauthNeeded = gin.H{"error": "reauthentication required"}
)

// sessionNameKey is the gin.Context key under which RequireAuth and
// UseSession record which session of sessions.SessionsMany the helpers use.
const sessionNameKey = "github.com/sessionshield/sessionshield/ginsession.name"

// UseSession returns a middleware that makes Login, Logout and
// RequireFreshAuth use the session called name, for routes behind
// sessions.SessionsMany. RequireAuth(WithSessionName(name)) does the same
// for the routes it guards.
func UseSession(name string) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Set(sessionNameKey, name)
		c.Next()
	}
}

// current finds the session that sessions.Sessions registered for c (for
// sessions.SessionsMany, the one named by name, or else by UseSession or
// RequireAuth), loading it if nothing has yet.
func current(c *gin.Context, name string) (*Store, *gsessions.Session, *state, error) {
	v, ok := c.Get(sessions.DefaultKey)
	if !ok {
		return nil, nil, nil, ErrNoSessionMiddleware
	}
	var gs sessions.Session
	switch x := v.(type) {
	case sessions.Session:
		gs = x
	case map[string]sessions.Session:
		if name == "" {
			name = c.GetString(sessionNameKey)
		}
		gs = x[name]
		if gs == nil {
			return nil, nil, nil, fmt.Errorf("%w: behind sessions.SessionsMany, name the session with ginsession.UseSession or WithSessionName", ErrNoSessionMiddleware)
		}
	}
	inner, ok := gs.(interface{ Session() *gsessions.Session })
	if !ok {
		return nil, nil, nil, ErrNoSessionMiddleware
	}
	sess := inner.Session()
	if sess == nil {
		return nil, nil, nil, ErrNoSessionMiddleware
	}
	s, ok := sess.Store().(*Store)
	if !ok {
		return nil, nil, nil, ErrNoSessionMiddleware
	}
	st := s.stateOf(c.Request.Context(), sess)
	if st == nil {
		return nil, nil, nil, ErrNotLoaded
	}
	return s, sess, st, nil
}

// Login starts an authenticated session for userID. It issues a new
// session ID and destroys the pre-login session in Redis, so a session ID
// planted before login (fixation) is worthless after it. The values of an
// anonymous pre-login session (a cart, say), or of the same user's, carry
// over; those of another user's session do not. It stores the user ID, the
// authentication time and the browser's fingerprint, adds the session to
// the user's index and sets the cookie, in one Redis round trip of its own
// (a request that carried a session cookie has paid one more to load it,
// as any handler that reads the session does). When the pre-login session
// was itself logged in, its entry leaves its user's index in a second
// round trip, only once its DEL has succeeded, so a failure never leaves
// it alive and unlisted (see RevokeUser).
//
// When the login leaves the user with more sessions than
// Config.MaxSessionsPerUser, Login ends the oldest ones (never the new
// session; the pre-login session it replaces does not count), each
// reported as EventRevoked with Reason "session-limit": two more round
// trips, the sessions' DELs and then the removal of their index entries,
// only for those whose DEL succeeded. When that fails, Login still succeeds (the
// new session exists), reports a store error, and the sessions it did not
// end stay listed, so the user's next Login or a RevokeUser ends them.
//
// Call it after the application has checked the credentials. On error
// nothing is logged in and no cookie is set: answer 503 when the error wraps
// ErrStoreUnavailable. The pre-login session is then either deleted or
// still listed in its user's index.
func Login(c *gin.Context, userID string) error {
	if userID == "" || len(userID) > maxUserIDLen {
		return ErrInvalidUserID
	}
	s, sess, st, err := current(c, "")
	if err != nil {
		return err
	}
	if st.loadErr != nil {
		return st.loadErr
	}
	d := s.defaults()
	o := s.sessionOptions(sess.Options)
	if err := checkName(st.name, o); err != nil {
		return err
	}
	if st.exists && st.user != "" && st.user != userID {
		resetValues(sess, st) // another user's values never reach this one
	}
	fields, size, err := encodeValues(sess.Values)
	if err != nil {
		return err
	}
	if size > s.cfg.MaxSessionBytes {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, size, s.cfg.MaxSessionBytes)
	}
	if o.MaxAge < 0 {
		o.MaxAge = d.MaxAge
		sess.Options.MaxAge = o.MaxAge
	}
	old := *st
	now := s.now()
	idx := s.userKey(userID)
	st.user = userID
	st.fp = s.fp.Compute(c.Request, s.clientIP(c))
	st.device = fingerprint.DeviceCode(c.Request.UserAgent())
	ctx := c.Request.Context()
	replaced := "" // the pre-login session's entry in this user's index: it leaves, so it does not count
	if old.exists && old.user == userID {
		replaced = indexMember(old.hash)
	}
	var delOld *redis.IntCmd
	var added *redis.Cmd
	err = s.create(ctx, c.Writer, sess, st, o, fields, now, func(p redis.Pipeliner, hash string, eval evalFunc) {
		if old.exists {
			delOld = p.Del(ctx, old.key)
		}
		added = eval(indexScript, []string{idx}, now/1000, deadlineSeconds(now+s.absMS), indexMember(hash),
			s.absMS, s.cfg.MaxSessionsPerUser, replaced)
	})
	if err != nil {
		*st = old
		return err
	}
	if old.exists && old.user != "" && delOld.Err() == nil {
		s.unindex(ctx, old.user, indexMember(old.hash)) // only now that its DEL has succeeded
	}
	c.Set(userIDKey, userID)
	s.emit(ctx, Event{Type: EventLogin, UserID: userID, Session: s.ref(st.hash)})
	if excess, _ := added.StringSlice(); len(excess) > 1 {
		hashes, scores := make([]string, len(excess)/2), make([]float64, len(excess)/2)
		for i := range hashes {
			hashes[i] = memberHash(excess[2*i])
			scores[i], _ = strconv.ParseFloat(excess[2*i+1], 64)
		}
		if _, err := s.endIndexed(ctx, userID, hashes, scores, "session-limit"); err != nil {
			// The new session exists; the ones not ended are still listed,
			// so the next Login or a RevokeUser ends them.
			s.emit(ctx, Event{Type: EventStoreError, UserID: userID, Err: fmt.Errorf("enforcing the session limit: %w", err)})
		}
	}
	return nil
}

// indexScript adds a new session to its user's index (KEYS[1]) and returns
// the entries beyond the user's cap, oldest first, as member and score
// pairs, without removing them: Login ends those sessions, and each entry
// leaves the index only once its session's DEL has succeeded. It first
// prunes the entries whose absolute deadline has passed, and sets the
// index's TTL to the new session's lifetime, the longest of any. ARGV: the
// current time in seconds, the new entry's score (its absolute deadline in
// seconds) and member, the TTL in ms, the cap (negative: none), and the
// member of the pre-login session that this login replaces, or "". The new
// and the replaced entries are never returned and the replaced one does
// not count. Entries with equal scores are ordered by member, which is
// random. It touches only the index key, so it runs on a Cluster too, and
// calls only commands the README's least-privilege ACL allows. It reads
// the whole index, which the cap keeps short.
var indexScript = redis.NewScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
local cap = tonumber(ARGV[5])
if cap < 0 then return {} end
local all = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local excess = #all / 2 - cap
for i = 1, #all, 2 do
  if all[i] == ARGV[6] then excess = excess - 1 end
end
local out = {}
for i = 1, #all, 2 do
  if #out >= 2 * excess then break end
  if all[i] ~= ARGV[3] and all[i] ~= ARGV[6] then
    out[#out + 1] = all[i]
    out[#out + 1] = all[i + 1]
  end
end
return out
`)

// Logout ends the current session: it deletes it in Redis, then removes
// it from the user's index (only once the DEL has succeeded), and expires
// the cookie with the same attributes. Without a session it only expires
// the cookie. It sends no Clear-Site-Data header: "cookies" would clear
// every cookie of the registrable domain (other subdomains' and, on an IP
// address, other ports'), and Chromium ignores every Set-Cookie of a
// response that carries it, so a login in the same response would be lost.
// When Redis cannot be reached it returns an error wrapping
// ErrStoreUnavailable and leaves the cookie alone, so the user can try
// again (the session would otherwise live on in Redis with no way to end
// it from this browser): answer 503. The session is then still listed in
// the user's index, so RevokeUser ends it too.
func Logout(c *gin.Context) error {
	s, sess, st, err := current(c, "")
	if err != nil {
		return err
	}
	if st.loadErr != nil {
		return st.loadErr
	}
	user, ref := st.user, ""
	if st.exists {
		ref = s.ref(st.hash)
	}
	st.hadCookie = true // always expire the cookie on logout
	if err := s.destroyQuiet(c.Request.Context(), c.Writer, sess, st); err != nil {
		return err
	}
	c.Set(userIDKey, "")
	if user != "" {
		s.emit(c.Request.Context(), Event{Type: EventLogout, UserID: user, Session: ref, Reason: "logout"})
	}
	return nil
}

// destroyQuiet is destroy without the generic "destroyed" event, for
// callers that report a more specific one. When Redis fails it changes
// nothing and returns the error.
func (s *Store) destroyQuiet(ctx context.Context, w http.ResponseWriter, sess *gsessions.Session, st *state) error {
	if err := s.destroyKeys(ctx, st.key, st.hash, st.user, st.exists); err != nil {
		s.emit(ctx, Event{Type: EventStoreError, Err: err})
		return err
	}
	if st.exists || st.hadCookie {
		setCookie(w, expiredCookie(st.name, s.sessionOptions(sess.Options)))
	}
	st.exists, st.user, st.fields, st.id = false, "", nil, ""
	resetValues(sess, st)
	sess.ID = ""
	sess.IsNew = true
	return nil
}

// destroyKeys ends a session: it deletes the session's key and, only once
// that DEL has succeeded, removes the session's entry from its user's
// index. The two keys may live on different Cluster nodes, which fail
// independently; in this order a failure can leave an index entry naming a
// session that has ended (harmless: UserSessions prunes it, RevokeUser
// counts it as already ended), never a live session that nothing lists.
// A DEL that fails leaves the session listed, so a retry, RevokeSession or
// RevokeUser finds it. It costs two round trips for a logged-in session.
func (s *Store) destroyKeys(ctx context.Context, key, hash, user string, exists bool) error {
	if !exists {
		return nil
	}
	if err := s.rdb.Del(ctx, key).Err(); err != nil {
		return s.unavailable("destroying session", err)
	}
	if user != "" {
		s.unindex(ctx, user, indexMember(hash))
	}
	return nil
}

// unindex removes the entries of sessions whose DEL has succeeded from
// user's index. It is best effort: an entry it leaves behind names a key
// that no longer exists, which UserSessions prunes when it finds it and
// the entry's score drops at the session's absolute deadline.
func (s *Store) unindex(ctx context.Context, user string, members ...any) {
	if err := s.rdb.ZRem(ctx, s.userKey(user), members...).Err(); err != nil {
		s.reloadAfter(err)
	}
}

// clientIP returns the client address the fingerprint binds, or "" when it
// binds none (resolving it costs allocations on every request): by default
// the peer's address (c.RemoteIP), never a forwarding header, because Gin
// believes X-Forwarded-For from every peer until the application calls
// engine.SetTrustedProxies. Config.ClientIP replaces it behind proxies.
func (s *Store) clientIP(c *gin.Context) string {
	if s.cfg.Fingerprint.ClientIP == fingerprint.Default || s.cfg.Fingerprint.ClientIP == fingerprint.Off {
		return ""
	}
	if s.cfg.ClientIP != nil {
		return s.cfg.ClientIP(c)
	}
	return c.RemoteIP()
}

// AuthOption configures RequireAuth.
type AuthOption func(*authConfig)

type authConfig struct {
	name string
}

// WithSessionName makes RequireAuth use the session called name, for
// routes behind sessions.SessionsMany; Login, Logout and RequireFreshAuth
// on the routes it guards use it too.
func WithSessionName(name string) AuthOption {
	return func(a *authConfig) { a.name = name }
}

// RequireAuth returns a middleware for route groups that lets a request
// through only with a live, logged-in session whose fingerprint matches.
// The whole check is one Redis round trip, sliding expiry included. It
// answers, with Cache-Control: no-store and Vary: Cookie on every response:
//
//   - 401 {"error":"not logged in"}: no session, or one without a user;
//   - 401 {"error":"session invalid"}: a hard fingerprint field differs; the
//     session is destroyed (key deleted, index updated, cookie expired);
//   - 401 {"error":"session expired"}: the idle or absolute timeout passed;
//     the session is destroyed;
//   - 503 {"error":"session store unavailable"}: Redis failed or timed out;
//     no cookie is set and nothing is treated as logged in.
//
// Otherwise UserID(c) returns the user and the next handler runs. Key
// rotation finishes on guarded requests: when an older secret of
// Config.Secrets verified the cookie, the response re-sends it signed with
// the newest one, with the same attributes, and when an older secret keyed
// the session's fingerprint (and the request matched it exactly, soft
// fields included), the fingerprint is stored again with the newest key. The route
// must be behind sessions.Sessions(name, store) with a *Store; without it,
// or with a cookie name the store's settings make unusable (a __Host- name
// with Insecure, say), RequireAuth panics at the first request with a
// message that says so; set Config.CookieName, or call
// Store.CheckCookieName, to have such a name refused at startup instead.
func RequireAuth(opts ...AuthOption) gin.HandlerFunc {
	var cfg authConfig
	for _, o := range opts {
		o(&cfg)
	}
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("Cache-Control", "no-store")
		h.Add("Vary", "Cookie")
		if cfg.name != "" {
			c.Set(sessionNameKey, cfg.name)
		}
		s, sess, st, err := current(c, cfg.name)
		if err != nil {
			panic(err)
		}
		ctx := c.Request.Context()
		switch {
		case errors.Is(st.loadErr, ErrConfig):
			panic(st.loadErr)
		case st.loadErr != nil:
			c.AbortWithStatusJSON(http.StatusServiceUnavailable, bodyUnavailable)
			return
		case st.expired:
			setCookie(c.Writer, expiredCookie(st.name, s.sessionOptions(sess.Options)))
			c.AbortWithStatusJSON(http.StatusUnauthorized, bodyExpired)
			return
		case !st.exists || st.user == "":
			c.AbortWithStatusJSON(http.StatusUnauthorized, bodyNotLoggedIn)
			return
		}
		if now := s.now(); now-st.lastSeen() >= s.idleMS || now-st.created >= s.absMS {
			reason := "idle"
			if now-st.created >= s.absMS {
				reason = "absolute"
			}
			s.endSession(ctx, c, sess, st, Event{Type: EventExpired, Reason: reason})
			c.AbortWithStatusJSON(http.StatusUnauthorized, bodyExpired)
			return
		}
		res := s.fp.Check(st.fp, c.Request, s.clientIP(c))
		if !res.OK() {
			s.endSession(ctx, c, sess, st, Event{Type: EventFingerprintMismatch, Reason: "fingerprint", Fields: res.Fields(), Request: c.Request})
			c.AbortWithStatusJSON(http.StatusUnauthorized, bodyInvalid)
			return
		}
		if len(res.Soft) > 0 {
			s.emit(ctx, Event{Type: EventFingerprintSoft, UserID: st.user, Session: s.ref(st.hash), Fields: res.Fields(), Request: c.Request})
		}
		if res.OldKey && len(res.Soft) == 0 {
			s.rekeyFingerprint(ctx, c, st)
		}
		if st.resign {
			s.resignCookie(c.Writer, sess, st)
		}
		c.Set(userIDKey, st.user)
		c.Next()
	}
}

// rekeyFingerprint replaces a session's stored fingerprint, which an older
// secret's key checked and which matched the request exactly, with one
// computed with the newest key, so that the session still checks once the
// old secret is dropped: one more round trip, once per session and
// rotation. It only updates a session that still exists. A Redis failure
// is reported as a store error and changes nothing: the request was
// already authenticated, and the next guarded request tries again.
func (s *Store) rekeyFingerprint(ctx context.Context, c *gin.Context, st *state) {
	fp := s.fp.Compute(c.Request, s.clientIP(c))
	now := s.now()
	// The activity is written with the TTL, as Save does, so the two agree.
	err := updateScript.Run(ctx, s.rdb, []string{st.key}, s.ttl(st.created, now), 0, metaFP, fp, metaLastSeen, now-st.created).Err()
	if err != nil {
		s.emit(ctx, Event{Type: EventStoreError, Err: fmt.Errorf("%w: re-keying a fingerprint: %w", ErrStoreUnavailable, err)})
		return
	}
	st.fp = fp
}

// resignCookie sets the cookie of a session that an older secret verified
// again, signed with the newest secret and with the same attributes, so
// that key rotation finishes for users who only read.
func (s *Store) resignCookie(w http.ResponseWriter, sess *gsessions.Session, st *state) {
	o := s.sessionOptions(sess.Options)
	setCookie(w, cookie(st.name, s.sign(st.name, st.id), o, s.maxAge(o, st.created, s.now())))
	st.resign = false
}

// endSession destroys a session RequireAuth refused and reports e, with
// the session's user and reference filled in.
func (s *Store) endSession(ctx context.Context, c *gin.Context, sess *gsessions.Session, st *state, e Event) {
	e.UserID, e.Session = st.user, s.ref(st.hash)
	_ = s.destroyQuiet(ctx, c.Writer, sess, st) // a failed delete is reported as a store error; the request is refused anyway
	s.emit(ctx, e)
}

// RequireFreshAuth returns a middleware for sensitive routes, to be used
// after RequireAuth: it answers 401 {"error":"reauthentication required"}
// when the last login is older than d, and 401 {"error":"not
// logged in"} when RequireAuth has not let the request through.
func RequireFreshAuth(d time.Duration) gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("Cache-Control", "no-store")
		h.Add("Vary", "Cookie")
		s, _, st, err := current(c, "")
		if err != nil {
			panic(err)
		}
		if !st.exists || st.user == "" || UserID(c) != st.user {
			c.AbortWithStatusJSON(http.StatusUnauthorized, bodyNotLoggedIn)
			return
		}
		if s.now()-st.created > d.Milliseconds() {
			c.AbortWithStatusJSON(http.StatusUnauthorized, bodyReauthNeeded)
			return
		}
		c.Next()
	}
}

// UserID returns the user of the request's session, as set by RequireAuth
// or Login, or "" when the request is not authenticated.
func UserID(c *gin.Context) string {
	return c.GetString(userIDKey)
}

// SessionInfo describes one live session of a user, for a "your sessions"
// page. It holds nothing secret.
type SessionInfo struct {
	// Ref is the session's opaque reference: pass it to RevokeSession.
	Ref string `json:"ref"`
	// Created is when the session was created (the login).
	Created time.Time `json:"created"`
	// LastSeen is the session's last activity.
	LastSeen time.Time `json:"lastSeen"`
	// Device is a short description of the browser, such as "Firefox on Linux".
	Device string `json:"device"`
	// Current is true for the session of the request behind ctx.
	Current bool `json:"current"`
}

// UserSessions lists the live sessions of userID, most recently active
// first. Pass the request's context (c.Request.Context()) to have the
// caller's own session marked Current. Entries of sessions that have ended
// are pruned from the index as they are found, except those of logins of
// the last few seconds (see inFlight).
func (s *Store) UserSessions(ctx context.Context, userID string) ([]SessionInfo, error) {
	hashes, scores, err := s.indexed(ctx, userID)
	if err != nil || len(hashes) == 0 {
		return nil, err
	}
	cmds := make([]*redis.SliceCmd, len(hashes))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, h := range hashes {
			cmds[i] = p.HMGet(ctx, s.hashKey(h), metaCreated, metaLastSeen, metaDevice, metaUser)
		}
		return nil
	})
	if err != nil {
		return nil, s.unavailable("listing sessions", err)
	}
	cur := currentFor(ctx, userID)
	var gone []any
	out := make([]SessionInfo, 0, len(hashes))
	for i, cmd := range cmds {
		v := cmd.Val()
		if len(v) != 4 || v[0] == nil || v[3] != userID {
			if !s.inFlight(scores[i]) {
				gone = append(gone, indexMember(hashes[i]))
			}
			continue
		}
		var st state
		st.setMeta(metaCreated, str(v[0]))
		st.setMeta(metaLastSeen, str(v[1]))
		out = append(out, SessionInfo{
			Ref:      s.ref(hashes[i]),
			Created:  time.UnixMilli(st.created).UTC(),
			LastSeen: time.UnixMilli(st.lastSeen()).UTC(),
			Device:   fingerprint.DeviceName(str(v[2])),
			Current:  cur != nil && cur.hash == hashes[i],
		})
	}
	if len(gone) > 0 {
		_ = s.rdb.ZRem(ctx, s.userKey(userID), gone...).Err() // pruning is best effort
	}
	sort.Slice(out, func(i, j int) bool { return out[i].LastSeen.After(out[j].LastSeen) })
	return out, nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// deadlineSeconds rounds an absolute deadline in Unix ms up to seconds: the
// index scores sessions by it (a 32-bit integer stores smaller than ms), and
// an entry is pruned once its second has passed.
func deadlineSeconds(ms int64) int64 { return (ms + 999) / 1000 }

// inFlightSeconds is how recent, in seconds, a login must be for its index
// entry to stay listed when its session is not found: see inFlight.
const inFlightSeconds = 10

// inFlight reports whether an index entry's score (its session's absolute
// deadline in seconds) is that of a login of the last inFlightSeconds. On
// a Cluster, Login's index entry and session write go to different nodes
// in parallel, so such a session may not be written yet: its entry stays
// listed when a read or a DEL finds nothing, instead of being dropped and
// leaving the session, written a moment later, live and unlisted. An entry
// of a recent session that did end is pruned once it is older.
func (s *Store) inFlight(score float64) bool {
	return int64(score) > deadlineSeconds(s.now()+s.absMS)-inFlightSeconds
}

// indexed returns the at-rest names of userID's sessions that have not
// passed their absolute deadline, and their scores, pruning the ones that
// have.
func (s *Store) indexed(ctx context.Context, userID string) ([]string, []float64, error) {
	idx := s.userKey(userID)
	var members *redis.ZSliceCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.ZRemRangeByScore(ctx, idx, "-inf", strconv.FormatInt(s.now()/1000, 10))
		members = p.ZRangeWithScores(ctx, idx, 0, -1)
		return nil
	})
	if err != nil {
		return nil, nil, s.unavailable("reading the user's sessions", err)
	}
	zs := members.Val()
	hashes, scores := make([]string, len(zs)), make([]float64, len(zs))
	for i, z := range zs {
		hashes[i], scores[i] = memberHash(str(z.Member)), z.Score
	}
	return hashes, scores, nil
}

// RevokeSession ends the session of userID whose reference is ref (from
// UserSessions): its key is deleted and then it leaves the index, so its
// next request gets 401. It returns an error wrapping ErrUnknownSession
// when no live session of userID has that reference. On an error wrapping
// ErrStoreUnavailable the session is either ended or still listed, so
// calling it again (after a Cluster or Sentinel failover, say) ends it.
func (s *Store) RevokeSession(ctx context.Context, userID, ref string) error {
	hashes, _, err := s.indexed(ctx, userID)
	if err != nil {
		return err
	}
	for _, h := range hashes {
		if s.ref(h) == ref {
			if err := s.destroyKeys(ctx, s.hashKey(h), h, userID, true); err != nil {
				return err
			}
			s.emit(ctx, Event{Type: EventRevoked, UserID: userID, Session: ref, Reason: "revoked"})
			return nil
		}
	}
	return ErrUnknownSession
}

// RevokeUser ends every session of userID ("log out everywhere", password
// change, account disabled) and returns how many live sessions it ended.
// Every client of that user gets 401 on its next request. It deletes the
// sessions' keys in one pipelined round trip and then, in another, removes
// from the user's index only the entries whose DEL succeeded. When it
// returns nil it has ended every session of userID that existed when it
// started. When it returns an error (wrapping ErrStoreUnavailable: a
// Cluster node down, say), the count is of the sessions it did end, and
// every session it did not end is still listed: call it again, after the
// failover, to end them. A login that runs at the same moment may survive;
// call it again after changing the password.
//
// Redis replicates asynchronously, so a DEL that a master acknowledged
// and then lost in a crash before sending it to its replica (a window of
// the replication lag: about 0.1 ms on loopback) comes back with
// the promoted replica, without its index entry if that removal reached
// another master's replica. The store does not WAIT for replicas: WAIT
// narrows the window but, as Redis documents, does not close it, and it
// blocks for its whole timeout on a server without replicas.
func (s *Store) RevokeUser(ctx context.Context, userID string) (int, error) {
	hashes, scores, err := s.indexed(ctx, userID)
	if err != nil || len(hashes) == 0 {
		return 0, err
	}
	return s.endIndexed(ctx, userID, hashes, scores, "revoked")
}

// endIndexed ends the sessions of userID whose at-rest names are hashes
// (with their index scores): it deletes their keys in one pipelined round
// trip and then, in another, removes from the index only the entries whose
// DEL succeeded, except those whose DEL found nothing and that are
// inFlight. It reports
// each session that was live as EventRevoked with reason, and returns how
// many there were. On error (wrapping ErrStoreUnavailable) the sessions it
// did not end are still listed.
func (s *Store) endIndexed(ctx context.Context, userID string, hashes []string, scores []float64, reason string) (int, error) {
	dels := make([]*redis.IntCmd, len(hashes))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, h := range hashes {
			dels[i] = p.Del(ctx, s.hashKey(h))
		}
		return nil
	})
	ended := make([]any, 0, len(hashes))
	n := 0
	for i, h := range hashes {
		if dels[i].Err() != nil {
			continue // still listed: a retry finds it
		}
		if dels[i].Val() == 0 && s.inFlight(scores[i]) {
			continue // its write may still be on its way: it stays listed
		}
		ended = append(ended, indexMember(h))
		if dels[i].Val() == 1 { // entries of sessions that had already ended are only pruned
			n++
			s.emit(ctx, Event{Type: EventRevoked, UserID: userID, Session: s.ref(h), Reason: reason})
		}
	}
	if len(ended) > 0 {
		s.unindex(ctx, userID, ended...)
	}
	if err != nil {
		return n, s.unavailable("ending sessions", err)
	}
	return n, nil
}
