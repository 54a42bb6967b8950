package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
)

// TestREADMEFirSightingsAndMap: a dynowatch started with the README's
// OTLP_MAP reads a Fir shape it does not know built-in (the app, dyno and
// memory under the example's own names) as a memory sample, and the
// README's curl command, run by bash, copies sightings that show those
// names understood.
func TestREADMEFirSightingsAndMap(t *testing.T) {
	t.Parallel()
	text := readme(t)
	mapped := regexp.MustCompile(`heroku config:set OTLP_MAP="([^"]+)"`).FindStringSubmatch(text)
	curl := regexp.MustCompile(`\n    (curl [^\n]*/api/v1/otlp/sightings[^\n]*)`).FindStringSubmatch(text)
	if mapped == nil || curl == nil {
		t.Fatalf("README.md no longer shows the OTLP_MAP example (%q) or the sightings curl command (%q); this test runs them", mapped, curl)
	}
	base, logs, _ := startServer(t, map[string]string{"DRAIN_SECRET": "s", "DASHBOARD_PASSWORD": "pw", "OTLP_MAP": mapped[1]})

	str := func(k, v string) *commonpb.KeyValue {
		return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
	}
	body, err := proto.Marshal(&colmetricspb.ExportMetricsServiceRequest{ResourceMetrics: []*metricspb.ResourceMetrics{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("my.app.attr", "fir-shop"), str("my.instance.attr", "web-5d8f7c9b4-x7k2p")}},
		ScopeMetrics: []*metricspb.ScopeMetrics{{Scope: &commonpb.InstrumentationScope{Name: "heroku-runtime"}, Metrics: []*metricspb.Metric{{
			Name: "my.mem.metric", Unit: "By", Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: []*metricspb.NumberDataPoint{{
				TimeUnixNano: uint64(time.Now().UnixNano()), Value: &metricspb.NumberDataPoint_AsInt{AsInt: 300 << 20}}}}}}}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", base+"/otlp/v1/metrics", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("Authorization", "Bearer s")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var otlpResp colmetricspb.ExportMetricsServiceResponse
	if resp.StatusCode != http.StatusOK || proto.Unmarshal(answer, &otlpResp) != nil || otlpResp.GetPartialSuccess().GetRejectedDataPoints() != 0 {
		t.Fatalf("POST /otlp/v1/metrics: %d %q (%v); logs:\n%s", resp.StatusCode, answer, otlpResp.GetPartialSuccess(), logs)
	}

	cmd := strings.ReplaceAll(curl[1], "https://<your-dynowatch>.herokuapp.com", base)
	cmd = strings.ReplaceAll(cmd, "> sightings.json", "")
	out, err := exec.Command("bash", "-c", "DASHBOARD_PASSWORD=pw; "+cmd).Output()
	if err != nil {
		t.Fatalf("the README's curl: %v", err)
	}
	var sightings struct {
		Apps []struct {
			App          string
			ResourceKeys []struct {
				Name       string
				Understood bool
			} `json:"resource_keys"`
			Metrics []struct {
				Name, Unit string
				Understood bool
			}
		}
	}
	if err := json.Unmarshal(out, &sightings); err != nil {
		t.Fatalf("the README's curl printed no sightings: %v\n%s", err, out)
	}
	if len(sightings.Apps) != 1 || sightings.Apps[0].App != "fir-shop" || len(sightings.Apps[0].Metrics) != 1 ||
		!sightings.Apps[0].Metrics[0].Understood || sightings.Apps[0].Metrics[0].Unit != "By" {
		t.Fatalf("sightings: %s\nwant fir-shop's my.mem.metric in By, understood", out)
	}
	for _, k := range sightings.Apps[0].ResourceKeys {
		if !k.Understood {
			t.Errorf("resource key %s not understood with OTLP_MAP=%s", k.Name, mapped[1])
		}
	}
	// The dashboard's Fir page, linked from the nav, shows the same.
	req, _ = http.NewRequest("GET", base+"/fir", nil)
	req.SetBasicAuth("ops", "pw")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "my.mem.metric") || !strings.Contains(string(page), `<a href="/fir">`) {
		t.Errorf("GET /fir: %d\n%s\nwant the page with my.mem.metric, linked from the nav", resp.StatusCode, page)
	}
	// Unauthenticated, the sightings are refused.
	resp, err = http.Get(base + "/api/v1/otlp/sightings")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("sightings without the password: %d, want 401", resp.StatusCode)
	}
}
