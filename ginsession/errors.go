package ginsession

import (
	"errors"
	"fmt"
)

// The errors callers branch on, with errors.Is. Every error this package
// returns starts with "ginsession:" and wraps one of these; errors that come
// from Redis also wrap the Redis error. No error ever contains a session ID,
// a cookie value or a raw request header.
var (
	// ErrConfig is wrapped by every configuration error: those of NewStore
	// and, for a cookie name the settings make unusable, those of Get,
	// Save, Login and Logout and the panics of RequireAuth, Authenticate
	// and store.Options.
	ErrConfig = errors.New("ginsession: invalid configuration")
	// ErrNoClient is returned by NewStore when the Redis client is nil.
	ErrNoClient = fmt.Errorf("%w: a Redis client is required", ErrConfig)
	// ErrNoSecret is returned by NewStore when Config.Secrets is empty or
	// holds an empty secret, and by CheckSecret for an empty secret.
	ErrNoSecret = fmt.Errorf("%w: Config.Secrets is required: set at least one secret of %d bytes or more, newest first", ErrConfig, MinSecretLen)
	// ErrShortSecret is returned by NewStore and CheckSecret when a secret
	// is shorter than MinSecretLen.
	ErrShortSecret = fmt.Errorf("%w: each secret in Config.Secrets must be at least %d bytes", ErrConfig, MinSecretLen)
	// ErrWeakSecret is returned by NewStore and CheckSecret when a secret is
	// obviously not random: whitespace only, too few distinct bytes, or a
	// short block repeated.
	ErrWeakSecret = fmt.Errorf("%w: a secret in Config.Secrets is obviously not random", ErrConfig)
	// ErrStoreUnavailable wraps every failure to talk to Redis. A request
	// whose session could not be loaded is never treated as logged in, and
	// its session is never saved.
	ErrStoreUnavailable = errors.New("ginsession: session store unavailable")
	// ErrSessionGone is returned by Save when it has a change to write and
	// the session was destroyed (logged out, revoked, expired or rotated by
	// another request) after this request loaded it; nothing is written, so
	// the session is not recreated. A Save with no change writes nothing
	// to Redis and returns nil.
	ErrSessionGone = errors.New("ginsession: session was destroyed by another request")
	// ErrTooLarge is returned by Save and Login when the encoded values
	// exceed Config.MaxSessionBytes; nothing is written.
	ErrTooLarge = errors.New("ginsession: session values exceed the size limit")
	// ErrEncode is returned by Save and Login when a key or value cannot be
	// encoded (a type that gob cannot encode or that was not registered
	// with gob.Register); nothing is written.
	ErrEncode = errors.New("ginsession: cannot encode session value")
	// ErrDecode is returned by every Get of a request when a stored key or
	// value cannot be decoded (for example a gob type that is no longer
	// registered). The other values are loaded. Save leaves the undecodable
	// field in Redis as it is; Login, which moves the values it decoded to
	// the new session and deletes the old one, drops it.
	ErrDecode = errors.New("ginsession: cannot decode stored session value")
	// ErrNotLoaded is returned by Save, Login and Logout, and is what
	// RequireAuth, RequireFreshAuth and Authenticate panic with, when this
	// store has no record of loading the session in this request: a
	// session made by hand, say, or one whose values session.Clear()
	// emptied after a middleware had replaced c.Request.
	ErrNotLoaded = errors.New("ginsession: session was not loaded by this store in this request")
	// ErrNoSessionMiddleware is returned by Login and Logout, and is what
	// RequireAuth, RequireFreshAuth and Authenticate panic with, when the
	// route is not behind sessions.Sessions(name, store) with a
	// *ginsession.Store (or, behind sessions.SessionsMany, no session was
	// named with UseSession). The middlewares also panic with ErrNotLoaded
	// and, but for RequireFreshAuth, with an ErrConfig error for an
	// unusable cookie name (see RequireAuth).
	ErrNoSessionMiddleware = errors.New("ginsession: the route needs r.Use(sessions.Sessions(name, store)) with a *ginsession.Store before it")
	// ErrInvalidUserID is returned by Login for an empty or oversized user ID.
	ErrInvalidUserID = fmt.Errorf("ginsession: user ID must be 1 to %d bytes", maxUserIDLen)
	// ErrUnknownSession is returned by RevokeSession when the user's index
	// does not list the ref: it names no session of that user that
	// is still listed (see RevokeSession).
	ErrUnknownSession = errors.New("ginsession: no such session for this user")
	// ErrStaleLogin is returned by Login when the user's sessions were
	// revoked (RevokeUser, RevokeOthers) after the credential check
	// that Login was given with CheckedAt, or that check is more than 5
	// minutes old: nothing is logged in. Check the credentials again.
	ErrStaleLogin = errors.New("ginsession: the credentials were checked before the user's sessions were revoked: check them again")
	// ErrEvictionPolicy is returned by CheckRedis when Redis may evict
	// session keys under memory pressure (maxmemory-policy is not noeviction).
	ErrEvictionPolicy = errors.New("ginsession: Redis maxmemory-policy is not noeviction: live sessions can be evicted")
)
