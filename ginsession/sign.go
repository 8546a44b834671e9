package ginsession

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"hash"
	"net/http"
	"sync"
)

// cookieLen is the exact length of a cookie value: the 43-character ID, a
// dot and the 43-character base64url HMAC-SHA256 of it.
const cookieLen = idLen + 1 + idLen

// sign returns the cookie value for id: the ID and an HMAC-SHA256 over the
// cookie name and the ID with the newest cookie key.
func (s *Store) sign(name, id string) string {
	mac := s.cookieMAC(0, name, id)
	buf := make([]byte, 0, cookieLen)
	buf = append(buf, id...)
	buf = append(buf, '.')
	buf = b64.AppendEncode(buf, mac[:])
	return string(buf)
}

// macState is a pooled HMAC with a scratch buffer for its input: hmac.New
// allocates, and so does every slice passed to a hash.Hash.
type macState struct {
	h   hash.Hash
	buf []byte
	out [sha256.Size]byte
}

func newMACPool(key []byte) *sync.Pool {
	return &sync.Pool{New: func() any {
		return &macState{h: hmac.New(sha256.New, key), buf: make([]byte, 0, 128)}
	}}
}

// sum returns the HMAC-SHA256 of the parts, separated by zero bytes.
func (m *macState) sum(parts ...string) [sha256.Size]byte {
	m.buf = m.buf[:0]
	for i, p := range parts {
		if i > 0 {
			m.buf = append(m.buf, 0)
		}
		m.buf = append(m.buf, p...)
	}
	m.h.Reset()
	m.h.Write(m.buf)
	m.h.Sum(m.out[:0])
	return m.out
}

// cookieValue returns the value of the cookie called name in r, as r.Cookie
// finds it: an exact name, the first valid one in header order (the most
// specific and oldest, RFC 6265 5.4). verify then checks its form.
func cookieValue(r *http.Request, name string) (string, bool) {
	c, err := r.Cookie(name)
	if err != nil {
		return "", false
	}
	return c.Value, true
}

// cookieMAC returns the HMAC-SHA256 of the cookie name and the ID with
// cookie key k.
func (s *Store) cookieMAC(k int, name, id string) [sha256.Size]byte {
	m := s.macs[k].Get().(*macState)
	out := m.sum(name, id)
	s.macs[k].Put(m)
	return out
}

// verify checks a cookie value and returns the session ID it carries. It
// touches nothing but the value (no Redis): a cookie of the wrong length or
// alphabet, or whose MAC matches no key, is rejected. stale reports
// that an older key verified it, so the next write or guarded read
// (RequireAuth) re-signs it.
func (s *Store) verify(name, value string) (id string, stale, ok bool) {
	if len(value) != cookieLen || value[idLen] != '.' {
		return "", false, false
	}
	var raw [idBytes]byte
	if n, err := b64.Strict().Decode(raw[:], []byte(value[:idLen])); err != nil || n != idBytes {
		return "", false, false
	}
	var mac [sha256.Size]byte
	if n, err := b64.Strict().Decode(mac[:], []byte(value[idLen+1:])); err != nil || n != sha256.Size {
		return "", false, false
	}
	id = value[:idLen]
	for i := range s.cookieKeys {
		want := s.cookieMAC(i, name, id)
		if hmac.Equal(want[:], mac[:]) {
			return id, i > 0, true
		}
	}
	return "", false, false
}

// derive returns a 32-byte key for one purpose from a secret (HKDF-SHA256),
// so that the cookie MAC and the fingerprint never share a key.
func derive(secret []byte, info string) []byte {
	k, err := hkdf.Key(sha256.New, secret, nil, info, 32)
	if err != nil {
		panic("ginsession: hkdf: " + err.Error()) // only for key lengths HKDF cannot produce
	}
	return k
}
