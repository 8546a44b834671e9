package ginsession

import (
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionshield/sessionshield/fingerprint"
	"github.com/sessionshield/sessionshield/internal/redistest"
)

func TestNewStoreRejectsUnsafeConfig(t *testing.T) {
	rdb := redistest.Client(t)
	secret := []byte(testSecret)
	tests := []struct {
		name string
		rdb  redis.UniversalClient
		cfg  Config
		want error
		msg  string
	}{
		{"nil client", nil, Config{Secrets: [][]byte{secret}}, ErrNoClient, "Redis client"},
		{"no secrets", rdb, Config{}, ErrNoSecret, "Secrets is required: set at least one secret of 32 bytes or more, newest first; generate one with: openssl rand -base64 48"},
		{"empty secret", rdb, Config{Secrets: [][]byte{{}}}, ErrNoSecret, "secret 0 is empty; generate one with: openssl rand -base64 48"},
		{"empty old secret", rdb, Config{Secrets: [][]byte{secret, {}}}, ErrNoSecret, "secret 1 is empty"},
		{"short secret", rdb, Config{Secrets: [][]byte{secret[:31]}}, ErrShortSecret, "secret 0 is 31 bytes"},
		{"short old secret", rdb, Config{Secrets: [][]byte{secret, []byte("short")}}, ErrShortSecret, "secret 1 is 5 bytes"},
		{"spaces", rdb, Config{Secrets: [][]byte{[]byte(strings.Repeat(" ", 32))}}, ErrWeakSecret, "secret 0 is whitespace only; generate one with: openssl rand -base64 48"},
		{"mixed whitespace", rdb, Config{Secrets: [][]byte{[]byte(strings.Repeat(" \t\r\n\v\f\t ", 5))}}, ErrWeakSecret, "whitespace only"},
		{"32 a", rdb, Config{Secrets: [][]byte{[]byte(strings.Repeat("a", 32))}}, ErrWeakSecret, "secret 0 is one byte repeated"},
		{"64 zero bytes", rdb, Config{Secrets: [][]byte{make([]byte, 64)}}, ErrWeakSecret, "one byte repeated"},
		{"old secret weak", rdb, Config{Secrets: [][]byte{secret, make([]byte, 32)}}, ErrWeakSecret, "secret 1 is one byte repeated"},
		{"short pattern", rdb, Config{Secrets: [][]byte{[]byte(strings.Repeat("abc", 11))}}, ErrWeakSecret, "fewer than 6"},
		{"16-byte block twice", rdb, Config{Secrets: [][]byte{[]byte("0123456789abcdef0123456789abcdef")}}, ErrWeakSecret, "a block of 16 bytes repeated"},
		{"7-byte block", rdb, Config{Secrets: [][]byte{[]byte(strings.Repeat("passwd!", 5))}}, ErrWeakSecret, "a block of 7 bytes repeated"},
		{"few distinct", rdb, Config{Secrets: [][]byte{[]byte("aaaaabbbbbcccccdddddeeeeeaaaaabbbbbccccc")}}, ErrWeakSecret, "made of 5 distinct bytes, fewer than 6"},
		{"SameSite=None", rdb, Config{Secrets: [][]byte{secret}, SameSite: http.SameSiteNoneMode}, ErrConfig, "SameSite=None is refused"},
		{"SameSite default mode", rdb, Config{Secrets: [][]byte{secret}, SameSite: http.SameSiteDefaultMode}, ErrConfig, "SameSite must be"},
		{"idle over absolute", rdb, Config{Secrets: [][]byte{secret}, IdleTimeout: 2 * time.Hour, AbsoluteTimeout: time.Hour}, ErrConfig, "must not exceed"},
		{"negative idle", rdb, Config{Secrets: [][]byte{secret}, IdleTimeout: -time.Second}, ErrConfig, "IdleTimeout"},
		{"negative size", rdb, Config{Secrets: [][]byte{secret}, MaxSessionBytes: -1}, ErrConfig, "MaxSessionBytes"},
		{"negative session cap", rdb, Config{Secrets: [][]byte{secret}, MaxSessionsPerUser: -2}, ErrConfig, "MaxSessionsPerUser"},
		{"sub-millisecond idle", rdb, Config{Secrets: [][]byte{secret}, IdleTimeout: time.Microsecond}, ErrConfig, "IdleTimeout must be at least 1ms"},
		{"negative absolute", rdb, Config{Secrets: [][]byte{secret}, AbsoluteTimeout: -time.Second}, ErrConfig, "AbsoluteTimeout must be at least 1ms"},
		{"undefined fingerprint action", rdb, Config{Secrets: [][]byte{secret}, Fingerprint: fingerprint.Config{UserAgent: 9}}, ErrConfig, "invalid action"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewStore(tc.rdb, tc.cfg)
			require.Error(t, err)
			assert.Nil(t, s)
			assert.ErrorIs(t, err, tc.want)
			assert.Contains(t, err.Error(), tc.msg)
			assert.True(t, strings.HasPrefix(err.Error(), "ginsession: "), err.Error())
			assert.NotContains(t, err.Error(), testSecret[:16], "an error never shows a secret")
		})
	}
}

