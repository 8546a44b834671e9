package ginsession

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionshield/sessionshield/internal/redistest"
)

// TestMemoryPerLogin checks what one login costs in Redis (MEMORY USAGE),
// with a key prefix as long as the default "sess:" so the number is the one
// users get: at most 200 bytes for the session and 320 for the session plus
// the user's index.
func TestMemoryPerLogin(t *testing.T) {
	redistest.RequireRealRedis(t)
	b := make([]byte, 2)
	_, _ = rand.Read(b)
	prefix := "t" + hex.EncodeToString(b)[:3] + ":" // as long as "sess:"
	t.Cleanup(func() { redistest.Cleanup(prefix) })
	h := newHarness(t, func(c *Config) { c.KeyPrefix = prefix })
	h.prefix = prefix
	c := h.client(chromeWin)
	c.headers["Accept-Language"] = "en-US,en;q=0.9"
	require.Equal(t, http.StatusOK, c.do("POST", "/login?user=user-1234").status)
	require.Equal(t, http.StatusOK, c.do("GET", "/api/profile").status) // after a read, _a has moved
	ctx := context.Background()
	session, err := h.raw.MemoryUsage(ctx, h.keyOf(c.cookie)).Result()
	require.NoError(t, err)
	index, err := h.raw.MemoryUsage(ctx, prefix+"u:user-1234").Result()
	require.NoError(t, err)
	t.Logf("MEMORY USAGE: session %d bytes, index %d bytes, total %d", session, index, session+index)
	assert.LessOrEqual(t, session, int64(200))
	assert.LessOrEqual(t, session+index, int64(320))
}
