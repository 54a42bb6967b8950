package dashboard

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/checks"
	"github.com/dynowatch/dynowatch/internal/store/storetest"
)

func TestChecksPage(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2024, 3, 15, 12, 30, 0, 0, time.UTC)
	st := storetest.MustOpenEmbedded(t)
	for i := range 10 {
		r := checks.Result{Check: "api", App: "shop", Kind: "http", Time: now.Add(time.Duration(-10+i) * time.Minute), OK: i != 7, Latency: 80 * time.Millisecond, Worker: "worker.1"}
		if !r.OK {
			r.Error = "GET https://shop.example.com/health: 503 <Service Unavailable>"
		}
		if err := st.RecordCheck(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	// 2 days ago, a failure: in the 7d uptime but not the 24h one.
	if err := st.RecordCheck(ctx, checks.Result{Check: "api", App: "shop", Kind: "http", Time: now.Add(-48 * time.Hour), Error: "timeout", Latency: time.Second, Worker: "worker.1"}); err != nil {
		t.Fatal(err)
	}
	get, _ := mustServe(t, st, now)
	code, page := get("/checks")
	if code != 200 {
		t.Fatalf("checks page: %d\n%s", code, page)
	}
	for _, want := range []string{
		`<td>api</td>`, `<td class="state ok">up</td>`, `<a href="/apps/shop">shop</a>`, `<td class="num">80 ms</td>`,
		`<td class="num">90.00%</td>`, `<td class="num">81.82%</td>`, `data-chart="check-0"`,
		`<pre>GET https://shop.example.com/health: 503 &lt;Service Unavailable&gt;</pre>`, `Last error, 3m ago`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("checks page lacks %s", want)
		}
	}
	if t.Failed() {
		t.Log(page)
	}
}

func TestAlertsPage(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2024, 3, 15, 12, 30, 0, 0, time.UTC)
	st := storetest.MustOpenEmbedded(t)
	for _, a := range []*alert.State{
		{Key: "r14|shop|web.1", Rule: "r14", App: "shop", Dyno: "web.1", Code: "R14", Severity: alert.Warning, Phase: alert.PhaseFiring, Summary: "web.1 is over its memory quota",
			StartedAt: now.Add(-5 * time.Minute), FiredAt: now.Add(-4 * time.Minute), Evidence: []string{"2024-03-15T12:25:00Z heroku[web.1]: Error R14 (Memory quota exceeded)"}},
		{Key: "h12|shop", Rule: "h12", App: "shop", Code: "H12", Severity: alert.Critical, Phase: alert.PhaseResolved, Summary: "requests time out",
			StartedAt: now.Add(-3 * time.Hour), FiredAt: now.Add(-3 * time.Hour), ResolvedAt: now.Add(-2 * time.Hour), Evidence: []string{`at=error code=H12 desc="Request timeout" path="/<b>"`}},
	} {
		if ok, err := st.SaveAlert(ctx, a, 0, nil); err != nil || !ok {
			t.Fatal(ok, err)
		}
	}
	get, _ := mustServe(t, st, now)
	code, page := get("/alerts")
	if code != 200 {
		t.Fatalf("alerts page: %d\n%s", code, page)
	}
	firing, past, ok := strings.Cut(page, "<h2>Past</h2>")
	if !ok {
		t.Fatal("no past alerts section")
	}
	for _, want := range []string{`<span class="firing">firing</span> · r14 R14`, "web.1 is over its memory quota", "Error R14 (Memory quota exceeded)", "fired 4m ago"} {
		if !strings.Contains(firing, want) {
			t.Errorf("firing alerts lack %s", want)
		}
	}
	for _, want := range []string{`<span class="resolved">resolved</span> · h12 H12`, `path=&#34;/&lt;b&gt;&#34;`, "resolved 2h ago"} {
		if !strings.Contains(past, want) {
			t.Errorf("past alerts lack %s", want)
		}
	}
	if t.Failed() {
		t.Log(page)
	}
}
