// Package ginsession is a hardened session store for Gin that plugs into
// gin-contrib/sessions, on Redis through go-redis v9 (a single node,
// Sentinel or Cluster: any redis.UniversalClient), with the authentication
// lifecycle on top: Login, Logout, RequireAuth (Authenticate for public
// pages that want to know the user), per-user session lists and
// revocation.
//
// # Quick start
//
//	store, err := ginsession.NewStore(rdb, ginsession.Config{
//		Secrets: [][]byte{[]byte(os.Getenv("SESSION_SECRET"))}, // 32+ bytes
//	})
//	if err != nil { ... }
//	r.Use(sessions.Sessions("__Host-id", store)) // gin-contrib/sessions, unchanged
//	r.POST("/login", func(c *gin.Context) {
//		// check the credentials, then:
//		if err := ginsession.Login(c, userID); err != nil { ... }
//	})
//	api := r.Group("/api", ginsession.RequireAuth())
//	api.GET("/profile", func(c *gin.Context) { uid := ginsession.UserID(c); ... })
//	r.GET("/", ginsession.Authenticate(), home) // public: UserID(c) is "" for a guest
//
// sessions.Default(c) and every gin-contrib Session method keep working.
//
// # Safe with no configuration
//
// With only Secrets set, cookies are HttpOnly, Secure, SameSite=Strict,
// Path=/, Max-Age of the absolute timeout (24 h), and hold only a 256-bit
// random ID and its HMAC-SHA256. Sessions end after 30 minutes without a
// request and 24 hours after they began (after login, for a logged-in one),
// whatever the activity; both limits are enforced by Redis (the key's TTL is
// min(idle, time left)) and checked again by this package with the
// application's clock. Configuration (Config, store.Options) may choose
// SameSite=Lax, a Domain or another Max-Age; request code (session.Options)
// may only narrow the cookie (a Path below the store's, a shorter Max-Age,
// SameSite=Strict, Secure, Partitioned) or destroy the session (a negative
// MaxAge), and what else it asks for is dropped with a warning (see
// Store.Options and docs/cookie-options.md). Config.CookieName has NewStore
// check the cookie name against the other settings at startup.
//
// # A request
//
// A request's cookie is verified before anything touches Redis: a missing,
// forged, tampered, malformed or oversized cookie is no session, at no
// Redis command. A valid one costs one round trip, which checks the
// timeouts and slides the expiry. RequireAuth then checks the user and the
// fingerprint in memory; with Config.LocalCache, a session it checked
// recently is answered from memory at no Redis command. Save writes only
// the fields that changed, atomically and only if the session still
// exists. docs/design.md
// describes the read path, the refresh memo, the revocation marks and
// tombstones, and what each operation costs.
//
// # At rest
//
// A session is one Redis hash at <KeyPrefix><base64url(SHA-256(ID))>: a
// dump, MONITOR output or a replica never shows a usable ID. Each value is
// its own field, tagged with its Go type. A user's sessions are indexed in
// a sorted set at <KeyPrefix>u:<userID>. No operation needs KEYS or a
// multi-key command across Cluster slots.
//
// A user may have Config.MaxSessionsPerUser live sessions (10 by default): a
// login beyond that ends the user's oldest sessions, so logging one account
// in again and again cannot fill Redis.
//
// # Threat model
//
// The store defends against session fixation (Login always issues a new ID
// and destroys the old session), ID guessing and forgery (256-bit IDs, MAC
// checked before Redis), replay of logged-out or expired sessions (strict
// mode: an ID without a live record is never adopted), cookie theft by
// script (HttpOnly) or over plain http (Secure), cross-site request
// forgery (SameSite=Strict; applications still check Origin, see the
// example), stolen cookies replayed from another browser (the fingerprint:
// a different browser or OS ends the session), and leaks of the Redis data
// (hashed keys, keyed fingerprint MACs). It does not defend against malware
// on the user's machine, which can copy the cookie and the User-Agent and
// use the victim's own network: the fingerprint is a tripwire, not an
// authentication factor.
//
// # When Redis fails
//
// Every request fails closed: RequireAuth answers 503, never a 500 and
// never a session that looks valid. How fast a request meets that 503 is
// the Redis client's to decide: the store sets no deadline of its own, and
// go-redis's defaults (a 5 s read timeout, with retries) hold a request for
// 5 to 10 s against a hung server. docs/redis.md gives the client options
// that answer within about a second, measured on real servers.
//
// Ending a session (Logout, RevokeSession, RevokeUser, the destroy after a
// fingerprint mismatch or a timeout, Login's removal of the pre-login
// session and of the sessions beyond the cap) deletes its key first and
// removes its index entry only once that DEL has succeeded, so a call that
// fails halfway (a Cluster node down) leaves every session it did not end
// listed: a retry, or RevokeUser, finds and ends it.
//
// On a *redis.ClusterClient, a command that fails without a reply from
// Redis (a refused or broken connection, a timeout) makes the store ask the
// client to reload its slot map, at most once per 500 ms, so a replica that
// took over a dead master's slots is used about half a second after its
// promotion instead of at go-redis's next periodic reload (60 s).
package ginsession
