package ginsession

import "sync/atomic"

// refreshMemo remembers, for the sessions this Store read recently, when
// their last activity (_a) was last written. A read of a session whose
// activity was written less than refreshEvery ago has nothing to refresh:
// loadScript would only read the hash and check the timeouts, and a plain
// HGETALL does that without a Lua call (about 6 µs of Redis CPU each on the
// benchmark machine), with the checks made in Go. The memo never decides that a session is live; it only lets a
// read skip a refresh that loadScript would skip too.
//
// It is a direct-mapped table of memoSlots words, 64 KiB per Store, lock
// free: each word packs a tag of the session's at-rest name and the time of
// its last write, so a word is always read whole. Two sessions that share a
// slot evict each other, and an evicted or missing entry only means the
// next read runs loadScript, as every read did before. Nothing is ever
// refreshed later than loadScript's own throttle allows.
type refreshMemo struct {
	base  int64 // Unix ms that the stored times count from
	slots [memoSlots]atomic.Uint64
}

const (
	memoSlotBits = 13
	memoSlots    = 1 << memoSlotBits
	memoTimeBits = 41 // ms after base: 69 years
	memoTagBits  = 64 - memoTimeBits
	memoTimeMask = 1<<memoTimeBits - 1
)

// memoHash mixes the first 8 characters of an at-rest name (base64url of a
// SHA-256: 48 random bits) into a word whose top bits pick the slot and
// whose next bits are the tag.
func memoHash(atRest string) uint64 {
	var x uint64
	for i := range 8 {
		x = x<<8 | uint64(atRest[i])
	}
	return x * 0x9E3779B97F4A7C15
}

func memoSlotTag(atRest string) (slot int, tag uint64) {
	h := memoHash(atRest)
	return int(h >> (64 - memoSlotBits)), (h >> (64 - memoSlotBits - memoTagBits)) & (1<<memoTagBits - 1)
}

// fresh reports whether the session named atRest had its activity written
// at a time t with now-every < t <= now.
func (m *refreshMemo) fresh(atRest string, now, every int64) bool {
	slot, tag := memoSlotTag(atRest)
	e := m.slots[slot].Load()
	if e == 0 || e>>memoTimeBits != tag {
		return false
	}
	t := m.base + int64(e&memoTimeMask)
	return t <= now && now-t < every
}

// record notes that the session named atRest had its activity written at
// the Unix ms at.
func (m *refreshMemo) record(atRest string, at int64) {
	rel := at - m.base
	if rel < 0 || rel > memoTimeMask {
		return
	}
	slot, tag := memoSlotTag(atRest)
	m.slots[slot].Store(tag<<memoTimeBits | uint64(rel))
}
