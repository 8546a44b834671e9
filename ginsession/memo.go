package ginsession

import (
	"math"
	"sync/atomic"
)

// refreshMemo remembers when the sessions a Store read recently last had
// their activity written, so that a read with no refresh due can be a plain
// HGETALL. It never decides that a session is live. It takes 2 MiB, allocated
// once, and no lock; docs/design.md describes its layout. The zero
// refreshMemo knows nothing.
type refreshMemo struct {
	ways *[memoBuckets * memoWays]atomic.Uint64 // bucket b is ways[b*memoWays:][:memoWays]: one 64-byte cache line
}

const (
	memoBucketBits = 15
	memoBuckets    = 1 << memoBucketBits
	memoWays       = 8
	memoTimeBits   = 24 // the low bits of a Unix ms: 4.6 hours
	memoTagBits    = 64 - memoTimeBits
	memoTimeMask   = 1<<memoTimeBits - 1
	memoTagMask    = 1<<memoTagBits - 1
	memoAhead      = 1 << 16 // ms: see memoAge
)

// newRefreshMemo returns an empty memo.
func newRefreshMemo() refreshMemo {
	return refreshMemo{ways: new([memoBuckets * memoWays]atomic.Uint64)}
}

// memoBucketTag returns the bucket and the tag of an at-rest name (43
// characters of base64url of a SHA-256), from two different 8-character
// runs of it: 48 random bits each.
func memoBucketTag(atRest string) (bucket int, tag uint64) {
	x, y := load64(atRest[:8]), load64(atRest[8:16])
	return int((x * 0x9E3779B97F4A7C15) >> (64 - memoBucketBits)), (y * 0xC2B2AE3D27D4EB4F) >> memoTimeBits
}

func load64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// memoWord is the entry for tag's write at the Unix ms at.
func memoWord(tag uint64, at int64) uint64 {
	return ((tag+uint64(at>>memoTimeBits))&memoTagMask)<<memoTimeBits | uint64(at)&memoTimeMask
}

// memoAge returns how long before the Unix ms at the write that entry w
// records was made, as far as its low bits say: negative for a write up
// to memoAhead ms after at (a concurrent record of a later write).
func memoAge(w uint64, at int64) int64 {
	age := int64((uint64(at) - w) & memoTimeMask)
	if age > memoTimeMask-memoAhead {
		age -= memoTimeMask + 1
	}
	return age
}

func (m *refreshMemo) bucket(b int) *[memoWays]atomic.Uint64 {
	return (*[memoWays]atomic.Uint64)(m.ways[b*memoWays:])
}

// fresh reports whether the session named atRest had its activity written
// at a time t with now-every < t <= now, as far as the memo knows. It
// costs one cache line and never allocates.
func (m *refreshMemo) fresh(atRest string, now, every int64) bool {
	if m.ways == nil {
		return false
	}
	b, tag := memoBucketTag(atRest)
	ways := m.bucket(b)
	cur := memoWord(tag, now) >> memoTimeBits
	for i := range ways {
		w := ways[i].Load()
		if (cur-w>>memoTimeBits)&memoTagMask > 1 {
			continue // not tag's, for a write in now's 2^24 ms or the ones before
		}
		if age := memoAge(w, now); age >= 0 && age < every && memoWord(tag, now-age) == w {
			return true
		}
	}
	return false
}

// record notes that the session named atRest had its activity written at
// the Unix ms at. It replaces the session's own entry unless that records a
// later write, else takes an empty way, else evicts the entry whose write is
// oldest (an entry older than refreshEvery is no use to fresh). If another
// record changed that way meanwhile, it looks again, once.
func (m *refreshMemo) record(atRest string, at int64) {
	if m.ways == nil {
		return
	}
	b, tag := memoBucketTag(atRest)
	ways := m.bucket(b)
	entry := memoWord(tag, at)
	for range 2 {
		victim, old, oldest := 0, uint64(0), int64(math.MinInt64)
		for i := range ways {
			w := ways[i].Load()
			age := memoAge(w, at)
			if memoWord(tag, at-age) == w { // the session's own entry
				if age <= 0 {
					return
				}
				victim, old = i, w
				break
			}
			if w == 0 {
				age = math.MaxInt64
			}
			if age > oldest {
				victim, old, oldest = i, w, age
			}
		}
		if ways[victim].CompareAndSwap(old, entry) {
			return
		}
	}
}