func TestDefaultsAreDocumentedValues(t *testing.T) {
	s, err := NewStore(redistest.Client(t), Config{Secrets: [][]byte{[]byte(testSecret)}})
	require.NoError(t, err)
	assert.Equal(t, "sess:", s.cfg.KeyPrefix)
	assert.Equal(t, 30*time.Minute, s.cfg.IdleTimeout)
	assert.Equal(t, 24*time.Hour, s.cfg.AbsoluteTimeout)
	assert.Equal(t, 4096, s.cfg.MaxSessionBytes)
	assert.Equal(t, 10, s.cfg.MaxSessionsPerUser)
	assert.Equal(t, http.SameSiteStrictMode, s.defaults().SameSite)
	assert.True(t, s.defaults().Secure)
	assert.True(t, s.defaults().HttpOnly)
	assert.Equal(t, "/", s.defaults().Path)
	assert.Equal(t, 86400, s.defaults().MaxAge)
}

func TestIDsAreUniqueAndFullLength(t *testing.T) {
	seen := make(map[string]bool, 10000)
	for range 10000 {
		id := newID()
		raw, err := b64.Strict().DecodeString(id)
		require.NoError(t, err)
		require.Len(t, raw, 32)
		require.False(t, seen[id], "duplicate ID")
		seen[id] = true
	}
}

func TestCookieAttributesByDefault(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Insecure = false })
	r := h.client(chromeWin).do("POST", "/set?k=cart&v=3")
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.Len(t, r.setCookies, 1)
	raw := r.setCookies[0]
	for _, attr := range []string{"; Path=/", "; Max-Age=86400", "; HttpOnly", "; Secure", "; SameSite=Strict"} {
		assert.Contains(t, raw, attr)
	}
	assert.NotContains(t, raw, "Domain=")
	c := r.cookie(t)
	assert.Len(t, c.Value, cookieLen, "the cookie holds only the ID and its MAC")
	assert.Less(t, len(c.Name)+len(c.Value), 200)
	assert.NotContains(t, c.Value, "cart")
}

func TestInsecureDropsOnlySecure(t *testing.T) {
	h := newHarness(t, nil)
	raw := h.client(chromeWin).do("POST", "/set?k=a&v=1").setCookies[0]
	assert.NotContains(t, raw, "Secure")
	assert.Contains(t, raw, "HttpOnly")
	assert.Contains(t, raw, "SameSite=Strict")
}

func TestHostPrefixIsChecked(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		ok     bool
	}{
		{"secure host-only", func(c *Config) { c.Insecure = false }, true},
		{"insecure", nil, false},
		{"with domain", func(c *Config) { c.Insecure, c.Domain = false, "example.com" }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.mutate)
			r := gin.New()
			r.Use(sessions.Sessions("__Host-id", h.store))
			r.POST("/set", func(c *gin.Context) {
				s := sessions.Default(c)
				s.Set("a", 1)
				if err := s.Save(); err != nil {
					c.String(http.StatusInternalServerError, err.Error())
					return
				}
				c.Status(http.StatusOK)
			})
			w := httptest.NewRecorder()
			r.ServeHTTP(w, httptest.NewRequest("POST", "/set", nil))
			if tc.ok {
				assert.Equal(t, http.StatusOK, w.Code)
				assert.True(t, strings.HasPrefix(w.Header().Get("Set-Cookie"), "__Host-id="))
				return
			}
			assert.Equal(t, http.StatusInternalServerError, w.Code)
			assert.Contains(t, w.Body.String(), `cookie name "__Host-id" needs Secure, Path=/ and no Domain`)
			assert.Empty(t, w.Header().Get("Set-Cookie"))
			assert.Empty(t, h.sessionKeys())
		})
	}
}

