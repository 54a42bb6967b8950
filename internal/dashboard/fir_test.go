package dashboard

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/otlp"
	"github.com/dynowatch/dynowatch/internal/store/storetest"
)

// sightingsFunc is a Sightings of a function.
type sightingsFunc func() otlp.SightingsReport

func (f sightingsFunc) Sightings(context.Context) (otlp.SightingsReport, error) { return f(), nil }

// The Fir page lists each app's sightings, what is not read marked, and
// says so when nothing was sent.
func TestFirPage(t *testing.T) {
	at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name   string
		report otlp.SightingsReport
		want   []string
	}{
		{"empty", otlp.SightingsReport{}, []string{"No telemetry drain has sent anything"}},
		{"apps", otlp.SightingsReport{Window: "24h", Dropped: 3, Apps: []otlp.AppSightings{
			{App: "", ResourceKeys: []otlp.Sighting{{Name: "my.app.attr", Requests: 2, LastSeen: at}}},
			{App: "fir-shop", Metrics: []otlp.Sighting{{Name: "jvm.memory.used", Unit: "By", Requests: 1, LastSeen: at}},
				LogBodies: []otlp.Sighting{{Name: "string", Understood: true, Requests: 4, LastSeen: at}}},
		}}, []string{"(no app: nothing names one)", "<td>resource key</td><td class=\"line\">my.app.attr</td><td><strong>no</strong></td>",
			"<h2>fir-shop</h2>", "jvm.memory.used <span class=\"muted\">(By)</span>", "<td>log body</td><td class=\"line\">string</td><td>yes</td>",
			"3 names were left out", "2026-11-30 12:00:00 UTC"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mux := http.NewServeMux()
			if err := Register(mux, Options{Store: storetest.MustOpenEmbedded(t), Rules: alert.DefaultRules(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
				Auth: func(h http.Handler) http.Handler { return h }, Sightings: sightingsFunc(func() otlp.SightingsReport { return tt.report })}); err != nil {
				t.Fatal(err)
			}
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, httptest.NewRequest("GET", "/fir", nil))
			if w.Code != http.StatusOK {
				t.Fatalf("status %d", w.Code)
			}
			for _, want := range tt.want {
				if !strings.Contains(w.Body.String(), want) {
					t.Errorf("page lacks %q:\n%s", want, w.Body)
				}
			}
		})
	}
}
