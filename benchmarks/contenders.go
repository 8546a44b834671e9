package benchmarks

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/alexedwards/scs/goredisstore"
	"github.com/alexedwards/scs/v2"
	"github.com/gin-contrib/sessions"
	"github.com/gin-contrib/sessions/cookie"
	gcredis "github.com/gin-contrib/sessions/redis"
	"github.com/gin-gonic/gin"
	redigo "github.com/gomodule/redigo/redis"
	"github.com/redis/go-redis/v9"

	"github.com/sessionshield/sessionshield/ginsession"
)

// CookieName is the session cookie's name for every contender.
const CookieName = "id"

// idleTimeout is the idle timeout (or the session TTL, where a store has
// only one) every contender is configured with.
const idleTimeout = 30 * time.Minute

// Fixed test secrets: 32 bytes, never used outside the benchmarks.
var (
	secret    = []byte("benchmarks-secret-0123456789abcdef")
	hashKey   = []byte("benchmarks-hash-key-0123456789abc")
	loginPath = "/login"
	readPath  = "/profile"
)

// Contender is one session library serving POST /login and GET /profile.
type Contender struct {
	// Name is what the table shows.
	Name string
	// Slug names the contender in benchmark names and key prefixes.
	Slug string
	// Redis is false for the contenders that never talk to Redis.
	Redis bool
	// New builds a target that writes every Redis key under prefix, which
	// no other target uses (see Env.Prefix and Env.ShortPrefix).
	New func(ctx context.Context, env *Env, prefix string) (*Target, error)
}

// Target is a running contender: its handler, the counter of its Redis
// client and the key prefix it writes under.
type Target struct {
	Handler http.Handler
	Counter *Counter
	Prefix  string
	// IsIndex reports whether a key is a secondary index rather than the
	// session itself (sessionshield's per-user sorted set).
	IsIndex func(key string) bool
	// Store is sessionshield's store; nil for the other contenders.
	Store   *ginsession.Store
	env     *Env
	closers []func() error
}

// Close deletes every key the target wrote and closes its clients.
func (t *Target) Close() error {
	var errs []error
	if t.Prefix != "" && t.env != nil {
		errs = append(errs, t.env.Cleanup(context.Background(), t.Prefix))
	}
	for _, c := range t.closers {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}

// Contenders returns every contender, in the order the table shows them.
func Contenders() []Contender {
	return []Contender{
		{Name: "sessionshield", Slug: "sessionshield", Redis: true, New: newSessionShield},
		{Name: "sessionshield, LocalCache 1s", Slug: "sessionshield-cache", Redis: true, New: newSessionShieldCached},
		{Name: "gin-contrib/sessions redis (redistore)", Slug: "gincontrib-redis", Redis: true, New: newGinContribRedis(true)},
		{Name: "gin-contrib/sessions redis, no PING on borrow", Slug: "gincontrib-redis-noping", Redis: true, New: newGinContribRedis(false)},
		{Name: "scs v2 + goredisstore", Slug: "scs-goredis", Redis: true, New: newSCS},
		{Name: "one-GET floor (unsigned cookie)", Slug: "floor", Redis: true, New: newFloor},
		{Name: "gin-contrib/sessions cookie (no Redis)", Slug: "gincontrib-cookie", New: newCookie},
		{Name: "gin + httptest only (no session)", Slug: "harness", New: newHarness},
	}
}

// ContenderBySlug returns the contender called slug.
func ContenderBySlug(slug string) (Contender, bool) {
	for _, c := range Contenders() {
		if c.Slug == slug {
			return c, true
		}
	}
	return Contender{}, false
}

func newEngine() *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	_ = e.SetTrustedProxies(nil) // a production setup trusts no proxy by default
	e.Use(gin.Recovery())
	return e
}

// goRedisClient returns a go-redis client for env.URL that counts into c.
func goRedisClient(env *Env, c *Counter) (*redis.Client, error) {
	opt, err := redis.ParseURL(env.URL)
	if err != nil {
		return nil, err
	}
	rdb := redis.NewClient(opt)
	rdb.AddHook(c.Hook())
	return rdb, nil
}

var (
	bodyUnauthorized = gin.H{"error": "unauthorized"}
)

func newSessionShield(ctx context.Context, env *Env, prefix string) (*Target, error) {
	return newSessionShieldWith(env, prefix, 0)
}

// newSessionShieldCached is sessionshield with Config.LocalCache at 1 s:
// guarded reads answered from the local cache.
func newSessionShieldCached(ctx context.Context, env *Env, prefix string) (*Target, error) {
	return newSessionShieldWith(env, prefix, time.Second)
}

func newSessionShieldWith(env *Env, prefix string, localCache time.Duration) (*Target, error) {
	c := new(Counter)
	rdb, err := goRedisClient(env, c)
	if err != nil {
		return nil, err
	}
	t, err := newSessionShieldOn(rdb, c, prefix, localCache)
	if err != nil {
		_ = rdb.Close()
		return nil, err
	}
	t.env = env
	t.closers = append(t.closers, rdb.Close)
	return t, nil
}

