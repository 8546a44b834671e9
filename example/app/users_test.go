package app

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionshield/sessionshield/internal/redistest"
)

// newTestApp builds an application (no HTTP server) on the test Redis
// under a fresh key prefix, with one registered user.
func newTestApp(t *testing.T, email, password string) *App {
	t.Helper()
	a, err := New(Config{
		Secret:    testSecret,
		KeyPrefix: redistest.Prefix(t),
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, redistest.Client(t))
	require.NoError(t, err)
	_, err = a.users.create(t.Context(), normalizeEmail(email), password)
	require.NoError(t, err)
	return a
}

// deadRedis returns a client of a port nothing listens on.
func deadRedis(t *testing.T) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestAuthenticateValidCredentials(t *testing.T) {
	a := newTestApp(t, "Hal@Example.com", "hal's password")
	u, err := a.Authenticate(t.Context(), "hal@example.COM", "hal's password")
	require.NoError(t, err)
	require.NotNil(t, u)
	assert.Equal(t, "hal@example.com", u.Email)
	assert.NotEmpty(t, u.ID)
}

func TestAuthenticateWrongPassword(t *testing.T) {
	a := newTestApp(t, "ivy@example.com", "ivy's password")
	u, err := a.Authenticate(t.Context(), "ivy@example.com", "Ivy's password")
	assert.Nil(t, u)
	assert.ErrorIs(t, err, ErrInvalidCredentials)

	u, err = a.Authenticate(t.Context(), "nobody@example.com", "ivy's password")
	assert.Nil(t, u)
	assert.ErrorIs(t, err, ErrInvalidCredentials, "an unknown email gives the same error")
}

func TestAuthenticateEmptyFields(t *testing.T) {
	a := newTestApp(t, "jo@example.com", "jo's password")
	for _, tc := range []struct{ name, email, password string }{
		{"empty email", "", "jo's password"},
		{"empty password", "jo@example.com", ""},
		{"both empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := a.Authenticate(t.Context(), tc.email, tc.password)
			assert.Nil(t, u)
			assert.ErrorIs(t, err, ErrMissingCredentials)
		})
	}
}

func TestAuthenticateRedisDown(t *testing.T) {
	a, err := New(Config{Secret: testSecret, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, deadRedis(t))
	require.NoError(t, err)
	u, err := a.Authenticate(t.Context(), "kim@example.com", "kim's password")
	assert.Nil(t, u)
	assert.ErrorIs(t, err, ErrUnavailable)
	assert.NotErrorIs(t, err, ErrInvalidCredentials)
}

func TestPasswordHash(t *testing.T) {
	start := time.Now()
	h1 := hashPassword("same password", DefaultParams)
	t.Logf("argon2id m=19456 t=2 p=1: one hash took %v", time.Since(start))
	h2 := hashPassword("same password", DefaultParams)
	assert.NotEqual(t, h1, h2, "a fresh salt per hash")
	assert.Regexp(t, `^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`, h1)

	p, salt, key, err := parseHash(h1)
	require.NoError(t, err)
	assert.Equal(t, DefaultParams, p)
	assert.Len(t, salt, 16)
	assert.Len(t, key, 32)

	ok, _, err := verifyPassword("same password", h1)
	require.NoError(t, err)
	assert.True(t, ok)
	ok, _, err = verifyPassword("same password ", h1)
	require.NoError(t, err)
	assert.False(t, ok, "no trimming")

	for _, bad := range []string{
		"", "$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$a2V5", "$argon2id$v=16$m=19456,t=2,p=1$x$y",
		"$argon2id$v=19$m=99999999,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$" + "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U",
	} {
		_, _, err := verifyPassword("x", bad)
		assert.ErrorIs(t, err, errBadHash, bad)
	}
}

func TestRehashOnLogin(t *testing.T) {
	a := newTestApp(t, "leo@example.com", "placeholder password")
	ctx := t.Context()
	id, err := a.rdb.HGet(ctx, a.users.indexKey(), "leo@example.com").Result()
	require.NoError(t, err)
	old := Params{Memory: 12288, Time: 3, Threads: 1, SaltLen: 16, KeyLen: 32}
	require.NoError(t, a.rdb.HSet(ctx, a.users.userKey(id), "hash", hashPassword("leo's password", old)).Err())

	u, err := a.Authenticate(ctx, "leo@example.com", "leo's password")
	require.NoError(t, err)
	require.NotNil(t, u)
	h, err := a.rdb.HGet(ctx, a.users.userKey(id), "hash").Result()
	require.NoError(t, err)
	p, _, _, err := parseHash(h)
	require.NoError(t, err)
	assert.Equal(t, DefaultParams, p, "rehashed with the configured parameters")
	_, err = a.Authenticate(ctx, "leo@example.com", "leo's password")
	assert.NoError(t, err, "the new hash verifies")
}

// BenchmarkHashPassword measures one argon2id hash at DefaultParams, the
// cost of every signup and every login attempt.
func BenchmarkHashPassword(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		hashPassword("correct horse battery staple", DefaultParams)
	}
}
