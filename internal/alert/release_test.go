package alert

import (
	"math"
	"testing"
	"time"
)

func figures(requests, s5xx int64, p95, p99 float64, h12, crashes int64) Figures {
	return Figures{Minutes: 15, Requests: requests, Status5xx: s5xx, P95: p95, P99: p99, Codes: map[string]int64{"H12": h12, "H27": 500}, Crashes: crashes}
}

func TestJudgeRelease(t *testing.T) {
	r := DefaultRules()
	rel := Release{At: t0, Version: "v139", User: "kim@example.com", Commit: "4f070772"}
	done := t0.Add(15 * time.Minute)
	for _, tc := range []struct {
		name          string
		before, after Figures
		now           time.Time
		verdict       string
		summary       string
	}{
		{"5xx doubled", figures(3000, 60, 180, 400, 0, 0), figures(3000, 150, 190, 420, 0, 0), done, VerdictWorse,
			"v139 by kim@example.com (commit 4f070772) made shop worse: 5xx 2.0% → 5.0% (15m after it against as long before); roll back: heroku rollback v138 -a shop"},
		{"nothing changed", figures(3000, 60, 180, 400, 3, 0), figures(3100, 65, 185, 380, 4, 1), done, VerdictNoChange, "v139 by kim@example.com (commit 4f070772): no change"},
		{"slower and crashing", figures(3000, 6, 180, 400, 0, 0), figures(3000, 6, 950, 2400, 30, 3), done, VerdictWorse,
			"v139 by kim@example.com (commit 4f070772) made shop worse: p95 180 ms → 950 ms, p99 400 ms → 2400 ms, H errors 0.0/min → 2.0/min, crashes 0 → 3 (15m after it against as long before); roll back: heroku rollback v138 -a shop"},
		{"fixed", figures(3000, 300, 180, 400, 0, 0), figures(3000, 3, 170, 390, 0, 0), done, VerdictBetter,
			"v139 by kim@example.com (commit 4f070772) made shop better: 5xx 10.0% → 0.1% (15m after it against as long before)"},
		// A low-traffic app: 3 requests, all failing after, do not page.
		{"three requests", figures(4, 0, 100, 100, 0, 0), figures(3, 3, 30000, 30000, 3, 0), done, VerdictFew, "v139 by kim@example.com (commit 4f070772): too few requests"},
		{"still coming", figures(3000, 60, 180, 400, 0, 0), figures(100, 50, 190, 420, 0, 0), t0.Add(5 * time.Minute), VerdictPending, "v139 by kim@example.com (commit 4f070772): pending"},
	} {
		v := r.JudgeRelease("shop", ReleaseVerdict{Release: rel, Previous: PreviousVersion(rel.Version), AfterEnd: done, Before: tc.before, After: tc.after}, tc.now)
		if v.Verdict != tc.verdict || v.Summary("shop") != tc.summary {
			t.Errorf("%s: %q, %q\nwant %q, %q", tc.name, v.Verdict, v.Summary("shop"), tc.verdict, tc.summary)
		}
		o, ok := r.ReleaseObservation("shop", v, tc.now)
		if wantAbove := tc.verdict == VerdictWorse; ok != (tc.verdict != VerdictPending) || (o.Kind == Above) != wantAbove {
			t.Errorf("%s: observation %+v, %v", tc.name, o, ok)
		}
	}
}

func TestReleaseObservedForAWindowAfterItsWindow(t *testing.T) {
	r := DefaultRules()
	v := ReleaseVerdict{Release: Release{At: t0, Version: "v9"}, AfterEnd: t0.Add(15 * time.Minute), Verdict: VerdictWorse}
	for at, want := range map[time.Duration]bool{14 * time.Minute: true, 15 * time.Minute: true, 29 * time.Minute: true, 30 * time.Minute: false} {
		v := v
		if at < 15*time.Minute {
			v.Verdict, want = VerdictPending, false
		}
		if o, ok := r.ReleaseObservation("shop", v, t0.Add(at)); ok != want || (ok && o.Key != "release|shop|v9") {
			t.Errorf("at %v: %+v, %v; want observed %v", at, o, ok, want)
		}
	}
}

func TestReleaseSpans(t *testing.T) {
	r := DefaultRules()
	rel := Release{At: t0}
	before, after := r.ReleaseSpans("shop", rel, time.Time{}, time.Time{})
	if before != [2]time.Time{t0.Add(-15 * time.Minute), t0} || after != [2]time.Time{t0, t0.Add(15 * time.Minute)} {
		t.Errorf("alone: %v %v", before, after)
	}
	// The next release 5 minutes later cuts it to 5 minutes each side; one
	// 3 minutes before cuts the span before.
	before, after = r.ReleaseSpans("shop", rel, t0.Add(-3*time.Minute), t0.Add(5*time.Minute))
	if before != [2]time.Time{t0.Add(-3 * time.Minute), t0} || after != [2]time.Time{t0, t0.Add(5 * time.Minute)} {
		t.Errorf("between two: %v %v", before, after)
	}
	if PreviousVersion("v1") != "" || PreviousVersion("4f07077") != "" || PreviousVersion("v100") != "v99" {
		t.Error("PreviousVersion")
	}
	if got := r.HPerMinute(Figures{Minutes: 10, Codes: map[string]int64{"H12": 20, "H80": 50, "H27": 9}}); got != 2 || !math.IsNaN(Figures{}.Share5xx()) {
		t.Errorf("HPerMinute = %v", got)
	}
}

// TestReleaseAtTheDailyRise: a release at 9:00, when traffic rises and
// requests fail more every day, is no regression when the same 15 minutes
// a day earlier were as bad; one worse than both is.
func TestReleaseAtTheDailyRise(t *testing.T) {
	r := DefaultRules()
	done := t0.Add(15 * time.Minute)
	v := ReleaseVerdict{Release: Release{At: t0, Version: "v139"}, AfterEnd: done,
		Before: figures(3000, 30, 180, 400, 0, 0), After: figures(6000, 240, 190, 420, 0, 0), DayBefore: figures(5800, 232, 185, 410, 0, 0)}
	if got := r.JudgeRelease("shop", v, done); got.Verdict != VerdictNoChange {
		t.Errorf("as a day earlier: %s %+v", got.Verdict, got.Changes)
	}
	v.After = figures(6000, 600, 190, 420, 0, 0) // 10%: worse than 4% a day earlier
	if got := r.JudgeRelease("shop", v, done); got.Verdict != VerdictWorse {
		t.Errorf("worse than a day earlier too: %s %+v", got.Verdict, got.Changes)
	}
	v.DayBefore = figures(20, 10, 185, 410, 0, 0) // too few requests then to say
	v.After = figures(6000, 240, 190, 420, 0, 0)
	if got := r.JudgeRelease("shop", v, done); got.Verdict != VerdictWorse {
		t.Errorf("a day earlier too quiet to compare: %s %+v", got.Verdict, got.Changes)
	}
}
