package store

// What the defaults cost on Postgres: 30 days of a busy app must fit the
// smallest Heroku Postgres plan (1 GB).
//
// The app: 10 web dynos serving 1,000 requests/s together, log-runtime-metrics
// on, a Postgres and a Redis add-on, ~10 stored event lines a minute (the
// ingest caps raw lines per app, code and minute at EVENT_LINES_PER_MINUTE,
// 10; a normal month has a few codes trickling, not a storm), and Logplex
// posting ~10 batches a second.
//
// Bytes a row are measured by TestPostgresBytesPerRow (heap, TOAST and
// indexes, after VACUUM FULL, busy-app data: 6,000 requests a dyno-minute
// with lognormal service times spanning ~70 histogram buckets); the test
// fails if a change makes a row bigger than these figures.
//
//	table           rows in the retention window                 B/row     MB
//	rollups_minute  10 dynos × 1,440 min × 30 d     =   432,000   × 190  =   82
//	rollups_hourly  10 dynos × 24 h × 365 d         =    87,600   × 190  =   17
//	latency_minute  1,440 min × 30 d                =    43,200   × 650  =   28
//	latency_hourly  24 h × 365 d                    =     8,760   × 650  =    6
//	samples_minute  (10 dynos + 2 add-ons) × 43,200 =   518,400   × 330  =  171
//	samples_hourly  12 sources × 24 h × 365 d       =   105,120   × 330  =   35
//	events          10 a minute × 43,200 min        =   432,000   × 460  =  199
//	dedupe_keys     10 batches/s × 3,600 s (1 h)    =    36,000   × 170  =    6
//	apps, settings, leases, sample_names            negligible
//	alerts, outbox, outbox_channels, silences       small: an episode is ~1 KB with its evidence,
//	                                                a notification ~1.5 KB per channel; 100 alerts
//	                                                a day on 3 channels for 30 d ≈ 3 + 14 MB
//	                                                              live  ≈  544
//
// Status checks come on top, as many as the CHECK_ vars ask for: each run is
// a check_results row of ≈ 250 B (TestPostgresCheckBytesPerRow), so 10
// checks every minute for 30 days are 432,000 rows ≈ 108 MB; every=30s
// doubles that. check_latest holds one row per check.
//
// Updates leave dead rows until autovacuum reclaims them: the rows of the
// current minute are rewritten on every flush (each web dyno every
// ROLLUP_FLUSH_INTERVAL), older ones are never written again. Allowing 20%
// for that and for index slack gives ≈ 650 MB, under 1 GB with room for an
// incident's worth of extra events (each stored line ≈ 460 B: 100,000 of
// them is 46 MB).
//
// Each more router dyno adds its rollups and runtime samples: 43,200 ×
// (190 + 330) B ≈ 22 MB a month plus 4.6 MB a year of hourly rows: 20 busy
// dynos come to ≈ 815 MB live, ≈ 980 MB with the slack, the edge of the
// plan.
//
// Two choices keep rows small. The service-time histogram (int4 counts of
// ~70-110 non-empty buckets, ~500 B) is kept once per app and minute, all
// router dynos merged (latency_*), not once per router dyno: no reader asks
// for one dyno's percentiles, and per dyno it made rollup rows 543 B instead
// of 177. Samples keep their values in a float8[] indexed by sample_names,
// not as JSON repeating the names in every row (523 B a row against 273).
//
// The embedded SQLite store (one process, a local file) is smaller per row:
// histograms are varint blobs and rows carry no MVCC headers.
