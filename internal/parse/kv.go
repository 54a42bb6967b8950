package parse

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// nextPair returns the first key=value pair of a logfmt-like message s and
// the rest of s after it, or false when s has none left. Values may be
// double-quoted or empty; words without '=' are skipped. It returns what it
// read rather than keeping it in a scanner: each string written through a
// pointer costs a write barrier while the GC runs. It never allocates.
//
//	for key, value, rest, ok := nextPair(msg); ok; key, value, rest, ok = nextPair(rest) {
func nextPair(s string) (key, value, rest string, ok bool) {
	// A byte loop beats strings.IndexByte here: keys and values are short.
	i := 0
	for {
		for i < len(s) && s[i] == ' ' {
			i++
		}
		start := i
		i = indexEqOrSpace(s, i)
		if i == len(s) {
			return "", "", "", false
		}
		if s[i] == ' ' || i == start {
			// A bare word, or one starting with '=': skip it.
			i = indexSpace(s, i)
			continue
		}
		key = s[start:i]
		i++
		if i < len(s) && s[i] == '"' {
			// Heroku does not escape quotes inside values: the value ends at
			// the next quote, or with the message.
			closing := strings.IndexByte(s[i+1:], '"')
			if closing < 0 {
				return key, s[i+1:], "", true
			}
			return key, s[i+1 : i+1+closing], s[i+2+closing:], true
		}
		end := indexSpace(s, i)
		return key, s[i:end], s[end:], true
	}
}

// splitNumber splits "30001ms", "154.85MB" or "0.9239" into the number and its unit.
func splitNumber(s string) (num, unit string) {
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	for i < len(s) && (isDigit(s[i]) || s[i] == '.') {
		i++
	}
	// An exponent, as in 1e-05, when digits follow it.
	if i+1 < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		if s[j] == '-' || s[j] == '+' {
			j++
		}
		if j < len(s) && isDigit(s[j]) {
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			i = j
		}
	}
	return s[:i], s[i:]
}

// pow10 holds the powers of ten that float64 represents exactly.
var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// parseFloat parses a finite number; JSON has no NaN or infinity.
func parseFloat(s string) (float64, bool) {
	// Fast path for the plain decimals Heroku writes (154.85, 0.99625): an
	// integer below 2^53 divided by an exact power of ten is correctly rounded,
	// as strconv would round it.
	if len(s) > 0 && len(s) <= 16 {
		var mant uint64
		frac, dot := 0, false
		i := 0
		for ; i < len(s); i++ {
			c := s[i]
			if c == '.' && !dot {
				dot = true
				continue
			}
			if !isDigit(c) {
				break
			}
			mant = mant*10 + uint64(c-'0')
			if dot {
				frac++
			}
		}
		if i == len(s) && (i > 1 || !dot) && mant < 1<<53 {
			return float64(mant) / pow10[frac], true
		}
	}
	if s == "" || !(isDigit(s[0]) || s[0] == '-' || s[0] == '+' || s[0] == '.') {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

// parseMillis reads router timings: "18ms", "18" and, defensively, "1.5ms".
func parseMillis(s string) (int, bool) {
	num, unit := splitNumber(s)
	if unit != "" && unit != "ms" {
		return 0, false
	}
	if n, ok := parseInt(num); ok {
		return n, true
	}
	f, ok := parseFloat(num)
	if !ok || f < 0 || f > math.MaxInt32 {
		return 0, false
	}
	return int(math.Round(f)), true
}

// parseInt parses a non-negative decimal integer that fits comfortably in an int.
func parseInt(s string) (int, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	return digits(s)
}

// checkName reports a name over max bytes, or with bytes other than
// printable ASCII (spaces included); what is the name of the field. An empty
// name is fine.
func checkName(what, name string, max int) error {
	if len(name) > max {
		return fmt.Errorf("%w: %s of %d bytes, limit %d", ErrBadValue, what, len(name), max)
	}
	for i := 0; i < len(name); i++ {
		if name[i] <= ' ' || name[i] > '~' {
			return fmt.Errorf("%w: %s %q is not printable ASCII", ErrBadValue, what, clipString(name))
		}
	}
	return nil
}

// isCode reports whether s is a Heroku error code of the given letter: H12.
func isCode(s string, letter byte) bool {
	return len(s) == 3 && s[0] == letter && isDigit(s[1]) && isDigit(s[2])
}