func TestBadCookiesAreRejectedBeforeRedis(t *testing.T) {
	h := newHarness(t, nil)
	good := h.client(chromeWin)
	require.Equal(t, http.StatusOK, good.do("POST", "/set?k=a&v=1").status)
	valid := good.cookie
	otherStore, err := NewStore(h.rdb, Config{Secrets: [][]byte{[]byte("another secret, also 32 bytes or longer")}, KeyPrefix: h.prefix})
	require.NoError(t, err)
	forged := otherStore.sign(cookieName, valid[:idLen])
	tampered := []byte(valid)
	tampered[idLen+5] ^= 1
	flippedID := []byte(valid)
	flippedID[3] ^= 1
	tests := map[string]string{
		"forged with another key": forged,
		"tampered MAC":            string(tampered),
		"tampered ID":             string(flippedID),
		"4 KB":                    strings.Repeat("A", 4096),
		"not base64":              strings.Repeat("!", idLen) + "." + strings.Repeat("*", idLen),
		"ID only":                 valid[:idLen],
		"empty":                   "",
		"one byte short":          valid[:cookieLen-1],
		"one byte long":           valid + "A",
		"no dot":                  strings.Replace(valid, ".", "A", 1),
	}
	for name, value := range tests {
		t.Run(name, func(t *testing.T) {
			c := h.client(chromeWin)
			c.cookie = value
			h.count.Reset()
			r := c.do("GET", "/api/profile")
			assert.Equal(t, http.StatusUnauthorized, r.status)
			assert.JSONEq(t, `{"error":"not logged in"}`, r.body)
			assert.Zero(t, h.count.Commands(), "a bad cookie costs no Redis command: %v", h.count.Names())
			ev := h.eventsOf(EventInvalidCookie)
			if value != "" {
				require.NotEmpty(t, ev, "reported, so guessing can be counted")
				assert.NotNil(t, ev[len(ev)-1].Request)
			}
			r = c.do("GET", "/get?k=a")
			assert.Nil(t, jsonField(t, r.body, "value"), "a bad cookie never reaches a session")
			assert.Zero(t, h.count.Commands())
		})
	}
}

func TestMaxAgeNegativeDestroys(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Domain = "example.test" })
	h.store.Options(sessions.Options{Path: "/", MaxAge: 600})
	c := h.client(chromeWin)
	require.Equal(t, http.StatusOK, c.do("POST", "/set?k=a&v=1").status)
	old := c.cookie
	key := h.keyOf(old)
	require.True(t, h.exists(key))
	r := c.do("POST", "/destroy")
	require.Equal(t, http.StatusOK, r.status, r.body)
	assert.False(t, h.isSession(key), "the Redis key is deleted")
	ck := r.cookie(t)
	require.NotNil(t, ck)
	assert.Equal(t, -1, ck.MaxAge, "Max-Age=0 on the wire")
	assert.Contains(t, r.setCookies[0], "Max-Age=0")
	assert.Contains(t, r.setCookies[0], "Domain=example.test")
	assert.Contains(t, r.setCookies[0], "Path=/")
	c.cookie = old
	assert.Nil(t, jsonField(t, c.do("GET", "/get?k=a").body, "value"))
}

func TestDataModel(t *testing.T) {
	h := newHarness(t, nil)
	c := h.client(chromeWin)
	require.Equal(t, http.StatusOK, c.do("POST", "/set?k=cart&v=3").status)
	keys := h.sessionKeys()
	require.Len(t, keys, 1)
	id := c.cookie[:idLen]
	assert.Equal(t, h.keyOf(c.cookie), keys[0], "key is prefix + base64url(SHA-256(ID))")
	assert.NotContains(t, keys[0], id)
	ctx := context.Background()
	all, err := h.raw.HGetAll(ctx, keys[0]).Result()
	require.NoError(t, err)
	assert.Equal(t, "s3", all["cart"], "each value is its own field")
	assert.Contains(t, all, "_c")
	assert.Contains(t, all, "_a")
	for f, v := range all {
		assert.NotContains(t, f+v, id, "no field holds the ID")
	}
	pttl, err := h.raw.PTTL(ctx, keys[0]).Result()
	require.NoError(t, err)
	assert.Greater(t, pttl, 29*time.Minute)
	assert.LessOrEqual(t, pttl, 30*time.Minute, "TTL never above the idle timeout")
}

