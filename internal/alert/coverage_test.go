package alert_test

import (
	"strings"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
)

func TestAssessCoverage(t *testing.T) {
	now := time.Date(2026, 11, 3, 14, 0, 0, 0, time.UTC)
	full := alert.CoverageFacts{FirstSeen: now.Add(-48 * time.Hour), LastMessage: now.Add(-time.Minute),
		RouterFirst: now.Add(-48 * time.Hour), RouterLast: now.Add(-time.Minute),
		RuntimeFirst: now.Add(-48 * time.Hour), RuntimeLast: now.Add(-time.Minute),
		Addons: map[string]time.Time{"redis_metrics": now.Add(-time.Minute), "postgres_metrics": now.Add(-2 * time.Minute)}}
	item := func(c alert.Coverage, name string) alert.CoverageItem {
		for _, it := range c.Items {
			if it.Name == name {
				return it
			}
		}
		t.Fatalf("%s: no item %s in %+v", c.App, name, c)
		return alert.CoverageItem{}
	}

	c := alert.AssessCoverage("shop", full, now)
	if c.Mark != "full" || item(c, "addon_metrics").Say != "add-on metrics present: postgres_metrics, redis_metrics" {
		t.Errorf("full: %+v", c)
	}

	noRuntime := full
	noRuntime.RuntimeFirst, noRuntime.RuntimeLast = time.Time{}, time.Time{}
	c = alert.AssessCoverage("shop", noRuntime, now)
	if it := item(c, "runtime_metrics"); c.Mark != "partial" || it.OK ||
		it.Fix != "heroku labs:enable log-runtime-metrics -a shop && heroku ps:restart -a shop" || !strings.Contains(it.Say, "restart") {
		t.Errorf("no runtime metrics: %+v", c)
	}

	stopped := full
	stopped.LastMessage = now.Add(-3 * time.Hour)
	if it := item(alert.AssessCoverage("shop", stopped, now), "drain"); it.OK || it.Say != "the drain stopped: no line for 3h0m0s after it used to send" {
		t.Errorf("stopped drain: %+v", it)
	}

	// A Fir app: its dyno metrics come through the telemetry drain, so no
	// labs:enable is asked of it.
	fir := alert.CoverageFacts{FirstSeen: now.Add(-time.Hour), LastMessage: now.Add(-time.Minute), FirLast: now.Add(-time.Minute)}
	c = alert.AssessCoverage("fir-shop", fir, now)
	for _, it := range c.Items {
		if it.Name == "runtime_metrics" {
			t.Errorf("Fir app asked for runtime metrics: %+v", it)
		}
	}
	if !item(c, "fir").OK || c.Mark != "partial" {
		t.Errorf("fir: %+v", c)
	}

	// Replayed history only: no drain, no line seen live.
	if c := alert.AssessCoverage("old", alert.CoverageFacts{FirstSeen: now}, now); c.Mark != "blind" || item(c, "drain").OK {
		t.Errorf("blind: %+v", c)
	}
}
