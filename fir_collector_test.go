package main

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/otlphttpexporter"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"go.yaml.in/yaml/v3"
)

// nopHost is a collector without extensions: the exporter needs none.
type nopHost struct{}

func (nopHost) GetExtensions() map[component.ID]component.Component { return nil }

// An OpenTelemetry Collector's otlphttp exporter, configured as the
// README shows (gzip and none, proto and JSON), exports a Fir dyno's R14
// and its memory, built with the collector's pdata, to a real dynowatch:
// each export succeeds, the R14 is the app's event and the memory its
// dyno's sample.
func TestFirTelemetryFromTheCollector(t *testing.T) {
	t.Parallel()
	block := regexp.MustCompile(`\n((?:    [^\n]*\n)*    exporters:\n(?:    [^\n]*\n)+)`).FindStringSubmatch(readme(t))
	if block == nil || !strings.Contains(block[1], "otlphttp/dynowatch:") {
		t.Fatal("README.md no longer shows the collector's otlphttp/dynowatch exporter; this test runs it")
	}
	userConfig := strings.ReplaceAll(block[1], "\n    ", "\n")[4:]
	base, logs, _ := startServer(t, map[string]string{"DRAIN_SECRET": "s3cret", "DASHBOARD_PASSWORD": "pw", "ROLLUP_FLUSH_INTERVAL": "100ms"})
	ctx := context.Background()
	for _, compression := range []string{"gzip", "none"} {
		for _, encoding := range []string{"proto", "json"} {
			app, dyno := "fir-collector-"+compression+"-"+encoding, "web-5d8f7c9b4-x7k2p"
			// As the collector's env provider and the user's edits would.
			text := strings.NewReplacer("https://<your-dynowatch>.herokuapp.com", base, "<your-app>", app, "${env:DRAIN_SECRET}", "s3cret",
				"compression: gzip", "compression: "+compression, "encoding: proto", "encoding: "+encoding).Replace(userConfig)
			exp, cfg, err := collectorExporters(t, text)
			if err != nil {
				t.Fatalf("the README's exporter config with compression %s, encoding %s: %v\n%s", compression, encoding, err, text)
			}
			if string(cfg.ClientConfig.Compression) != compression || string(cfg.Encoding) != encoding {
				t.Fatalf("the config reads as compression %q, encoding %q; want %s, %s:\n%s", cfg.ClientConfig.Compression, cfg.Encoding, compression, encoding, text)
			}
			if err := exp.logs.ConsumeLogs(ctx, firR14(app, dyno)); err != nil {
				t.Errorf("%s: the collector's log export failed: %v; logs:\n%s", app, err, logs)
			}
			if err := exp.metrics.ConsumeMetrics(ctx, firMemory(app, dyno, 400<<20)); err != nil {
				t.Errorf("%s: the collector's metric export failed: %v; logs:\n%s", app, err, logs)
			}
			exp.shutdown(t)
			assertFirR14AndMemory(t, base, app, dyno, 400)
		}
	}
}

type collectorExporter struct {
	logs    exporter.Logs
	metrics exporter.Metrics
}

// collectorExporters reads the otlphttp/dynowatch exporter of a collector
// config as the collector does, and starts its logs and metrics exporters.
// The test turns off the sending queue and retries that the user leaves
// on, so that each Consume call returns what dynowatch answered.
func collectorExporters(t *testing.T, text string) (*collectorExporter, *otlphttpexporter.Config, error) {
	t.Helper()
	var raw map[string]any
	if err := yaml.Unmarshal([]byte(text), &raw); err != nil {
		return nil, nil, err
	}
	sub, err := confmap.NewFromStringMap(raw).Sub("exporters::otlphttp/dynowatch")
	if err != nil {
		return nil, nil, err
	}
	f := otlphttpexporter.NewFactory()
	cfg := f.CreateDefaultConfig().(*otlphttpexporter.Config)
	if err := sub.Unmarshal(cfg); err != nil {
		return nil, nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	cfg.QueueConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
	cfg.RetryConfig.Enabled = false
	set := exporter.Settings{ID: component.MustNewIDWithName(f.Type().String(), "dynowatch"), BuildInfo: component.NewDefaultBuildInfo()}
	set.TelemetrySettings = component.TelemetrySettings{Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), TracerProvider: tracenoop.NewTracerProvider(),
		MeterProvider: metricnoop.NewMeterProvider(), Resource: pcommon.NewResource()}
	ctx := context.Background()
	var e collectorExporter
	if e.logs, err = f.CreateLogs(ctx, set, cfg); err != nil {
		return nil, nil, err
	}
	if e.metrics, err = f.CreateMetrics(ctx, set, cfg); err != nil {
		return nil, nil, err
	}
	for _, c := range []component.Component{e.logs, e.metrics} {
		if err := c.Start(ctx, nopHost{}); err != nil {
			return nil, nil, fmt.Errorf("start: %w", err)
		}
	}
	return &e, cfg, nil
}

func (e *collectorExporter) shutdown(t *testing.T) {
	t.Helper()
	for _, c := range []component.Component{e.logs, e.metrics} {
		if err := c.Shutdown(context.Background()); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}
}

// firR14 is a heroku-runtime R14 of app's dyno, as pdata logs.
func firR14(app, dyno string) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", app)
	rl.Resource().Attributes().PutStr("k8s.pod.name", dyno)
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("heroku-runtime")
	r := sl.LogRecords().AppendEmpty()
	r.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
	r.Body().SetStr("Error R14 (Memory quota exceeded)")
	r.Attributes().PutStr("heroku.source", "heroku-runtime")
	return ld
}

// firMemory is app's dyno using bytes of memory, as pdata metrics.
func firMemory(app, dyno string, bytes int64) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", app)
	rm.Resource().Attributes().PutStr("k8s.pod.name", dyno)
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName("heroku-runtime")
	m := sm.Metrics().AppendEmpty()
	m.SetName("process.memory.usage")
	m.SetUnit("By")
	p := m.SetEmptyGauge().DataPoints().AppendEmpty()
	p.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
	p.SetIntValue(bytes)
	return md
}