func TestTypesRoundTrip(t *testing.T) {
	type prefs struct {
		Theme string
		Size  int
	}
	gob.Register(prefs{})
	h := newHarness(t, nil)
	when := time.Date(2026, 11, 28, 4, 5, 6, 7, time.UTC)
	values := map[any]any{
		"s": "hé", "i": 42, "neg": -7, "i64": int64(1) << 40, "f": 3.25, "t": true, "fa": false,
		"b": []byte{0, 1, 2, 255}, "time": when, "nil": nil, "struct": prefs{"dark", 3},
		"_under": "escaped", "~tilde": "escaped", "": "empty key",
		7: "int key", 2.5: "float key", true: "bool key",
	}
	h.handler = func(c *gin.Context) {
		s := sessions.Default(c)
		if c.Request.Method == http.MethodPost {
			for k, v := range values {
				s.Set(k, v)
			}
			s.AddFlash("hello")
			s.AddFlash("again", "custom")
			saveOr500(c, s)
			return
		}
		for k, want := range values {
			got := s.Get(k)
			if !assert.Equal(t, want, got, "key %v", k) {
				continue
			}
		}
		assert.Equal(t, []any{"hello"}, s.Flashes())
		assert.Equal(t, []any{"again"}, s.Flashes("custom"))
		saveOr500(c, s)
	}
	c := h.client(chromeWin)
	require.Equal(t, http.StatusOK, c.do("POST", "/hook").status)
	require.Equal(t, http.StatusOK, c.do("GET", "/hook").status)
	all, err := h.raw.HGetAll(context.Background(), h.keyOf(c.cookie)).Result()
	require.NoError(t, err)
	assert.NotContains(t, all, "~s_flash", "consumed flashes are deleted from Redis")
	assert.Equal(t, "i42", all["i"])
	assert.Equal(t, "sescaped", all["~s_under"])
}

func TestEncodeRejectsUnregisteredTypes(t *testing.T) {
	type unregistered struct{ C chan int }
	h := newHarness(t, nil)
	h.handler = func(c *gin.Context) {
		s := sessions.Default(c)
		s.Set("x", unregistered{})
		err := s.Save()
		assert.ErrorIs(t, err, ErrEncode)
		c.Status(http.StatusNoContent)
	}
	r := h.client(chromeWin).do("POST", "/hook")
	assert.Equal(t, http.StatusNoContent, r.status)
	assert.Empty(t, r.setCookies)
	assert.Empty(t, h.sessionKeys())

	h.handler = func(c *gin.Context) { // Login refuses it too, before writing anything
		sessions.Default(c).Set("x", unregistered{})
		assert.ErrorIs(t, Login(c, "ursa"), ErrEncode)
		c.Status(http.StatusNoContent)
	}
	r = h.client(chromeWin).do("POST", "/hook")
	assert.Equal(t, http.StatusNoContent, r.status)
	assert.Empty(t, r.setCookies)
	assert.Empty(t, h.sessionKeys())
	assert.Empty(t, h.indexMembers("ursa"))
}

func TestSizeLimit(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxSessionBytes = 100 })
	c := h.client(chromeWin)
	r := c.do("POST", "/set?k=big&v="+strings.Repeat("x", 200))
	assert.Equal(t, http.StatusInternalServerError, r.status)
	assert.Contains(t, r.body, "exceed the size limit")
	assert.Empty(t, h.sessionKeys())

	h.handler = func(gc *gin.Context) { // Login refuses it too, before writing anything
		sessions.Default(gc).Set("big", strings.Repeat("x", 200))
		assert.ErrorIs(t, Login(gc, "tess"), ErrTooLarge)
		gc.Status(http.StatusNoContent)
	}
	r = c.do("POST", "/hook")
	assert.Equal(t, http.StatusNoContent, r.status)
	assert.Empty(t, r.setCookies)
	assert.Empty(t, h.sessionKeys())
	assert.Empty(t, h.indexMembers("tess"))
}

func TestNoEmptyOrNeedlessWrites(t *testing.T) {
	h := newHarness(t, nil)
	c := h.client(chromeWin)

	t.Run("read without a session", func(t *testing.T) {
		h.count.Reset()
		r := c.do("GET", "/get?k=a")
		assert.Empty(t, r.setCookies)
		assert.Zero(t, h.count.Commands())
	})
	t.Run("save with no values", func(t *testing.T) {
		h.handler = func(c *gin.Context) {
			s := sessions.Default(c)
			s.Set("a", 1)
			s.Delete("a")
			saveOr500(c, s)
		}
		r := c.do("POST", "/hook")
		assert.Equal(t, http.StatusOK, r.status)
		assert.Empty(t, r.setCookies)
		assert.Empty(t, h.sessionKeys())
	})
	require.Equal(t, http.StatusOK, c.do("POST", "/set?k=a&v=1").status)
	t.Run("read of an existing session is one round trip", func(t *testing.T) {
		h.count.Reset()
		r := c.do("GET", "/get?k=a")
		assert.Equal(t, "1", jsonField(t, r.body, "value"))
		assert.Empty(t, r.setCookies)
		assert.Equal(t, int64(1), h.count.RoundTrips(), h.count.Names())
		assert.Equal(t, int64(1), h.count.Commands(), h.count.Names())
	})
	t.Run("saving unchanged values writes nothing", func(t *testing.T) {
		h.count.Reset()
		r := c.do("POST", "/set?k=a&v=1")
		assert.Equal(t, http.StatusOK, r.status)
		assert.Empty(t, r.setCookies)
		assert.Equal(t, int64(1), h.count.Commands(), "only the load: %v", h.count.Names())
	})
	t.Run("a write is one more round trip", func(t *testing.T) {
		h.count.Reset()
		r := c.do("POST", "/set?k=b&v=2")
		assert.Equal(t, http.StatusOK, r.status)
		assert.Equal(t, int64(2), h.count.RoundTrips(), h.count.Names())
	})
	t.Run("emptying an anonymous session deletes it", func(t *testing.T) {
		key := h.keyOf(c.cookie)
		h.handler = clearAndSave
		r := c.do("POST", "/hook")
		assert.Equal(t, http.StatusOK, r.status)
		assert.False(t, h.isSession(key))
		assert.Contains(t, r.setCookies[0], "Max-Age=0")
	})
}

