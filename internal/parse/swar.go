package parse

import "math/bits"

// The key=value scanner spends most of its time looking for '=' and ' '. These
// look at eight bytes at a time (SWAR): Heroku's keys and values are mostly
// shorter than strings.IndexByte's vector loop needs to pay for its call.

const (
	lows  = 0x0101010101010101
	highs = 0x8080808080808080
	eqs   = '=' * lows
	sps   = ' ' * lows
	qts   = '"' * lows
)

// load8 reads s[i:i+8] as a little-endian word; the compiler merges the loads.
func load8(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// zeroBytes has the high bit set in the first byte of x that is zero (and
// possibly in later ones, which the callers ignore by taking the lowest).
func zeroBytes(x uint64) uint64 { return (x - lows) &^ x & highs }

// indexSpace returns the index of the first ' ' in s at or after i, or len(s).
func indexSpace(s string, i int) int {
	// Sixteen bytes a step while they last: request IDs, hosts and
	// timestamps are 16 to 36 bytes.
	for ; i+16 <= len(s); i += 16 {
		m1, m2 := zeroBytes(load8(s, i)^sps), zeroBytes(load8(s, i+8)^sps)
		if m1|m2 != 0 {
			if m1 != 0 {
				return i + bits.TrailingZeros64(m1)/8
			}
			return i + 8 + bits.TrailingZeros64(m2)/8
		}
	}
	for ; i+8 <= len(s); i += 8 {
		if m := zeroBytes(load8(s, i) ^ sps); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(s) && s[i] != ' '; i++ {
	}
	return i
}

// indexEqOrSpace returns the index of the first '=' or ' ' in s at or after i,
// or len(s).
func indexEqOrSpace(s string, i int) int {
	for ; i+8 <= len(s); i += 8 {
		w := load8(s, i)
		if m := zeroBytes(w^eqs) | zeroBytes(w^sps); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(s) && s[i] != '=' && s[i] != ' '; i++ {
	}
	return i
}

// indexQuote returns the index of the first '"' in s at or after i, or -1.
// Router values in quotes (path, fwd, desc) are a few dozen bytes.
func indexQuote(s string, i int) int {
	for ; i+8 <= len(s); i += 8 {
		if m := zeroBytes(load8(s, i) ^ qts); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(s); i++ {
		if s[i] == '"' {
			return i
		}
	}
	return -1
}
