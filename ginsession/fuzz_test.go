package ginsession

import (
	"bufio"
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// seedCookies reads the cookie values in testdata/cookies/seeds.txt.
func seedCookies(f *testing.F) []string {
	file, err := os.Open("../testdata/cookies/seeds.txt")
	if err != nil {
		f.Fatal(err)
	}
	defer file.Close()
	var out []string
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out
}

// FuzzVerifyCookie feeds arbitrary cookie values to the verifier: it never
// panics, and accepts a value only if it is exactly what the store signs.
func FuzzVerifyCookie(f *testing.F) {
	s, err := NewStore(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}), Config{Secrets: [][]byte{[]byte(testSecret)}})
	if err != nil {
		f.Fatal(err)
	}
	for _, v := range seedCookies(f) {
		f.Add(v)
	}
	valid := s.sign(cookieName, newID())
	f.Add(valid)
	f.Fuzz(func(t *testing.T, value string) {
		id, _, ok := s.verify(cookieName, value)
		if !ok {
			if id != "" {
				t.Fatalf("rejected value returned an ID")
			}
			return
		}
		if value != s.sign(cookieName, id) {
			t.Fatalf("accepted a value the store did not sign: %q", value)
		}
	})
}

// FuzzDecodeValue feeds arbitrary stored fields to the value decoder: a
// corrupt or hostile Redis value is an error, never a panic, and whatever
// decodes encodes again and decodes back to the same value.
func FuzzDecodeValue(f *testing.F) {
	for _, v := range []any{"s", 42, int64(-1), 3.5, true, []byte{1, 2}, nil, time.Date(2025, 1, 2, 3, 4, 5, 6, time.FixedZone("X", 3600)), []any{"flash"}} {
		e, err := encodeValue(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(e)
	}
	f.Add("g\x00\x01garbage")
	f.Add("t\x01\x02")
	f.Add("Bbytes") // as a key: a []byte, which no map can hold
	f.Fuzz(func(t *testing.T, stored string) {
		v, err := decodeValue(stored)
		if err != nil {
			return
		}
		e, err := encodeValue(v)
		if err != nil {
			t.Fatalf("decoded %T does not encode again: %v", v, err)
		}
		back, err := decodeValue(e)
		if err != nil {
			t.Fatalf("re-encoded %T does not decode: %v", v, err)
		}
		if !sameValue(v, back) {
			t.Fatalf("round trip changed the value: %#v became %#v", v, back)
		}
		if k, err := decodeKey("~" + stored); err == nil {
			_ = map[any]any{k: nil} // a key that decodes is a valid map key: no panic
		}
	})
}

// sameValue reports whether a decoded value came back the same: NaN as
// NaN, a time as the same instant in the same zone offset (a *time.Location
// is not comparable with reflect.DeepEqual: it caches lookups), anything
// else deeply equal.
func sameValue(a, b any) bool {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		return ok && (x == y || math.IsNaN(x) && math.IsNaN(y))
	case time.Time:
		y, ok := b.(time.Time)
		if !ok || !x.Equal(y) {
			return false
		}
		xn, xo := x.Zone()
		yn, yo := y.Zone()
		return xn == yn && xo == yo
	}
	return reflect.DeepEqual(a, b)
}

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