// newSessionShieldOn builds sessionshield on rdb, whose commands c counts
// and which it does not close.
func newSessionShieldOn(rdb redis.UniversalClient, c *Counter, prefix string, localCache time.Duration) (*Target, error) {
	t := &Target{Counter: c, Prefix: prefix}
	indexPrefix := t.Prefix + "u:"
	t.IsIndex = func(key string) bool { return strings.HasPrefix(key, indexPrefix) }
	store, err := ginsession.NewStore(rdb, ginsession.Config{
		Secrets:     [][]byte{secret},
		KeyPrefix:   t.Prefix,
		IdleTimeout: idleTimeout,
		Insecure:    true, // plain http in tests
		CookieName:  CookieName,
		LocalCache:  localCache,
		// Login logs an event at Info; a benchmark should not measure stderr.
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return nil, err
	}
	t.Store = store
	t.closers = append([]func() error{store.Close}, t.closers...) // before its client closes
	e := newEngine()
	e.Use(sessions.Sessions(CookieName, store))
	e.POST(loginPath, func(c *gin.Context) {
		user := c.Query("user")
		if err := ginsession.Login(c, user); err != nil {
			c.AbortWithStatusJSON(http.StatusServiceUnavailable, gin.H{"error": err.Error()})
			return
		}
		c.JSON(http.StatusOK, gin.H{"userId": user})
	})
	e.GET(readPath, ginsession.RequireAuth(), func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"userId": ginsession.UserID(c)})
	})
	t.Handler = e
	return t, nil
}

// newGinContribRedis builds gin-contrib/sessions' Redis store. With ping,
// its pool is configured as gin-contrib's redis.NewStore configures it
// (redistore.NewRediStore: MaxIdle 10, IdleTimeout 240s and a PING on
// every borrow); without, the same pool with no TestOnBorrow.
func newGinContribRedis(ping bool) func(ctx context.Context, env *Env, prefix string) (*Target, error) {
	return func(ctx context.Context, env *Env, prefix string) (*Target, error) {
		t := &Target{Counter: new(Counter), Prefix: prefix, env: env}
		url := env.URL
		pool := &redigo.Pool{
			MaxIdle:     10,
			IdleTimeout: 240 * time.Second,
			Dial:        t.Counter.CountingDial(func() (redigo.Conn, error) { return redigo.DialURL(url) }),
		}
		if ping {
			pool.TestOnBorrow = func(c redigo.Conn, _ time.Time) error {
				_, err := c.Do("PING")
				return err
			}
		}
		t.closers = append(t.closers, pool.Close)
		store, err := gcredis.NewStoreWithPool(pool, hashKey)
		if err != nil {
			return nil, err
		}
		if err := gcredis.SetKeyPrefix(store, t.Prefix); err != nil {
			return nil, err
		}
		store.Options(sessions.Options{Path: "/", MaxAge: int(idleTimeout / time.Second), HttpOnly: true, SameSite: http.SameSiteStrictMode})
		t.Handler = ginSessionsRoutes(store)
		return t, nil
	}
}

func newCookie(ctx context.Context, env *Env, prefix string) (*Target, error) {
	store := cookie.NewStore(hashKey)
	store.Options(sessions.Options{Path: "/", MaxAge: int(idleTimeout / time.Second), HttpOnly: true, SameSite: http.SameSiteStrictMode})
	return &Target{Handler: ginSessionsRoutes(store), env: env}, nil
}

// ginSessionsRoutes serves the two routes with any gin-contrib/sessions
// store, as its README and the Express guide do: the user ID and the raw
// User-Agent in the session, compared on every read.
func ginSessionsRoutes(store sessions.Store) http.Handler {
	e := newEngine()
	e.Use(sessions.Sessions(CookieName, store))
	e.POST(loginPath, func(c *gin.Context) {
		user := c.Query("user")
		s := sessions.Default(c)
		s.Set("user", user)
		s.Set("ua", c.Request.UserAgent())
		if err := s.Save(); err != nil {
			c.AbortWithStatusJSON(http.StatusServiceUnavailable, gin.H{"error": err.Error()})
			return
		}
		c.JSON(http.StatusOK, gin.H{"userId": user})
	})
	e.GET(readPath, func(c *gin.Context) {
		s := sessions.Default(c)
		user, _ := s.Get("user").(string)
		ua, _ := s.Get("ua").(string)
		if user == "" || ua != c.Request.UserAgent() {
			c.AbortWithStatusJSON(http.StatusUnauthorized, bodyUnauthorized)
			return
		}
		c.JSON(http.StatusOK, gin.H{"userId": user})
	})
	return e
}

