package ginsession

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
