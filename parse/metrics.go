package parse

import (
	"fmt"
	"strings"
)

// parseRuntimeMetrics reads a log-runtime-metrics line:
//
//	source=web.1 dyno=heroku.2808254.d97d… sample#load_avg_1m=2.46 sample#memory_rss=21.22MB …
//
// Memory is kept in MB (memory_rss_mb), the unit Heroku reports and quotas use.
func parseRuntimeMetrics(e *Entry) error {
	e.Kind = KindRuntimeMetrics
	m := &e.Metrics
	m.Samples = make([]Sample, 0, strings.Count(e.Message, "sample#"))
	kv := kvScanner{s: e.Message}
	for kv.next() {
		switch kv.key {
		case "source":
			m.Dyno = kv.value
		case "dyno":
			m.DynoID = kv.value
		default:
			if err := m.addSample(kv.key, kv.value, unitMB); err != nil {
				return err
			}
		}
	}
	if m.Dyno == "" {
		m.Dyno = e.Process
	}
	return nil
}

// parseAddonMetrics reads a Heroku Postgres, Redis or PgBouncer metrics line:
//
//	source=HEROKU_POSTGRESQL_RED addon=postgresql-tapered-27885 sample#db_size=33737964679bytes sample#active-connections=12 …
//
// Sizes are kept in bytes (db_size_bytes, memory_total_bytes from kB).
func parseAddonMetrics(e *Entry, kind Kind) error {
	e.Kind = kind
	m := &e.Metrics
	m.Samples = make([]Sample, 0, strings.Count(e.Message, "sample#"))
	kv := kvScanner{s: e.Message}
	for kv.next() {
		switch kv.key {
		case "source":
			m.Attachment = kv.value
		case "addon":
			m.Addon = kv.value
		default:
			if err := m.addSample(kv.key, kv.value, unitBytes); err != nil {
				return err
			}
		}
	}
	if len(m.Samples) == 0 {
		return fmt.Errorf("%w: %s line without sample# values", ErrMissingField, kind)
	}
	return nil
}

// sizeUnit is the unit sizes are converted to.
type sizeUnit uint8

const (
	unitMB sizeUnit = iota
	unitBytes
)

func (m *Metrics) addSample(key, value string, size sizeUnit) error {
	raw, ok := strings.CutPrefix(key, "sample#")
	if !ok {
		return nil // unknown keys are tolerated
	}
	num, unit := splitNumber(value)
	v, ok := parseFloat(num)
	if !ok {
		return fmt.Errorf("%w: %s=%q is not a number", ErrBadValue, key, clipString(value))
	}
	factor, suffix, ok := unitFactor(unit, size)
	if !ok {
		return fmt.Errorf("%w: %s=%q has unknown unit %q", ErrBadValue, key, clipString(value), unit)
	}
	m.Samples = append(m.Samples, Sample{Name: sampleName(raw, suffix), Value: v * factor})
	return nil
}

// unitFactor returns what to multiply a value in unit by, and the suffix its
// name gets, when sizes are kept in the given unit.
func unitFactor(unit string, size sizeUnit) (float64, string, bool) {
	var bytes float64
	switch unit {
	case "":
		return 1, "", true
	case "pages":
		return 1, "", true // memory_pgpgin: a count of pages
	case "ms":
		return 1, "_ms", true
	case "bytes", "B":
		bytes = 1
	case "kB", "KB", "kb":
		bytes = 1 << 10
	case "MB", "mb":
		bytes = 1 << 20
	case "GB", "gb":
		bytes = 1 << 30
	default:
		return 0, "", false
	}
	if size == unitMB {
		return bytes / (1 << 20), "_mb", true
	}
	return bytes, "_bytes", true
}

type sampleKey struct{ raw, suffix string }

// knownSamples maps the sample names Heroku sends to their normalised names,
// so that the common ones cost no allocation. It is never written after init.
var knownSamples = func() map[sampleKey]string {
	m := map[sampleKey]string{}
	add := func(suffix string, names ...string) {
		for _, raw := range names {
			m[sampleKey{raw, suffix}] = buildSampleName(raw, suffix)
		}
	}
	add("", "load_avg_1m", "load_avg_5m", "load_avg_15m", "memory_pgpgin", "memory_pgpgout",
		"current_transaction", "tables", "active-connections", "waiting-connections",
		"index-cache-hit-rate", "table-cache-hit-rate", "load-avg-1m", "load-avg-5m", "load-avg-15m",
		"read-iops", "write-iops", "wal-percentage-used", "db-size-percentage-used", "max-connections",
		"connections-percentage-used", "connection-percentage-used", "max-iops", "iops-percentage-used",
		"memory-percentage-used", "hit-rate", "evicted-keys",
		"client_active", "client_waiting", "server_active", "server_idle", "max_wait", "avg_query", "avg_recv", "avg_sent",
		"tmp-disk-used", "tmp-disk-available")
	add("_mb", "memory_total", "memory_rss", "memory_cache", "memory_swap", "memory_quota")
	add("_bytes", "db_size", "memory-total", "memory-free", "memory-cached", "memory-postgres", "memory-redis", "db-max-size")
	return m
}()

// bytesWithoutUnit are add-on samples in bytes that Heroku writes without a unit.
var bytesWithoutUnit = map[string]string{
	"tmp_disk_used":      "tmp_disk_used_bytes",
	"tmp_disk_available": "tmp_disk_available_bytes",
}

func sampleName(raw, suffix string) string {
	if name, ok := knownSamples[sampleKey{raw, suffix}]; ok {
		return name
	}
	return buildSampleName(raw, suffix)
}

// buildSampleName turns "memory-total" and "_bytes" into "memory_total_bytes".
func buildSampleName(raw, suffix string) string {
	var b strings.Builder
	b.Grow(len(raw) + len(suffix))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '-' || c == '.':
			c = '_'
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	name := b.String()
	if suffix == "" {
		if n, ok := bytesWithoutUnit[name]; ok {
			return n
		}
	}
	if strings.HasSuffix(name, suffix) {
		return name
	}
	return name + suffix
}