// newSCS builds scs v2 on goredisstore with an idle timeout, as a
// production user would; the idle timeout makes every read commit the
// session again (scs marks a loaded session Modified to slide its expiry).
func newSCS(ctx context.Context, env *Env, prefix string) (*Target, error) {
	t := &Target{Counter: new(Counter), Prefix: prefix, env: env}
	rdb, err := goRedisClient(env, t.Counter)
	if err != nil {
		return nil, err
	}
	t.closers = append(t.closers, rdb.Close)
	sm := scs.New()
	sm.Store = goredisstore.NewWithPrefix(rdb, t.Prefix)
	sm.IdleTimeout = idleTimeout
	sm.Lifetime = 24 * time.Hour
	sm.Cookie.Name = CookieName
	sm.Cookie.SameSite = http.SameSiteStrictMode
	e := newEngine()
	e.POST(loginPath, func(c *gin.Context) {
		ctx := c.Request.Context()
		user := c.Query("user")
		if err := sm.RenewToken(ctx); err != nil {
			c.AbortWithStatusJSON(http.StatusServiceUnavailable, gin.H{"error": err.Error()})
			return
		}
		sm.Put(ctx, "user", user)
		sm.Put(ctx, "ua", c.Request.UserAgent())
		c.JSON(http.StatusOK, gin.H{"userId": user})
	})
	e.GET(readPath, func(c *gin.Context) {
		ctx := c.Request.Context()
		user := sm.GetString(ctx, "user")
		if user == "" || sm.GetString(ctx, "ua") != c.Request.UserAgent() {
			c.AbortWithStatusJSON(http.StatusUnauthorized, bodyUnauthorized)
			return
		}
		c.JSON(http.StatusOK, gin.H{"userId": user})
	})
	t.Handler = sm.LoadAndSave(e)
	return t, nil
}

// newFloor is the least a Redis-backed session can cost: a random,
// unsigned 32-byte token in the cookie and one plain GET per request; no
// signing, no sliding expiry, no index.
func newFloor(ctx context.Context, env *Env, prefix string) (*Target, error) {
	t := &Target{Counter: new(Counter), Prefix: prefix, env: env}
	rdb, err := goRedisClient(env, t.Counter)
	if err != nil {
		return nil, err
	}
	t.closers = append(t.closers, rdb.Close)
	e := newEngine()
	e.POST(loginPath, func(c *gin.Context) {
		user := c.Query("user")
		var b [32]byte
		_, _ = rand.Read(b[:])
		token := base64.RawURLEncoding.EncodeToString(b[:])
		val := user + "\n" + c.Request.UserAgent()
		if err := rdb.Set(c.Request.Context(), prefix+token, val, idleTimeout).Err(); err != nil {
			c.AbortWithStatusJSON(http.StatusServiceUnavailable, gin.H{"error": err.Error()})
			return
		}
		http.SetCookie(c.Writer, &http.Cookie{Name: CookieName, Value: token, Path: "/", MaxAge: int(idleTimeout / time.Second),
			HttpOnly: true, SameSite: http.SameSiteStrictMode})
		c.JSON(http.StatusOK, gin.H{"userId": user})
	})
	e.GET(readPath, func(c *gin.Context) {
		ck, err := c.Request.Cookie(CookieName)
		if err != nil {
			c.AbortWithStatusJSON(http.StatusUnauthorized, bodyUnauthorized)
			return
		}
		val, err := rdb.Get(c.Request.Context(), prefix+ck.Value).Result()
		if err != nil {
			if errors.Is(err, redis.Nil) {
				c.AbortWithStatusJSON(http.StatusUnauthorized, bodyUnauthorized)
			} else {
				c.AbortWithStatusJSON(http.StatusServiceUnavailable, gin.H{"error": err.Error()})
			}
			return
		}
		user, ua, _ := strings.Cut(val, "\n")
		if user == "" || ua != c.Request.UserAgent() {
			c.AbortWithStatusJSON(http.StatusUnauthorized, bodyUnauthorized)
			return
		}
		c.JSON(http.StatusOK, gin.H{"userId": user})
	})
	t.Handler = e
	return t, nil
}

// newHarness answers both routes without any session: what gin, the JSON
// body and httptest cost on their own, to subtract from the others.
func newHarness(ctx context.Context, env *Env, prefix string) (*Target, error) {
	e := newEngine()
	e.POST(loginPath, func(c *gin.Context) {
		user := c.Query("user")
		http.SetCookie(c.Writer, &http.Cookie{Name: CookieName, Value: user, Path: "/", HttpOnly: true})
		c.JSON(http.StatusOK, gin.H{"userId": user})
	})
	e.GET(readPath, func(c *gin.Context) {
		ck, err := c.Request.Cookie(CookieName)
		if err != nil {
			c.AbortWithStatusJSON(http.StatusUnauthorized, bodyUnauthorized)
			return
		}
		c.JSON(http.StatusOK, gin.H{"userId": ck.Value})
	})
	return &Target{Handler: e, env: env}, nil
}

// String is for error messages.
func (c Contender) String() string { return fmt.Sprintf("%s (%s)", c.Name, c.Slug) }
