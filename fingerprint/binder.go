package fingerprint

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"math/bits"
	"net/http"
	"sync"
)

const (
	// formatVersion is the first byte of every stored fingerprint.
	formatVersion = 1
	// headerLen is the size of version, key ID and presence bitmap.
	headerLen = 3
	// macLen is the size of one truncated HMAC-SHA256 in a stored fingerprint.
	// 64 bits is far more than a fingerprint needs: it is not a credential
	// (an attacker never sees or forges MACs), and every wrong guess at a
	// hard field destroys the session. Smaller MACs keep a session within
	// one small Redis allocation.
	macLen = 8
	// keyInfo is the HKDF info string of fingerprint keys.
	keyInfo = "sessionshield/fingerprint/v1"
	// keyLen is the size of a derived fingerprint key.
	keyLen = 32
	// macPrefix starts every MAC input; a new format gets a new prefix.
	macPrefix = "v1\x00"
	// allFields is the presence bitmap with every defined field set.
	allFields = 1<<numFields - 1
)

// MinSecretLen is the shortest secret New accepts, in bytes.
const MinSecretLen = 32

// Binder computes and checks fingerprints with keys derived from secrets.
// A Binder is safe for concurrent use; create one with New.
type Binder struct {
	keys    [][]byte // derived keys, newest first
	ids     []byte   // ids[i] is the key ID of keys[i]
	actions [numFields + 1]Action
	pool    sync.Pool // of *scratch
}

// scratch holds per-call buffers and HMAC states, reused through a pool so
// that Compute and Check do not allocate on the hot path.
type scratch struct {
	macs []hash.Hash           // macs[i] is an HMAC with keys[i], created lazily
	msgs [numFields + 1][]byte // MAC input per field
	sum  [sha256.Size]byte
}

// New returns a Binder that applies cfg, with one key per secret derived with
// HKDF-SHA256, newest first: the first keys new fingerprints, all check them.
// It returns an error, prefixed "fingerprint: ", when there are no secrets,
// one is shorter than MinSecretLen, or cfg has an invalid Action; the error
// never contains secret bytes.
func New(secrets [][]byte, cfg Config) (*Binder, error) {
	if len(secrets) == 0 {
		return nil, errors.New("fingerprint: no secrets")
	}
	actions, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	b := &Binder{
		keys:    make([][]byte, len(secrets)),
		ids:     make([]byte, len(secrets)),
		actions: actions,
	}
	for i, s := range secrets {
		if len(s) < MinSecretLen {
			return nil, fmt.Errorf("fingerprint: secret %d is %d bytes, need at least %d", i, len(s), MinSecretLen)
		}
		k, err := hkdf.Key(sha256.New, s, nil, keyInfo, keyLen)
		if err != nil {
			return nil, fmt.Errorf("fingerprint: deriving key %d: %w", i, err)
		}
		id := sha256.Sum256(k)
		b.keys[i] = k
		b.ids[i] = id[0]
	}
	n := len(b.keys)
	b.pool.New = func() any { return &scratch{macs: make([]hash.Hash, n)} }
	return b, nil
}

// Compute returns the fingerprint of r to store server-side, next to the
// session, never in a cookie: 3 bytes plus 8 per bound field. clientIP is the
// resolved client address (a port is ignored), used only when IPPrefix is on;
// resolve it with trusted-proxy configuration. A field with no value in r is
// not bound. Compute returns nil if b was not made by New.
func (b *Binder) Compute(r *http.Request, clientIP string) []byte {
	if b == nil || len(b.keys) == 0 {
		return nil
	}
	s := b.pool.Get().(*scratch)
	defer b.pool.Put(s)

	return b.encode(s, b.canonicalize(s, r, clientIP, allFields))
}

// Rekey returns stored made again with the newest key, binding the fields
// stored binds (less those now ActionOff): the hard ones with their values,
// the soft ones with r's. It returns nil when Check finds stored malformed or
// r a hard mismatch. It costs a Check and a MAC per field.
func (b *Binder) Rekey(stored []byte, r *http.Request, clientIP string) []byte {
	if !b.Check(stored, r, clientIP).OK() {
		return nil
	}
	s := b.pool.Get().(*scratch)
	defer b.pool.Put(s)

	want := stored[2]
	for f := UserAgent; f <= IPPrefix; f++ {
		if b.actions[f] == ActionOff {
			want &^= f.bit()
		}
	}
	// Check found every hard field in want with its value, so only soft
	// ones can be missing from present.
	return b.encode(s, b.canonicalize(s, r, clientIP, want))
}

// encode returns the stored form of the fields in present, whose MAC inputs
// canonicalize has built in s, with the newest key.
func (b *Binder) encode(s *scratch, present uint8) []byte {
	out := make([]byte, headerLen, headerLen+macLen*bits.OnesCount8(present))
	out[0] = formatVersion
	out[1] = b.ids[0]
	out[2] = present
	for f := UserAgent; f <= IPPrefix; f++ {
		if present&f.bit() != 0 {
			out = append(out, b.mac(s, 0, f)...)
		}
	}
	return out
}

