// Package metrics is what /metrics shows: the process's Prometheus
// registry (no global one) with the counters of drain requests (Logplex
// and telemetry), store writes, notifications and check runs, and gauges
// read when scraped.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are what /metrics shows, on a registry of this process: drain
// requests and messages, store writes, the alert queue, notifications.
type Metrics struct {
	reg             *prometheus.Registry
	requests        *prometheus.CounterVec
	messages        *prometheus.CounterVec
	countMismatches prometheus.Counter
	commits         *prometheus.HistogramVec
	flushes         *prometheus.HistogramVec
	notifications   *prometheus.CounterVec
	checkRuns       *prometheus.CounterVec
	otlpRequests    *prometheus.CounterVec
	otlpRecords     *prometheus.CounterVec
}

// New returns Metrics on a registry of their own, with Go's runtime and
// process collectors.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dynowatch_drain_requests_total",
			Help: "Drain requests by result: ok, duplicate (a retried batch), unauthorized, bad_app, unsupported, busy (too many in flight: 429 or 503), timeout (a body too slow), too_large, bad_request, garbage, unavailable."}, []string{"result"}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dynowatch_drain_messages_total",
			Help: "Log messages received by drains: parsed, or bad (frames that could not be parsed)."}, []string{"result"}),
		countMismatches: prometheus.NewCounter(prometheus.CounterOpts{Name: "dynowatch_drain_count_mismatches_total",
			Help: "Drain requests whose Logplex-Msg-Count disagreed with the frames in the body."}),
		commits: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "dynowatch_store_commit_seconds",
			Help: "Time to commit a group of drain batches (events and dedupe keys), before the drain answers.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}, []string{"result"}),
		flushes: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "dynowatch_store_flush_seconds",
			Help: "Time to write the in-memory rollups.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}, []string{"result"}),
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dynowatch_notifications_total",
			Help: "Notification attempts by channel and result: sent or failed."}, []string{"channel", "result"}),
		checkRuns: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dynowatch_check_runs_total",
			Help: "Status check runs by check and result: ok or failed."}, []string{"check", "result"}),
		otlpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dynowatch_otlp_requests_total",
			Help: "Telemetry drain (OTLP/HTTP) requests by signal (logs, metrics, traces) and result: ok, partial (some records not used), duplicate, unauthorized, bad_app, unsupported, busy, timeout, too_large, bad_request, unavailable."}, []string{"signal", "result"}),
		otlpRecords: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dynowatch_otlp_records_total",
			Help: "Telemetry drain log records, data points and spans by signal and what became of them: used, unattributed (no app), bad, unknown (a metric dynowatch does not read), ignored (a span that is no router request), superseded (a router span of an app whose router logs are counted)."}, []string{"signal", "result"}),
	}
	m.reg.MustRegister(m.requests, m.messages, m.countMismatches, m.commits, m.flushes, m.notifications, m.checkRuns, m.otlpRequests, m.otlpRecords,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Gauge adds a gauge read when scraped, such as a queue's depth.
func (m *Metrics) Gauge(name, help string, read func() float64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, read))
}

// Counter adds a counter read when scraped, kept by what it counts; labels
// may be nil.
func (m *Metrics) Counter(name, help string, labels map[string]string, read func() float64) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels}, read))
}

// Handler serves the registry in Prometheus's text format.
func (m *Metrics) Handler() http.Handler { return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}) }

// Request implements drain.Metrics.
func (m *Metrics) Request(result string, parsed, bad int, countMismatch bool) {
	m.requests.WithLabelValues(result).Inc()
	m.messages.WithLabelValues("parsed").Add(float64(parsed))
	m.messages.WithLabelValues("bad").Add(float64(bad))
	if countMismatch {
		m.countMismatches.Inc()
	}
}

// OTLP is the metrics' side for the telemetry drain (otlp.Metrics), whose
// Request differs from the Logplex drain's.
type OTLP struct{ m *Metrics }

// OTLP returns the metrics of the telemetry drain.
func (m *Metrics) OTLP() OTLP { return OTLP{m} }

// Request implements otlp.Metrics.
func (o OTLP) Request(signal, result string) {
	o.m.otlpRequests.WithLabelValues(signal, result).Inc()
}

// Records implements otlp.Metrics.
func (o OTLP) Records(signal, result string, n int) {
	o.m.otlpRecords.WithLabelValues(signal, result).Add(float64(n))
}

// Commit implements ingest.Metrics.
func (m *Metrics) Commit(batches int, took time.Duration, err error) {
	m.commits.WithLabelValues(result(err)).Observe(took.Seconds())
}

// Flush implements ingest.Metrics.
func (m *Metrics) Flush(took time.Duration, err error) {
	m.flushes.WithLabelValues(result(err)).Observe(took.Seconds())
}

// Delivered counts a notification attempt.
func (m *Metrics) Delivered(channel string, ok bool) {
	r := "sent"
	if !ok {
		r = "failed"
	}
	m.notifications.WithLabelValues(channel, r).Inc()
}

// CheckRan counts a status check run.
func (m *Metrics) CheckRan(check string, ok bool) {
	r := "ok"
	if !ok {
		r = "failed"
	}
	m.checkRuns.WithLabelValues(check, r).Inc()
}

func result(err error) string {
	if err != nil {
		return "error"
	}
	return "ok"
}