func TestConcurrentWritesOfDifferentKeysBothSurvive(t *testing.T) {
	h := newHarness(t, nil)
	c := h.client(chromeWin)
	require.Equal(t, http.StatusOK, c.do("POST", "/set?k=seed&v=0").status)
	for round := range 20 {
		h.concurrentSets(c.cookie, 8, fmt.Sprint(round))
	}
}

func TestStrictModeNeverAdoptsAnID(t *testing.T) {
	h := newHarness(t, nil)
	c := h.client(chromeWin)
	require.Equal(t, http.StatusOK, c.do("POST", "/set?k=a&v=1").status)
	old := c.cookie
	oldKey := h.keyOf(old)
	require.Equal(t, http.StatusOK, c.do("POST", "/destroy").status)
	require.False(t, h.exists(oldKey))

	c.cookie = old // replay the destroyed session's validly signed cookie
	r := c.do("POST", "/set?k=b&v=2")
	require.Equal(t, http.StatusOK, r.status)
	ck := r.cookie(t)
	require.NotNil(t, ck)
	assert.NotEqual(t, old[:idLen], ck.Value[:idLen], "a new ID, never the replayed one")
	assert.False(t, h.isSession(oldKey), "the old key is never recreated")
	assert.True(t, h.exists(h.keyOf(ck.Value)))
}

// heldSave starts a request on the session of cookie that loads it and
// waits; once it has loaded, heldSave returns finish, which lets the
// request set a value and Save, and returns its reply and Save's error.
func (h *harness) heldSave(cookie string) (finish func() (reply, error)) {
	h.t.Helper()
	loaded, proceed := make(chan struct{}), make(chan struct{})
	var saveErr error
	h.handler = func(c *gin.Context) {
		s := sessions.Default(c)
		_ = s.Get("a") // load
		close(loaded)
		<-proceed
		s.Set("b", 2)
		saveErr = s.Save()
		c.Status(http.StatusNoContent)
	}
	racer := h.client(chromeWin)
	racer.cookie = cookie
	done := make(chan reply)
	go func() { done <- racer.do("POST", "/hook") }()
	<-loaded
	return func() (reply, error) {
		close(proceed)
		r := <-done
		return r, saveErr
	}
}

func TestSaveRacingDestroyDoesNotResurrect(t *testing.T) {
	h := newHarness(t, nil)
	c := h.client(chromeWin)
	require.Equal(t, http.StatusOK, c.do("POST", "/set?k=a&v=1").status)
	key := h.keyOf(c.cookie)
	finish := h.heldSave(c.cookie)
	require.Equal(t, http.StatusOK, c.do("POST", "/destroy").status)
	r, saveErr := finish()
	assert.ErrorIs(t, saveErr, ErrSessionGone)
	assert.Empty(t, r.setCookies)
	assert.False(t, h.isSession(key), "the destroyed session is not recreated")
	assert.Empty(t, h.sessionKeys())
}

func TestKeyRotation(t *testing.T) {
	h := newHarness(t, nil)
	c := h.client(chromeWin)
	require.Equal(t, http.StatusOK, c.do("POST", "/set?k=a&v=1").status)
	issuedWithK1 := c.cookie

	k2 := []byte("the new secret, put first in Config.Secrets")
	rotated, err := NewStore(h.rdb, Config{Secrets: [][]byte{k2, []byte(testSecret)}, KeyPrefix: h.prefix, Insecure: true})
	require.NoError(t, err)
	srv := httptest.NewServer(h.router(cookieName, rotated))
	defer srv.Close()
	c2 := &client{h: &harness{t: t, srv: srv}, ua: chromeWin, headers: map[string]string{}, http: srv.Client(), cookie: issuedWithK1}
	r := c2.do("GET", "/get?k=a")
	assert.Equal(t, "1", jsonField(t, r.body, "value"), "a K1 cookie is accepted under [K2, K1]")
	r = c2.do("POST", "/set?k=b&v=2")
	require.Equal(t, http.StatusOK, r.status)
	ck := r.cookie(t)
	require.NotNil(t, ck, "the next write re-signs with K2")
	assert.Equal(t, issuedWithK1[:idLen], ck.Value[:idLen], "same session")
	assert.Equal(t, rotated.sign(cookieName, ck.Value[:idLen]), ck.Value)

	only2, err := NewStore(h.rdb, Config{Secrets: [][]byte{k2}, KeyPrefix: h.prefix, Insecure: true})
	require.NoError(t, err)
	_, _, ok := only2.verify(cookieName, issuedWithK1)
	assert.False(t, ok, "after K1 is dropped its cookies are rejected")
}