// canonicalize builds the MAC input of every field in want that is not ActionOff
// and has a value to bind, and returns those fields as a bitmap. A field in
// want that has no value gets a MAC input with an empty canonical value,
// which never matches a bound one; it is reported as absent.
func (b *Binder) canonicalize(s *scratch, r *http.Request, clientIP string, want uint8) (present uint8) {
	var h http.Header
	if r != nil {
		h = r.Header
	}
	for f := UserAgent; f <= IPPrefix; f++ {
		if want&f.bit() == 0 || b.actions[f] == ActionOff {
			continue
		}
		msg := append(s.msgs[f][:0], macPrefix...)
		msg = append(msg, macLabels[f]...)
		msg = append(msg, 0)
		ok := true
		switch f {
		case UserAgent:
			msg = appendUserAgent(msg, headerValue(h, "User-Agent"))
		case AcceptLanguage:
			msg, ok = appendLanguage(msg, headerValue(h, "Accept-Language"))
		case IPPrefix:
			msg, ok = appendIPPrefix(msg, clientIP)
		}
		s.msgs[f] = msg
		if ok {
			present |= f.bit()
		}
	}
	return present
}

// headerValue is h.Get for a key that is already in canonical form.
func headerValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// mac returns the truncated HMAC of field f's MAC input with keys[k]. The
// result aliases s and is valid until the next call.
func (b *Binder) mac(s *scratch, k int, f Field) []byte {
	m := s.macs[k]
	if m == nil {
		m = hmac.New(sha256.New, b.keys[k])
		s.macs[k] = m
	} else {
		m.Reset()
	}
	m.Write(s.msgs[f])
	return m.Sum(s.sum[:0])[:macLen]
}

// Check compares r with a stored fingerprint made by Compute and splits the
// mismatched fields into Result.Hard and Result.Soft by their action. Fields
// not bound at login, or now ActionOff, are not checked; a bound field
// missing from r is a mismatch. A stored value that does not parse, or whose
// key is not among the Binder's, gives a Malformed Result. Check never
// panics.
func (b *Binder) Check(stored []byte, r *http.Request, clientIP string) Result {
	if b == nil || len(b.keys) == 0 || !wellFormed(stored) {
		return Result{Malformed: true}
	}
	id, present := stored[1], stored[2]

	s := b.pool.Get().(*scratch)
	defer b.pool.Put(s)

	// Build the MAC input of every stored field that is checked now. A
	// field with no current value keeps its empty-valued input.
	var checked uint8
	b.canonicalize(s, r, clientIP, present)
	for f := UserAgent; f <= IPPrefix; f++ {
		if present&f.bit() != 0 && b.actions[f] != ActionOff {
			checked |= f.bit()
		}
	}

	// Key IDs are one byte, so two keys may share one. Try each key with
	// the stored ID and keep the one with the fewest mismatches.
	best, bestMismatch := -1, uint8(0)
	for k, kid := range b.ids {
		if kid != id {
			continue
		}
		var mismatch uint8
		off := headerLen
		for f := UserAgent; f <= IPPrefix; f++ {
			if present&f.bit() == 0 {
				continue
			}
			if checked&f.bit() != 0 && !hmac.Equal(stored[off:off+macLen], b.mac(s, k, f)) {
				mismatch |= f.bit()
			}
			off += macLen
		}
		if best < 0 || bits.OnesCount8(mismatch) < bits.OnesCount8(bestMismatch) {
			best, bestMismatch = k, mismatch
		}
		if mismatch == 0 {
			break
		}
	}
	if best < 0 {
		return Result{Malformed: true}
	}

	res := Result{OldKey: best > 0}
	for f := UserAgent; f <= IPPrefix; f++ {
		if bestMismatch&f.bit() == 0 {
			continue
		}
		switch b.actions[f] {
		case ActionHard:
			res.Hard = append(res.Hard, f)
		case ActionSoft:
			res.Soft = append(res.Soft, f)
		}
	}
	return res
}

// wellFormed reports whether stored has the version, bitmap and length of
// a fingerprint made by Compute.
func wellFormed(stored []byte) bool {
	if len(stored) < headerLen || stored[0] != formatVersion || stored[2]&^allFields != 0 {
		return false
	}
	return len(stored) == headerLen+macLen*bits.OnesCount8(stored[2])
}

// Result lists the mismatched fields, split by the action configured for
// them. The zero Result is a match.
type Result struct {
	// Hard lists mismatches of ActionHard fields, in Field order.
	Hard []Field
	// Soft lists mismatches of ActionSoft fields, in Field order.
	Soft []Field
	// Malformed reports that the stored fingerprint could not be parsed or
	// that no key matched its key ID. Treat it like a hard mismatch.
	Malformed bool
	// OldKey reports that an older secret's key, not the newest, checked
	// the stored fingerprint: that secret is being rotated out. When the
	// Result is OK, soft mismatches or not, store a fresh one from Rekey
	// (which uses the newest key and binds the same fields) so that it
	// still checks once the old secret is dropped; Compute would also bind
	// a field turned on since the login.
	OldKey bool
}

// OK reports whether the session may continue: there is no hard mismatch
// and the stored fingerprint was not Malformed. Soft mismatches may still be
// present; log them.
func (r Result) OK() bool { return len(r.Hard) == 0 && !r.Malformed }

// Fields returns the names of all mismatched fields, hard and soft, in Field
// order, for logs. It never contains raw header values or addresses. It is
// nil when nothing mismatched, including for a Malformed Result.
func (r Result) Fields() []string {
	n := len(r.Hard) + len(r.Soft)
	if n == 0 {
		return nil
	}
	var mask uint8
	for _, f := range r.Hard {
		if f.valid() {
			mask |= f.bit()
		}
	}
	for _, f := range r.Soft {
		if f.valid() {
			mask |= f.bit()
		}
	}
	names := make([]string, 0, n)
	for f := UserAgent; f <= IPPrefix; f++ {
		if mask&f.bit() != 0 {
			names = append(names, f.String())
		}
	}
	return names
}
