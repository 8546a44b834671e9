package ginsession

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUnhashableStoredKeyIsADecodeError stores fields whose names decode to
// keys that cannot be map keys ([]byte, a gob-encoded []any), as a corrupt
// or hostile Redis could hold: loading the session returns ErrDecode and
// keeps the other values, as for any value that does not decode, and
// never panics (a panic would take down every request for that session).
func TestUnhashableStoredKeyIsADecodeError(t *testing.T) {
	h := newHarness(t, nil)
	c := h.client(chromeWin)
	require.Equal(t, http.StatusOK, c.do("POST", "/set?k=good&v=1").status)
	gobSlice, err := encodeValue([]any{"x"})
	require.NoError(t, err)
	for _, field := range []string{"~Bbytes", "~" + gobSlice} {
		require.NoError(t, h.raw.HSet(context.Background(), h.keyOf(c.cookie), field, "s1").Err())
	}

	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: cookieName, Value: c.cookie})
	assert.NotPanics(t, func() {
		sess, err := h.store.Get(r, cookieName)
		assert.ErrorIs(t, err, ErrDecode)
		if assert.NotNil(t, sess) {
			assert.Equal(t, "1", sess.Values["good"])
		}
	})
}