func TestRedisDownFailsClosed(t *testing.T) {
	h := newHarness(t, nil)
	c := h.client(chromeWin)
	require.Equal(t, http.StatusOK, c.do("POST", "/login?user=u1").status)

	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	defer dead.Close()
	down, err := NewStore(dead, Config{Secrets: [][]byte{[]byte(testSecret)}, KeyPrefix: h.prefix, Insecure: true, Logger: h.store.log})
	require.NoError(t, err)
	var getErr, saveErr error
	r := gin.New()
	r.Use(sessions.Sessions(cookieName, down))
	r.POST("/set", func(c *gin.Context) {
		_, getErr = down.Get(c.Request, cookieName)
		s := sessions.Default(c)
		s.Set("x", 1)
		saveErr = s.Save()
		c.Status(http.StatusNoContent)
	})
	r.GET("/api/profile", RequireAuth(), func(c *gin.Context) { c.Status(http.StatusOK) })
	req := httptest.NewRequest("POST", "/set", nil)
	req.Header.Set("Cookie", cookieName+"="+c.cookie)
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	assert.ErrorIs(t, getErr, ErrStoreUnavailable)
	assert.ErrorIs(t, saveErr, ErrStoreUnavailable)
	assert.Empty(t, w.Header().Values("Set-Cookie"))
	assert.NotContains(t, getErr.Error(), c.cookie[:idLen])

	req = httptest.NewRequest("GET", "/api/profile", nil)
	req.Header.Set("Cookie", cookieName+"="+c.cookie)
	req.Header.Set("User-Agent", chromeWin)
	w = httptest.NewRecorder()
	r.ServeHTTP(w, req)
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.JSONEq(t, `{"error":"session store unavailable"}`, w.Body.String())
	assert.Empty(t, w.Header().Values("Set-Cookie"))
}

func TestSessionsManyAndGorillaAPI(t *testing.T) {
	h := newHarness(t, nil)
	r := gin.New()
	r.Use(sessions.SessionsMany([]string{"a", "b"}, h.store))
	r.POST("/", func(c *gin.Context) {
		sa, sb := sessions.DefaultMany(c, "a"), sessions.DefaultMany(c, "b")
		sa.Set("n", "A")
		sb.Set("n", "B")
		require.NoError(t, sa.Save())
		require.NoError(t, sb.Save())
		assert.NotEmpty(t, sa.ID())
		assert.NotEqual(t, sa.ID(), sb.ID())
		c.Status(http.StatusOK)
	})
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest("POST", "/", nil))
	require.Equal(t, http.StatusOK, w.Code)
	cookies := w.Header().Values("Set-Cookie")
	require.Len(t, cookies, 2)
	assert.Len(t, h.sessionKeys(), 2)
	for _, raw := range cookies {
		ck, err := http.ParseSetCookie(raw)
		require.NoError(t, err)
		assert.Len(t, ck.Value, cookieLen, "only the signed ID, never the values")
	}
}

func TestSessionIDIsAReferenceNotTheSecret(t *testing.T) {
	h := newHarness(t, nil)
	c := h.client(chromeWin)
	require.Equal(t, http.StatusOK, c.do("POST", "/set?k=a&v=1").status)
	id, _ := jsonField(t, c.do("GET", "/get?k=a").body, "id").(string)
	require.NotEmpty(t, id)
	assert.NotContains(t, c.cookie, id)
	assert.Equal(t, h.store.ref(atRestName(c.cookie[:idLen])), id)
}

// TestDecodeErrorFromEveryGet stores a value that does not decode (an
// unknown type tag) next to one that does: every Get of the request
// returns ErrDecode, not only the first (which loaded the session), and
// the other value is loaded.
func TestDecodeErrorFromEveryGet(t *testing.T) {
	h := newHarness(t, nil)
	c := h.client(chromeWin)
	require.Equal(t, http.StatusOK, c.do("POST", "/set?k=good&v=1").status)
	require.NoError(t, h.raw.HSet(context.Background(), h.keyOf(c.cookie), "bad", "\x00junk").Err())
	h.handler = func(gc *gin.Context) {
		var errs []error
		for range 3 {
			sess, err := h.store.Get(gc.Request, cookieName)
			assert.Equal(t, "1", sess.Values["good"])
			errs = append(errs, err)
		}
		for i, err := range errs {
			assert.ErrorIs(t, err, ErrDecode, "Get %d", i)
		}
		gc.Status(http.StatusNoContent)
	}
	assert.Equal(t, http.StatusNoContent, c.do("GET", "/hook").status)
}

