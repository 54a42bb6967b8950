package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
)

// readmeTelemetryAdd matches the README's telemetry:add commands: the URL,
// --app or --space and its name, the signals, the transport and the
// --headers argument as the shell gets it.
var readmeTelemetryAdd = regexp.MustCompile(`heroku telemetry:add (\S+) --(app|space) (\S+) --signals (\S+) --transport (\S+) \\\n\s+--headers ("[^\n]*")`)

// TestREADMEFirTelemetryDrain: the README's telemetry:add commands, run
// as Heroku's otlphttp exporter would run them against a real dynowatch
// (its URL with /v1/logs appended, the headers as the shell hands them
// to the CLI, a gzipped protobuf body), deliver a Fir app's R14 as an
// event of that app, for an app's drain and a space's; and gRPC, which
// the README says is not served, is not.
func TestREADMEFirTelemetryDrain(t *testing.T) {
	t.Parallel()
	cmds := readmeTelemetryAdd.FindAllStringSubmatch(readme(t), -1)
	if len(cmds) != 2 || cmds[0][2] != "app" || cmds[1][2] != "space" {
		t.Fatalf("README.md no longer shows the telemetry:add commands of an app and a space; this test runs them: %q", cmds)
	}
	base, logs, _ := startServer(t, map[string]string{"DRAIN_SECRET": "s3cret", "DASHBOARD_PASSWORD": "pw"})
	for i, cmd := range cmds {
		endpoint, signals, transport, headersArg := cmd[1], cmd[4], cmd[5], cmd[6]
		if signals != "logs,metrics" || transport != "http" {
			t.Errorf("README's command %d: --signals %s --transport %s, want logs,metrics and http", i, signals, transport)
		}
		// What the CLI gets from the shell, with DRAIN_SECRET set as the README says.
		out, err := exec.Command("bash", "-c", "DRAIN_SECRET=s3cret; printf %s "+headersArg).Output()
		if err != nil {
			t.Fatalf("bash: %v", err)
		}
		var headers map[string]string
		if err := json.Unmarshal(out, &headers); err != nil {
			t.Fatalf("README's --headers give %q to the CLI, not a JSON object: %v", out, err)
		}
		app := []string{"fir-shop", "fir-blog"}[i]
		endpoint = strings.NewReplacer("https://<your-dynowatch>.herokuapp.com", base, "<app-name>", app).Replace(endpoint)
		// An app's drain names its app in the URL; a space's records name theirs.
		attrs := []*commonpb.KeyValue{{Key: "k8s.pod.name", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "worker-6c9d8e7f5-abcde"}}}}
		if cmd[2] == "space" {
			attrs = append(attrs, &commonpb.KeyValue{Key: "heroku.app.name", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: app}}})
		}
		body, err := proto.Marshal(&collogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{
			Resource: &resourcepb.Resource{Attributes: attrs},
			ScopeLogs: []*logspb.ScopeLogs{{Scope: &commonpb.InstrumentationScope{Name: "heroku-runtime"}, LogRecords: []*logspb.LogRecord{{
				TimeUnixNano: uint64(time.Now().UnixNano()),
				Body:         &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "Error R14 (Memory quota exceeded)"}}}}}}}}})
		if err != nil {
			t.Fatal(err)
		}
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write(body)
		zw.Close()
		req, _ := http.NewRequest("POST", endpoint+"/v1/logs", &gz)
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		req.Header.Set("Content-Type", "application/x-protobuf")
		req.Header.Set("Content-Encoding", "gzip")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var otlpResp collogspb.ExportLogsServiceResponse
		if resp.StatusCode != http.StatusOK || proto.Unmarshal(answer, &otlpResp) != nil || otlpResp.GetPartialSuccess().GetRejectedLogRecords() != 0 {
			t.Fatalf("POST %s/v1/logs: %d %q; logs:\n%s", endpoint, resp.StatusCode, answer, logs)
		}
		var events struct {
			Events []struct{ Code, Dyno, Line string } `json:"events"`
		}
		getJSON(t, base+"/api/v1/apps/"+app+"/events?kind=dyno_error", "pw", &events)
		if len(events.Events) != 1 || events.Events[0].Code != "R14" || events.Events[0].Dyno != "worker-6c9d8e7f5-abcde" {
			t.Errorf("%s's dyno_error events: %+v, want its R14 on worker-6c9d8e7f5-abcde", app, events.Events)
		}
	}

	// gRPC (the otlp exporter) does not connect: the server speaks HTTP/1.1,
	// as Heroku's router does to a web dyno.
	u, _ := url.Parse(base)
	conn, err := grpc.NewClient(u.Host, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = collogspb.NewLogsServiceClient(conn).Export(ctx, &collogspb.ExportLogsServiceRequest{})
	if status.Code(err) != codes.Unavailable {
		t.Errorf("a gRPC export: %v, want it unable to connect (Unavailable)", err)
	}
	t.Logf("a gRPC export: %v", err)
}
