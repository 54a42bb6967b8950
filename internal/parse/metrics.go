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
	m.Samples = make([]Sample, 0, sampleCount(e.Message))
	for key, value, rest, ok := nextPair(e.Message); ok; key, value, rest, ok = nextPair(rest) {
		switch key {
		case "source":
			m.Dyno = value
		case "dyno":
			m.DynoID = value
		default:
			if err := m.addSample(key, value, unitMB); err != nil {
				return err
			}
		}
	}
	if m.Dyno == "" {
		m.Dyno = e.Process
	}
	return checkName("runtime metrics source", m.Dyno, MaxName)
}

// parseAddonMetrics reads a Heroku Postgres, Redis or PgBouncer metrics line:
//
//	source=HEROKU_POSTGRESQL_RED addon=postgresql-tapered-27885 sample#db_size=33737964679bytes sample#active-connections=12 …
//
// Sizes are kept in bytes (db_size_bytes, memory_total_bytes from kB).
func parseAddonMetrics(e *Entry, kind Kind) error {
	e.Kind = kind
	m := &e.Metrics
	m.Samples = make([]Sample, 0, sampleCount(e.Message))
	for key, value, rest, ok := nextPair(e.Message); ok; key, value, rest, ok = nextPair(rest) {
		switch key {
		case "source":
			m.Attachment = value
		case "addon":
			m.Addon = value
		default:
			if err := m.addSample(key, value, unitBytes); err != nil {
				return err
			}
		}
	}
	if len(m.Samples) == 0 {
		return fmt.Errorf("%w: %s line without sample# values", ErrMissingField, kind)
	}
	return checkName("add-on source", m.Attachment, MaxName)
}

// sampleCount returns room for the samples of msg: its '#'s, which the
// runtime counts many bytes at a time, where counting "sample#" took a third
// of the time of the whole line.
func sampleCount(msg string) int {
	return strings.Count(msg, "#")
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
	name := sampleName(raw, suffix)
	if !ValidSampleName(name) {
		return fmt.Errorf("%w: %s is not a sample name of up to %d letters, digits and _", ErrBadValue, clipString(key), MaxSampleName)
	}
	m.Samples = append(m.Samples, Sample{Name: name, Value: v * factor})
	return nil
}

// MaxSampleName is the longest sample name kept, after the unit is folded
// in. Heroku's are under 30 bytes.
const MaxSampleName = 63

