package main

import (
	"context"
	"net/url"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/metric"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
)

// The OpenTelemetry Go SDK's own OTLP/HTTP exporters, gzip on and off,
// export a Fir dyno's R14 and its memory to a real dynowatch: the export
// succeeds (the SDK reads our answers as OTLP), the R14 is the app's event
// and the memory its dyno's sample.
func TestFirTelemetryFromTheOpenTelemetrySDK(t *testing.T) {
	t.Parallel()
	base, logs, _ := startServer(t, map[string]string{"DRAIN_SECRET": "s3cret", "DASHBOARD_PASSWORD": "pw", "ROLLUP_FLUSH_INTERVAL": "100ms"})
	headers := map[string]string{"Authorization": "Bearer s3cret"}
	ctx := context.Background()
	for _, gz := range []bool{false, true} {
		app, dyno := "fir-sdk-plain", "web-5d8f7c9b4-x7k2p"
		logCompression, metricCompression := otlploghttp.NoCompression, otlpmetrichttp.NoCompression
		if gz {
			app = "fir-sdk-gzip"
			logCompression, metricCompression = otlploghttp.GzipCompression, otlpmetrichttp.GzipCompression
		}
		res := resource.NewSchemaless(attribute.String("service.name", app), attribute.String("k8s.pod.name", dyno))

		logExp, err := otlploghttp.New(ctx, otlploghttp.WithEndpointURL(base+"/otlp/v1/logs"), otlploghttp.WithHeaders(headers),
			otlploghttp.WithCompression(logCompression), otlploghttp.WithRetry(otlploghttp.RetryConfig{Enabled: false}))
		if err != nil {
			t.Fatal(err)
		}
		lp := sdklog.NewLoggerProvider(sdklog.WithResource(res), sdklog.WithProcessor(sdklog.NewSimpleProcessor(logExp)))
		var rec otellog.Record
		rec.SetTimestamp(time.Now())
		rec.SetBody(attribute.StringValue("Error R14 (Memory quota exceeded)"))
		rec.AddAttributes(attribute.String("heroku.source", "heroku-runtime"))
		lp.Logger("heroku-runtime").Emit(ctx, rec)
		if err := lp.Shutdown(ctx); err != nil {
			t.Fatalf("gzip=%v: the SDK's log export failed: %v; logs:\n%s", gz, err, logs)
		}

		metricExp, err := otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpointURL(base+"/otlp/v1/metrics"), otlpmetrichttp.WithHeaders(headers),
			otlpmetrichttp.WithCompression(metricCompression), otlpmetrichttp.WithRetry(otlpmetrichttp.RetryConfig{Enabled: false}))
		if err != nil {
			t.Fatal(err)
		}
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithResource(res), sdkmetric.WithReader(sdkmetric.NewPeriodicReader(metricExp, sdkmetric.WithInterval(time.Hour))))
		g, err := mp.Meter("heroku-runtime").Int64Gauge("process.memory.usage", metric.WithUnit("By"))
		if err != nil {
			t.Fatal(err)
		}
		g.Record(ctx, 400<<20)
		if err := mp.Shutdown(ctx); err != nil { // exports what was recorded
			t.Fatalf("gzip=%v: the SDK's metric export failed: %v; logs:\n%s", gz, err, logs)
		}

		assertFirR14AndMemory(t, base, app, dyno, 400)
	}
}

// assertFirR14AndMemory checks that app's R14 on dyno is its dyno_error
// event and that its latest memory_rss_mb on dyno is mb.
func assertFirR14AndMemory(t *testing.T, base, app, dyno string, mb float64) {
	t.Helper()
	var events struct {
		Events []struct{ Code, Dyno string } `json:"events"`
	}
	getJSON(t, base+"/api/v1/apps/"+app+"/events?kind=dyno_error", "pw", &events)
	if len(events.Events) != 1 || events.Events[0].Code != "R14" || events.Events[0].Dyno != dyno {
		t.Errorf("%s's dyno_error events: %+v, want its R14 on %s", app, events.Events, dyno)
	}
	var series struct {
		Series []struct {
			Dyno   string
			Points [][2]any
		}
	}
	for deadline := time.Now().Add(10 * time.Second); len(series.Series) == 0 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		getJSON(t, base+"/api/v1/apps/"+app+"/series?metric=memory_rss_mb&from="+url.QueryEscape(time.Now().Add(-time.Hour).Format(time.RFC3339)), "pw", &series)
	}
	if len(series.Series) != 1 || series.Series[0].Dyno != dyno || len(series.Series[0].Points) == 0 || series.Series[0].Points[len(series.Series[0].Points)-1][1] != mb {
		t.Errorf("%s's memory_rss_mb: %+v, want %v MB on %s", app, series.Series, mb, dyno)
	}
}
