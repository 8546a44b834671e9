package ginsession

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionshield/sessionshield/internal/redistest"
)

// TestRandomSecretsAreAccepted checks CheckSecret against secrets as they
// are generated: raw crypto/rand bytes, base64 and hex of them, all of the
// minimum length. The false-positive rate of each is below 1e-12 (see the
// constants in secret.go), so a failure here is a bug, not bad luck.
func TestRandomSecretsAreAccepted(t *testing.T) {
	for range 5000 {
		raw := make([]byte, MinSecretLen)
		_, _ = rand.Read(raw)
		require.NoError(t, CheckSecret(raw))
		require.NoError(t, CheckSecret([]byte(base64.StdEncoding.EncodeToString(raw[:24]))))
		require.NoError(t, CheckSecret([]byte(hex.EncodeToString(raw[:16]))))
	}
	for _, s := range []string{testSecret, "a secret of at least thirty-two bytes, from a vault"} {
		assert.NoError(t, CheckSecret([]byte(s)), "fixture %q", s)
	}
}

func TestCheckSecret(t *testing.T) {
	tests := []struct {
		name   string
		secret string
		want   error
		msg    string
	}{
		{"empty", "", ErrNoSecret, "Secrets is required: set at least one secret of 32 bytes or more, newest first: it is empty; generate one with: openssl rand -base64 48"},
		{"short", "too short", ErrShortSecret, "it is 9 bytes; generate one with: openssl rand -base64 48"},
		{"32 spaces", strings.Repeat(" ", 32), ErrWeakSecret, "it is whitespace only"},
		{"32 a", strings.Repeat("a", 32), ErrWeakSecret, "it is one byte repeated"},
		{"period 2", strings.Repeat("ab", 16), ErrWeakSecret, "fewer than 6"},
		{"period 8", strings.Repeat("Tr0ub4d!", 4), ErrWeakSecret, "a block of 8 bytes repeated"},
		{"period 16, partial last copy", strings.Repeat("correct-horse-b!", 2) + "corr", ErrWeakSecret, "a block of 16 bytes repeated"},
		{"period 17 is allowed", strings.Repeat("correct-horse-ba!", 2), nil, ""},
		{"6 distinct is allowed", "abcdefabcdeffedcbafedcbaaabbccdd", nil, ""},
		{"5 distinct", "abcdeabcdeedcbaedcbaaabbccddeeab", ErrWeakSecret, "made of 5 distinct bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckSecret([]byte(tc.secret))
			if tc.want == nil {
				assert.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.want)
			assert.ErrorIs(t, err, ErrConfig, "every configuration error wraps ErrConfig")
			assert.Contains(t, err.Error(), tc.msg)
			if tc.secret != "" {
				assert.NotContains(t, err.Error(), tc.secret, "the error never shows the secret")
			}
		})
	}
}

// TestConfigErrorsWrapErrConfig checks that each configuration sentinel,
// and what NewStore returns for it, wraps ErrConfig, so that one
// errors.Is finds any configuration error.
func TestConfigErrorsWrapErrConfig(t *testing.T) {
	for _, sentinel := range []error{ErrNoClient, ErrNoSecret, ErrShortSecret, ErrWeakSecret} {
		assert.ErrorIs(t, sentinel, ErrConfig, "%v", sentinel)
	}
	rdb := redistest.Client(t)
	for _, tc := range []struct {
		name string
		rdb  redis.UniversalClient
		cfg  Config
		want error
	}{
		{"no client", nil, Config{Secrets: [][]byte{[]byte(testSecret)}}, ErrNoClient},
		{"no secret", rdb, Config{}, ErrNoSecret},
		{"short secret", rdb, Config{Secrets: [][]byte{[]byte("short")}}, ErrShortSecret},
		{"weak secret", rdb, Config{Secrets: [][]byte{[]byte(strings.Repeat("ab", 16))}}, ErrWeakSecret},
		{"bad timeout", rdb, Config{Secrets: [][]byte{[]byte(testSecret)}, IdleTimeout: -1}, ErrConfig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewStore(tc.rdb, tc.cfg)
			require.ErrorIs(t, err, tc.want)
			assert.ErrorIs(t, err, ErrConfig)
		})
	}
}