// TestUndecodableValueKeptBySaveDroppedByLogin: a stored value that does
// not decode is left as it is by Save, even when Save deletes every other
// value of an anonymous session, and dropped by Login, which moves the
// values it could decode to the new session and deletes the old one.
func TestUndecodableValueKeptBySaveDroppedByLogin(t *testing.T) {
	h := newHarness(t, nil)
	c := h.client(chromeWin)
	require.Equal(t, http.StatusOK, c.do("POST", "/set?k=good&v=1").status)
	key := h.keyOf(c.cookie)
	require.NoError(t, h.raw.HSet(context.Background(), key, "bad", "\x00junk").Err())
	fields := func(key string) map[string]string {
		all, err := h.raw.HGetAll(context.Background(), key).Result()
		require.NoError(t, err)
		return all
	}

	require.Equal(t, http.StatusOK, c.do("POST", "/set?k=other&v=2").status)
	assert.Equal(t, key, h.keyOf(c.cookie), "the same session")
	all := fields(key)
	assert.Equal(t, "\x00junk", all["bad"], "Save keeps it")
	assert.Equal(t, "s2", all["other"])
	require.Equal(t, http.StatusOK, c.do("POST", "/delete?k=good").status)
	require.Equal(t, http.StatusOK, c.do("POST", "/delete?k=other").status)
	all = fields(key)
	assert.Equal(t, "\x00junk", all["bad"], "an anonymous session left with only it is not deleted")
	assert.NotContains(t, all, "good")
	require.Equal(t, http.StatusOK, c.do("POST", "/set?k=good&v=3").status)

	require.Equal(t, http.StatusOK, c.do("POST", "/login?user=una").status)
	assert.False(t, h.isSession(key), "the pre-login session is deleted")
	all = fields(h.keyOf(c.cookie))
	assert.NotContains(t, all, "bad", "Login drops it")
	assert.Equal(t, "s3", all["good"], "and carries the values it decoded")
}

// TestSaveRacingARevocationOfARecentLogin is TestSaveRacingDestroyDoesNotResurrect
// for a session ended with a tombstone (RevokeUser within seconds of its
// login, see endScript): the Save finds a key, the tombstone, and must
// still report ErrSessionGone and write nothing into it.
func TestSaveRacingARevocationOfARecentLogin(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	c := h.login(chromeWin, "tia")
	key := h.keyOf(c.cookie)
	finish := h.heldSave(c.cookie)
	n, err := h.store.RevokeUser(ctx, "tia")
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, "1", h.raw.HGet(ctx, key, metaTombstone).Val(), "ended with a tombstone")
	ttl := h.raw.PTTL(ctx, key).Val()
	_, saveErr := finish()
	assert.ErrorIs(t, saveErr, ErrSessionGone)
	fields, err := h.raw.HKeys(ctx, key).Result()
	require.NoError(t, err)
	assert.Equal(t, []string{metaTombstone}, fields, "nothing written into the tombstone")
	assert.LessOrEqual(t, h.raw.PTTL(ctx, key).Val(), ttl, "the tombstone's TTL is not the session's")
	assert.Equal(t, http.StatusUnauthorized, h.status(c))
}

// TestSaveAfterSessionGoneKeepsNothingOfTheLogin checks what a request
// whose logged-in, remembered session was revoked while it ran can write
// after its Save got ErrSessionGone: the session is gone, so a second Save
// starts an anonymous session, which must neither be remembered (the
// longer timeouts and a 30-day cookie) nor carry the ended login's values,
// which a later Login of another user on this browser would inherit.
func TestSaveAfterSessionGoneKeepsNothingOfTheLogin(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	alice := h.client(chromeWin)
	require.Equal(t, http.StatusOK, alice.do("POST", "/login?user=alice&remember=1").status)
	require.Equal(t, http.StatusOK, alice.do("POST", "/set?k=private&v=alices").status)

	var first, second error
	h.handler = func(c *gin.Context) {
		s := sessions.Default(c)
		_ = s.Get("private")                                       // load
		_, err := h.store.RevokeUser(c.Request.Context(), "alice") // "log out everywhere" on her phone
		assert.NoError(t, err)
		s.Set("seen", "1")
		first = s.Save()
		second = s.Save() // a second save in the same request (a middleware, a retry)
		c.Status(http.StatusNoContent)
	}
	r := alice.do("POST", "/hook")
	require.ErrorIs(t, first, ErrSessionGone)
	require.NoError(t, second)

	if ck := r.cookie(t); ck != nil && ck.MaxAge > 0 {
		assert.LessOrEqual(t, ck.MaxAge, 86400, "an anonymous session's cookie is not a remembered one's")
	}
	for _, key := range h.sessionKeys() {
		all, err := h.raw.HGetAll(ctx, key).Result()
		require.NoError(t, err)
		assert.NotContains(t, all, metaRemember, "an anonymous session is never remembered")
		assert.NotContains(t, all, "private", "the ended login's values are not written again")
	}

	// Bob logs in on the same browser: Alice's values never reach him.
	require.Equal(t, http.StatusOK, alice.do("POST", "/login?user=bob").status)
	got := alice.do("GET", "/get?k=private")
	assert.Nil(t, jsonField(t, got.body, "value"), "another user's values never carry over to a login")
}