// ValidSampleName reports whether name can be a sample name: a lower-case
// letter, then up to MaxSampleName-1 lower-case letters, digits and _.
func ValidSampleName(name string) bool {
	if name == "" || len(name) > MaxSampleName || name[0] < 'a' || name[0] > 'z' {
		return false
	}
	for i := 1; i < len(name); i++ {
		if c := name[i]; (c < 'a' || c > 'z') && !isDigit(c) && c != '_' {
			return false
		}
	}
	return true
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

// knownSample returns the normalised name of a sample Heroku sends, so that
// the common ones cost no allocation; "" for any other.
func knownSample(raw, suffix string) string {
	switch suffix {
	case "":
		switch raw {
		case "load_avg_1m", "load_avg_5m", "load_avg_15m", "memory_pgpgin", "memory_pgpgout", "current_transaction", "tables",
			"client_active", "client_waiting", "server_active", "server_idle", "max_wait", "avg_query", "avg_recv", "avg_sent":
			return raw
		case "active-connections":
			return "active_connections"
		case "waiting-connections":
			return "waiting_connections"
		case "index-cache-hit-rate":
			return "index_cache_hit_rate"
		case "table-cache-hit-rate":
			return "table_cache_hit_rate"
		case "load-avg-1m":
			return "load_avg_1m"
		case "load-avg-5m":
			return "load_avg_5m"
		case "load-avg-15m":
			return "load_avg_15m"
		case "read-iops":
			return "read_iops"
		case "write-iops":
			return "write_iops"
		case "tmp-disk-used":
			return "tmp_disk_used_bytes" // bytes, written without a unit
		case "tmp-disk-available":
			return "tmp_disk_available_bytes"
		case "wal-percentage-used":
			return "wal_percentage_used"
		case "max-connections":
			return "max_connections"
		case "connections-percentage-used", "connection-percentage-used":
			return "connections_percentage_used"
		case "db-size-percentage-used":
			return "db_size_percentage_used"
		case "db-max-size":
			return "db_max_size_bytes"
		case "max-iops":
			return "max_iops"
		case "iops-percentage-used":
			return "iops_percentage_used"
		case "memory-percentage-used":
			return "memory_percentage_used"
		case "hit-rate":
			return "hit_rate"
		case "evicted-keys":
			return "evicted_keys"
		}
	case "_mb":
		switch raw {
		case "memory_total":
			return "memory_total_mb"
		case "memory_rss":
			return "memory_rss_mb"
		case "memory_cache":
			return "memory_cache_mb"
		case "memory_swap":
			return "memory_swap_mb"
		case "memory_quota":
			return "memory_quota_mb"
		}
	case "_bytes":
		switch raw {
		case "db_size":
			return "db_size_bytes"
		case "db-max-size":
			return "db_max_size_bytes"
		case "memory-total":
			return "memory_total_bytes"
		case "memory-free":
			return "memory_free_bytes"
		case "memory-cached":
			return "memory_cached_bytes"
		case "memory-postgres":
			return "memory_postgres_bytes"
		case "memory-redis":
			return "memory_redis_bytes"
		}
	}
	return ""
}

// HerokuSample reports whether name is the name parse gives a sample Heroku
// sends (log-runtime-metrics and the Postgres, Redis and PgBouncer add-ons),
// such as load_avg_1m or hit_rate, or a Fir dyno's CPU (cpu_percent, from its
// telemetry drain): these are always stored, while other names are capped.
func HerokuSample(name string) bool {
	switch name {
	case "load_avg_1m", "load_avg_5m", "load_avg_15m", "memory_pgpgin", "memory_pgpgout", "current_transaction", "tables",
		"client_active", "client_waiting", "server_active", "server_idle", "max_wait", "avg_query", "avg_recv", "avg_sent",
		"active_connections", "waiting_connections", "index_cache_hit_rate", "table_cache_hit_rate", "read_iops", "write_iops",
		"tmp_disk_used_bytes", "tmp_disk_available_bytes", "wal_percentage_used", "hit_rate", "evicted_keys",
		"max_connections", "connections_percentage_used", "db_size_percentage_used", "db_max_size_bytes", "max_iops",
		"iops_percentage_used", "memory_percentage_used",
		"cpu_percent", "memory_total_mb", "memory_rss_mb", "memory_cache_mb", "memory_swap_mb", "memory_quota_mb",
		"db_size_bytes", "memory_total_bytes", "memory_free_bytes", "memory_cached_bytes", "memory_postgres_bytes", "memory_redis_bytes":
		return true
	}
	return false
}

// renamed are the add-on samples written without a unit whose name is not
// the rule's: sizes in bytes that Heroku writes without a unit, and the
// Key-Value Store's connection-percentage-used, which is Postgres's
// connections-percentage-used (one name, plural like max_connections and
// active_connections, keeps them one series). db-max-size is taken to be in
// bytes like db_size; no line with it has been seen yet.
var renamed = map[string]string{
	"tmp_disk_used":              "tmp_disk_used_bytes",
	"tmp_disk_available":         "tmp_disk_available_bytes",
	"db_max_size":                "db_max_size_bytes",
	"connection_percentage_used": "connections_percentage_used",
}

func sampleName(raw, suffix string) string {
	if name := knownSample(raw, suffix); name != "" {
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
		if n, ok := renamed[name]; ok {
			return n
		}
	}
	if strings.HasSuffix(name, suffix) {
		return name
	}
	return name + suffix
}
