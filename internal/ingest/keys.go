package ingest

import (
	"hash/maphash"
	"time"

	"github.com/dynowatch/dynowatch/internal/store"
)

// A batch with no notable line (only requests and samples, which are
// counted in memory) is answered without a commit of its own: its dedupe key
// is remembered here, so that a retry reaching this dyno is recognised at
// once, and written with the next flush, beside the counts it stands for.
// A batch with events still commits its key with them before its 2xx.
//
// The memory is two generations of key hashes: a generation ends when it
// holds keysPerGeneration keys or is keysGenerationAge old, so a key is
// remembered for at least the shorter of the two (Logplex's three attempts
// at a batch come within a minute) and the set never takes more than about
// 2 × keysPerGeneration × 40 bytes (~5 MB).
const (
	keysPerGeneration = 65536
	keysGenerationAge = 5 * time.Minute
	// maxPendingKeys bounds the keys waiting for a flush while the store
	// can't take them (about 100 bytes each): beyond it the newest are not
	// written (their batches are still counted, and still recognised on
	// this dyno).
	maxPendingKeys = 100000
)

// recentKeys remembers the dedupe keys this dyno took lately. It is guarded
// by Pipeline.mu.
type recentKeys struct {
	seed     maphash.Seed
	cur, old map[uint64]struct{}
	since    time.Time // when cur began
}

func newRecentKeys() recentKeys {
	return recentKeys{seed: maphash.MakeSeed(), cur: map[uint64]struct{}{}, old: map[uint64]struct{}{}}
}

func (r *recentKeys) hash(app, key string) uint64 {
	var h maphash.Hash
	h.SetSeed(r.seed)
	h.WriteString(app)
	h.WriteByte(0)
	h.WriteString(key)
	return h.Sum64()
}

// claim records app's key and reports whether it was new. A 64-bit hash of
// ~130,000 keys has a chance of about 1 in 10^9 of one false duplicate.
func (r *recentKeys) claim(app, key string, now time.Time) bool {
	h := r.hash(app, key)
	if _, ok := r.cur[h]; ok {
		return false
	}
	if _, ok := r.old[h]; ok {
		return false
	}
	if len(r.cur) >= keysPerGeneration || now.Sub(r.since) >= keysGenerationAge {
		r.old, r.cur, r.since = r.cur, make(map[uint64]struct{}, len(r.cur)), now
	}
	r.cur[h] = struct{}{}
	return true
}

// forget gives a key back after its batch could not be kept, so that the
// retry is taken.
func (r *recentKeys) forget(app, key string) {
	h := r.hash(app, key)
	delete(r.cur, h)
	delete(r.old, h)
}

// pendingKey is the dedupe key of a batch answered without a commit, to be
// written with the next flush.
type pendingKey struct {
	app, key string
	received time.Time
}

func (k pendingKey) batch() *store.Batch {
	return &store.Batch{App: k.app, Key: k.key, Received: k.received}
}