// TestConcurrentSavesKeepTheSizeLimit interleaves two requests of one
// session, each adding its own value of 3 KB (under MaxSessionBytes,
// 4096, alone; over it together): both load, then both save. Each Save
// diffs only against what its request loaded, so unless the limit is
// checked where the values meet, in Redis, the session ends up holding
// both, over the limit, and every later Save and Login of that browser
// fails with ErrTooLarge.
func TestConcurrentSavesKeepTheSizeLimit(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	c := h.client(chromeWin)
	require.Equal(t, http.StatusOK, c.do("POST", "/set?k=a&v=1").status)
	big := strings.Repeat("x", 3000)

	load := func() (*http.Request, func(k string) error) {
		r := httptest.NewRequest("POST", "/", nil)
		r.AddCookie(&http.Cookie{Name: cookieName, Value: c.cookie})
		sess, err := h.store.Get(r, cookieName)
		require.NoError(t, err)
		return r, func(k string) error {
			sess.Values[k] = big
			return h.store.Save(r, httptest.NewRecorder(), sess)
		}
	}
	_, saveA := load()
	_, saveB := load()
	errA, errB := saveA("one"), saveB("two")
	assert.False(t, errA != nil && errB != nil, "one of the two saves fits")
	for _, err := range []error{errA, errB} {
		if err != nil {
			assert.ErrorIs(t, err, ErrTooLarge)
		}
	}

	all, err := h.raw.HGetAll(ctx, h.keyOf(c.cookie)).Result()
	require.NoError(t, err)
	size := 0
	for f, v := range all {
		if !isMeta(f) {
			size += len(f) + len(v)
		}
	}
	assert.LessOrEqual(t, size, DefaultMaxSessionBytes, "the session's values stay within MaxSessionBytes")

	// What the user sees: the browser can no longer log in.
	var loginErr error
	h.handler = func(gc *gin.Context) {
		loginErr = Login(gc, "carol")
		gc.Status(http.StatusNoContent)
	}
	c.do("POST", "/hook")
	assert.False(t, errors.Is(loginErr, ErrTooLarge), "a login from this browser still works: %v", loginErr)
}

// TestSizeLimitCountsValuesThisInstanceCannotDecode: a value that another
// instance wrote (here one of an unknown type) still takes room in Redis,
// so Save counts it against MaxSessionBytes, and keeps it.
func TestSizeLimitCountsValuesThisInstanceCannotDecode(t *testing.T) {
	h := newHarness(t, nil)
	c := h.client(chromeWin)
	require.Equal(t, http.StatusOK, c.do("POST", "/set?k=a&v=1").status)
	key := h.keyOf(c.cookie)
	require.NoError(t, h.raw.HSet(context.Background(), key, "opaque", "\x00"+strings.Repeat("y", 3000)).Err())

	save := func(v string) error {
		r := httptest.NewRequest("POST", "/", nil)
		r.AddCookie(&http.Cookie{Name: cookieName, Value: c.cookie})
		sess, err := h.store.Get(r, cookieName)
		require.ErrorIs(t, err, ErrDecode)
		sess.Values["b"] = v
		return h.store.Save(r, httptest.NewRecorder(), sess)
	}
	assert.ErrorIs(t, save(strings.Repeat("x", 2000)), ErrTooLarge, "2,000 bytes more do not fit beside the 3,000 it cannot decode")
	assert.NotContains(t, h.raw.HGetAll(context.Background(), key).Val(), "b", "nothing written")
	require.NoError(t, save(strings.Repeat("x", 500)))
	all := h.raw.HGetAll(context.Background(), key).Val()
	assert.Contains(t, all, "opaque", "the value it cannot decode is kept")
	assert.Contains(t, all, "b")
}
