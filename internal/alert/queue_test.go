package alert

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dynowatch/dynowatch/internal/parse"
)

// stormCodes are 23 router codes, as an app falling over sends them (H26,
// H27 and H28 are ignored by default and add only load).
var stormCodes = []string{"H10", "H11", "H12", "H13", "H14", "H15", "H17", "H18", "H19", "H20", "H21", "H22",
	"H23", "H24", "H25", "H26", "H27", "H28", "H31", "H81", "H82", "H83", "H99"}

// drainEntries parses lines as `heroku logs` prints them, as the drain would.
func drainEntries(t testing.TB, lines ...string) []parse.Entry {
	t.Helper()
	s := parse.NewScanner(strings.NewReader(strings.Join(lines, "\n")+"\n"), parse.FormPlain)
	var out []parse.Entry
	for s.Scan() {
		e, err := s.Entry()
		if err != nil {
			t.Fatalf("parsing %q: %v", lines, err)
		}
		out = append(out, *e)
	}
	return out
}

func routerError(code string) string {
	return `2026-11-30T10:00:00+00:00 heroku[router]: at=error code=` + code + ` desc="Request timeout" method=GET path="/" host=shop.herokuapp.com fwd=17.17.17.17 dyno=web.1 connect=6ms service=30001ms status=503 bytes=0`
}

const r14Line = "2026-11-30T10:00:01+00:00 heroku[web.1]: Error R14 (Memory quota exceeded)"

// observeStorm has apps × stormCodes router errors observed, one drain
// batch of three lines per app and code, and then an R14 from each of the
// first r14Apps apps, all before the engine gets to apply any of it.
func observeStorm(t *testing.T, e *Engine, apps, r14Apps int) {
	t.Helper()
	d := &Detector{Rules: DefaultRules()}
	for _, code := range stormCodes {
		batch := drainEntries(t, routerError(code), routerError(code), routerError(code))
		for a := range apps {
			e.Observe(d.Observe(fmt.Sprintf("app-%d", a), batch))
		}
	}
	r14 := drainEntries(t, r14Line)
	for a := range r14Apps {
		e.Observe(d.Observe(fmt.Sprintf("app-%d", a), r14))
	}
}

// TestR14PagesDuringAnHCodeStorm: 200 apps × 23 H codes observed together
// with 20 R14s (more drain batches than the engine's old queue held): every
// R14 fires, and before any router alert.
func TestR14PagesDuringAnHCodeStorm(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newMemStore()
		e, err := NewEngine(EngineOptions{Store: st, Rules: DefaultRules(), Channels: []string{"webhook"}, Logger: discard()})
		if err != nil {
			t.Fatal(err)
		}
		observeStorm(t, e, 200, 20)
		defer runEngine(t, e)()
		synctest.Wait()

		sent := st.sent()
		if len(sent) < 20 {
			t.Fatalf("%d notifications, want at least the 20 R14s", len(sent))
		}
		for i, n := range sent[:20] {
			if a := n.Alerts[0]; a.Rule != "r14" || n.Status != Firing {
				t.Fatalf("notification %d is %s %s; want the 20 R14s first", i, a.Rule, n.Status)
			}
		}
		time.Sleep(time.Second)
		synctest.Wait()
		for a := range 200 {
			for _, code := range []string{"H10", "H99"} {
				if s := st.alerts["h_codes|app-"+fmt.Sprint(a)+"|"+code]; s.Phase != PhaseFiring {
					t.Fatalf("app-%d %s: %q, want firing after the R14s", a, code, s.Phase)
				}
			}
		}
		if e.QueueDepth() != 0 || e.Folded() != 0 {
			t.Errorf("queue depth %d, folded %d; want 0 and none folded below the bound", e.QueueDepth(), e.Folded())
		}
	})
}

// TestFullAlertQueueFoldsRouterCodesNotR14s: more apps × codes than the
// queue holds alerts for. The router codes beyond the bound fold into one
// alert per app, so every app still pages; no R14 is dropped.
func TestFullAlertQueueFoldsRouterCodesNotR14s(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newMemStore()
		e, err := NewEngine(EngineOptions{Store: st, Rules: DefaultRules(), Logger: discard()})
		if err != nil {
			t.Fatal(err)
		}
		const apps = 800 // × 23 codes: over maxPendingKeys
		observeStorm(t, e, apps, apps)
		if d := e.QueueDepth(); d > maxPendingKeys+2*apps {
			t.Fatalf("queue depth %d, want at most %d alerts plus one folded alert and one R14 per app", d, maxPendingKeys+2*apps)
		}
		if e.Folded() == 0 {
			t.Fatal("nothing folded over the bound")
		}
		defer runEngine(t, e)()
		time.Sleep(time.Second)
		synctest.Wait()
		for a := range apps {
			app := fmt.Sprint("app-", a)
			if s := st.alerts["r14|"+app+"|web.1"]; s.Phase != PhaseFiring {
				t.Fatalf("%s R14: %q, want firing", app, s.Phase)
			}
			if s, folded := st.alerts["h_codes|"+app+"|H10"], st.alerts["h_codes|"+app]; s.Phase != PhaseFiring && folded.Phase != PhaseFiring {
				t.Fatalf("%s: no router alert firing", app)
			}
		}
	})
}

// runEngine runs e's loop until the returned stop is called.
func runEngine(t *testing.T, e *Engine) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.Run(ctx, 250*time.Millisecond) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// blockingStore holds the first Alert read until release is closed, then
// fails it if its context was cancelled meanwhile, as a database call does.
type blockingStore struct {
	*memStore
	reading chan struct{} // closed when the first read starts
	release chan struct{}
	once    bool
}

func (b *blockingStore) Alert(ctx context.Context, key string) (State, bool, error) {
	if !b.once {
		b.once = true
		close(b.reading)
		<-b.release
		if err := ctx.Err(); err != nil {
			return State{}, false, err
		}
	}
	return b.memStore.Alert(ctx, key)
}

// TestObservationsBeingAppliedAtSIGTERMAreKept: SIGTERM arrives while an
// R14 is being applied; it is applied all the same, not dropped with
// "context canceled".
func TestObservationsBeingAppliedAtSIGTERMAreKept(t *testing.T) {
	st := &blockingStore{memStore: newMemStore(), reading: make(chan struct{}), release: make(chan struct{})}
	e, err := NewEngine(EngineOptions{Store: st, Rules: DefaultRules(), Channels: []string{"webhook"}, Logger: discard(),
		Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.Run(ctx, 10*time.Millisecond) }()
	e.Observe([]Observation{ev(Key{Rule: RuleR14, App: "shop", Dyno: "web.1"}, t0)})
	<-st.reading
	cancel() // SIGTERM
	close(st.release)
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if sent := st.sent(); len(sent) != 1 || sent[0].Alerts[0].Rule != RuleR14 {
		t.Fatalf("notifications = %+v, want the R14", sent)
	}
}
