package app

import (
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionshield/sessionshield/ginsession"
)

// env returns a getenv over m.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

const goodSecret = "a production-like secret, 32 bytes or more"

func TestLoadConfigDevelopmentDefaults(t *testing.T) {
	c, err := LoadConfig(env(nil))
	require.NoError(t, err)
	assert.Equal(t, EnvDevelopment, c.Env)
	assert.Equal(t, "127.0.0.1:8080", c.Addr)
	assert.Empty(t, c.RedisURL, "Open falls back to localhost or miniredis")
	assert.Empty(t, c.Secret, "New generates one and warns")
	assert.Nil(t, c.TrustedProxies)
	assert.Equal(t, "id", c.CookieName())
}

func TestLoadConfigProduction(t *testing.T) {
	c, err := LoadConfig(env(map[string]string{
		"APP_ENV": "production", "REDIS_URL": "rediss://:pw@redis.internal:6380/0",
		"SESSION_SECRET": goodSecret, "PORT": "9000", "TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.1",
	}))
	require.NoError(t, err)
	assert.True(t, c.Production())
	assert.Equal(t, ":9000", c.Addr)
	assert.Equal(t, "__Host-id", c.CookieName())
	assert.Equal(t, []string{"10.0.0.0/8", "192.168.1.1"}, c.TrustedProxies)
	assert.Equal(t, RedisStandalone, c.RedisMode)
	target, err := parseRedisTarget(c.RedisMode, c.RedisURL)
	require.NoError(t, err)
	assert.True(t, target.tls(), "rediss:// turns TLS on")
}

func TestLoadConfigProductionRefusesToStart(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"no secret", map[string]string{"APP_ENV": "production", "REDIS_URL": "redis://127.0.0.1:6379"}, "SESSION_SECRET is required"},
		{"no Redis", map[string]string{"APP_ENV": "production", "SESSION_SECRET": goodSecret}, "REDIS_URL is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadConfig(env(tc.env))
			require.ErrorIs(t, err, ErrConfig)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "\n", "a one-line reason")
		})
	}
}

func TestLoadConfigRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
	}{
		{"short secret", map[string]string{"SESSION_SECRET": "too short"}},
		{"32 spaces", map[string]string{"SESSION_SECRET": "                                "}},
		{"32 a", map[string]string{"SESSION_SECRET": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}},
		{"repeated pattern", map[string]string{"SESSION_SECRET": "0123456789abcdef0123456789abcdef"}},
		{"bad APP_ENV", map[string]string{"APP_ENV": "prod"}},
		{"bad PORT", map[string]string{"PORT": "80a"}},
		{"PORT out of range", map[string]string{"PORT": "70000"}},
		{"bad proxy", map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8,not-an-ip"}},
		{"bad Redis URL", map[string]string{"REDIS_URL": "http://user:hunter2@host:6379"}},
		{"unparsable Redis URL", map[string]string{"REDIS_URL": "redis://user:hunter2@[::1"}},
		{"origin with a path", map[string]string{"ALLOWED_ORIGINS": "https://app.example.com/"}},
		{"origin without scheme", map[string]string{"ALLOWED_ORIGINS": "app.example.com"}},
		{"origin with credentials", map[string]string{"ALLOWED_ORIGINS": "https://u:p@app.example.com"}},
		{"bad LOCAL_CACHE", map[string]string{"LOCAL_CACHE": "1 second"}},
		{"negative LOCAL_CACHE", map[string]string{"LOCAL_CACHE": "-1s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadConfig(env(tc.env))
			require.ErrorIs(t, err, ErrConfig)
			assert.NotContains(t, err.Error(), "hunter2", "no password from REDIS_URL in the error")
			assert.NotContains(t, err.Error(), "\n")
		})
	}
}

// TestWeakSecretIsRefused checks both places the example takes a secret:
// SESSION_SECRET through LoadConfig and Config.Secret through New. The
// reason says how to generate a good one.
func TestWeakSecretIsRefused(t *testing.T) {
	for _, secret := range []string{"                                ", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", string(make([]byte, 64))} {
		_, err := LoadConfig(env(map[string]string{"SESSION_SECRET": secret}))
		require.ErrorIs(t, err, ErrConfig)
		assert.ErrorIs(t, err, ginsession.ErrWeakSecret)
		assert.Contains(t, err.Error(), "SESSION_SECRET")
		assert.Contains(t, err.Error(), "openssl rand -base64 48")
		assert.NotContains(t, err.Error(), "\n")

		_, err = New(Config{Secret: []byte(secret), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, deadRedis(t))
		require.ErrorIs(t, err, ErrConfig)
		assert.ErrorIs(t, err, ginsession.ErrWeakSecret)
	}
}

func TestNewProductionRequiresSecret(t *testing.T) {
	_, err := New(Config{Env: EnvProduction, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, deadRedis(t))
	assert.ErrorIs(t, err, ErrConfig)
}

func TestOpenProductionRefusesUnreachableRedis(t *testing.T) {
	_, err := Open(t.Context(), Config{
		Env: EnvProduction, RedisURL: "redis://:hunter2@127.0.0.1:1/0", Secret: []byte(goodSecret),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "does not answer")
	assert.NotContains(t, err.Error(), "hunter2")
}

func TestLoadConfigAllowedOrigins(t *testing.T) {
	c, err := LoadConfig(env(map[string]string{"ALLOWED_ORIGINS": " https://app.example.com, http://localhost:5173 ,"}))
	require.NoError(t, err)
	assert.Equal(t, []string{"https://app.example.com", "http://localhost:5173"}, c.AllowedOrigins)
}
