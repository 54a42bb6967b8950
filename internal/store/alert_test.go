package store_test

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/notify"
	"github.com/dynowatch/dynowatch/internal/store"
	"github.com/dynowatch/dynowatch/internal/store/storetest"
)

// The conformance suite of alert state, the outbox and silences. The store
// is what the alert engine keeps its states in, what its window rules read,
// and what the sender claims the outbox from.
var (
	_ alert.Store        = (*store.Store)(nil)
	_ alert.WindowSource = (*store.Store)(nil)
	_ notify.Outbox      = (*store.Store)(nil)
)

// newAlert returns the state of an alert of app that starts at at.
func newAlert(key, app string, phase alert.Phase, at time.Time) *alert.State {
	a := &alert.State{Key: key, Rule: alert.RuleR14, App: app, Dyno: "web.1", Code: "R14", Severity: alert.Critical,
		Phase: phase, Summary: "R14 memory quota exceeded on web.1", StartedAt: at, LastEventAt: at,
		Evidence: []string{at.Format(time.RFC3339) + " heroku[web.1]: Error R14 (Memory quota exceeded)"}}
	if phase == alert.PhaseFiring {
		a.FiredAt = at
	}
	if phase == alert.PhaseResolved {
		a.ResolvedAt = at
	}
	return a
}

// message returns a notification of delivery id on channel, written at t0.
func message(id, channel, app string) alert.Outgoing {
	return alert.Outgoing{DeliveryID: id, Channel: channel, App: app, Severity: alert.Critical, CreatedAt: t0,
		Payload: fmt.Appendf(nil, `{"id": %q, "status": "firing"}`, id)}
}

// writtenAt returns msgs as written at at.
func writtenAt(at time.Time, msgs ...alert.Outgoing) []alert.Outgoing {
	for i := range msgs {
		msgs[i].CreatedAt = at
	}
	return msgs
}

// mustSaveAlert saves a over version expect and fails t unless it is saved.
func mustSaveAlert(t *testing.T, s *store.Store, a *alert.State, expect int64, out ...alert.Outgoing) {
	t.Helper()
	ok, err := s.SaveAlert(ctx, a, expect, out)
	if err != nil || !ok {
		t.Fatalf("SaveAlert(%s %s, %d) = %v, %v; want saved", a.Key, a.Phase, expect, ok, err)
	}
}

func mustAlert(t *testing.T, s *store.Store, key string) alert.State {
	t.Helper()
	a, ok, err := s.Alert(ctx, key)
	if err != nil || !ok {
		t.Fatalf("Alert(%s) = %v, %v; want a state", key, ok, err)
	}
	return a
}

func mustAlerts(t *testing.T, s *store.Store, q store.AlertQuery) []alert.State {
	t.Helper()
	as, err := s.Alerts(ctx, q)
	if err != nil {
		t.Fatalf("Alerts(%+v): %v", q, err)
	}
	return as
}

func mustOutbox(t *testing.T, s *store.Store, q store.OutboxQuery) []notify.Delivery {
	t.Helper()
	items, err := s.Outbox(ctx, q)
	if err != nil {
		t.Fatalf("Outbox(%+v): %v", q, err)
	}
	return items
}

func mustClaim(t *testing.T, s *store.Store, holder string, now time.Time, lease time.Duration, limit int) []notify.Delivery {
	t.Helper()
	items, err := s.ClaimOutbox(ctx, holder, now, lease, limit)
	if err != nil {
		t.Fatalf("ClaimOutbox(%s, %v): %v", holder, now, err)
	}
	return items
}

func mustStats(t *testing.T, s *store.Store, now time.Time) store.OutboxStats {
	t.Helper()
	st, err := s.OutboxStats(ctx, now)
	if err != nil {
		t.Fatalf("OutboxStats: %v", err)
	}
	return st
}

func deliveryIDs(items []notify.Delivery) []string {
	var ids []string
	for _, it := range items {
		ids = append(ids, it.DeliveryID)
	}
	return ids
}

// TestAlertKeepsEveryField: every field of alert.State comes back as it was
// saved. A field added to alert.State fails here until the fixture sets it,
// and then until the store keeps it.
func TestAlertKeepsEveryField(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		a := &alert.State{Key: "r14|shop|web.1", Rule: alert.RuleR14, App: "shop", Dyno: "web.1", Code: "R14",
			Severity: alert.Warning, Phase: alert.PhaseFiring, Summary: "R14 on web.1", Evidence: []string{"line 1", "line 2"},
			StartedAt: t0, FiredAt: t0.Add(time.Minute), ResolvedAt: t0.Add(2 * time.Minute), LastEventAt: t0.Add(3 * time.Minute),
			LastNotifiedAt: t0.Add(4 * time.Minute), Notified: true, Flapping: true, Transitions: []time.Time{t0.Add(time.Minute)},
			Recent: []alert.Occurrence{{At: t0, Count: 3}}, Counter: 7,
			Ack: alert.Ack{By: "Ana", At: t0.Add(5 * time.Minute), Reason: "restarting web.1"}}
		mustSaveAlert(t, s, a, 0)
		v := reflect.ValueOf(*a)
		for i := range v.NumField() {
			if v.Field(i).IsZero() {
				t.Fatalf("the fixture leaves alert.State.%s zero: set it, and keep it in the store", v.Type().Field(i).Name)
			}
		}
		if diff := cmp.Diff(*a, mustAlert(t, s, a.Key)); diff != "" {
			t.Fatalf("Alert after SaveAlert (-saved +read):\n%s", diff)
		}
	})
}

// TestAlertAck: an acknowledgement is kept with its episode, refused
// half-set, and the next episode after a resolution starts without it,
// while the acknowledged one stays in the history as it was.
func TestAlertAck(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		a := newAlert("r14|shop|web.1", "shop", alert.PhaseFiring, t0)
		mustSaveAlert(t, s, a, 0)
		half := *a
		half.Ack = alert.Ack{By: "Ana"}
		if ok, err := s.SaveAlert(ctx, &half, a.Version, nil); err == nil || ok {
			t.Fatalf("SaveAlert of an ack without a time = %v, %v; want refused", ok, err)
		}
		acked, _, err := alert.Acknowledge(*a, "Ana", "restarting web.1", t0.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		mustSaveAlert(t, s, &acked, a.Version)
		if got, want := mustAlert(t, s, a.Key).Ack, (alert.Ack{By: "Ana", At: t0.Add(time.Minute), Reason: "restarting web.1"}); got != want {
			t.Fatalf("Ack = %+v, want %+v", got, want)
		}
		resolved := acked
		resolved.Phase, resolved.ResolvedAt = alert.PhaseResolved, t0.Add(2*time.Minute)
		mustSaveAlert(t, s, &resolved, acked.Version)
		again, _ := alert.Apply(resolved, alert.Observation{Key: a.Key, Rule: alert.RuleR14, App: "shop", Dyno: "web.1", Code: "R14",
			Kind: alert.Event, At: t0.Add(time.Hour), Summary: "R14 again"}, alert.Rule{Name: alert.RuleR14, Enabled: true, Threshold: 1,
			Window: time.Minute, Severity: alert.Critical}, alert.Policy{FlapChanges: 5, FlapWindow: time.Hour}, false)
		mustSaveAlert(t, s, &again, resolved.Version)
		if cur := mustAlert(t, s, a.Key); cur.Phase != alert.PhaseFiring || cur.Acked() || cur.ID == a.ID {
			t.Fatalf("new episode: phase %s, acked %v (%+v), id %d (first %d); want a new firing one, not acknowledged",
				cur.Phase, cur.Acked(), cur.Ack, cur.ID, a.ID)
		}
		hist := mustAlerts(t, s, store.AlertQuery{Key: a.Key})
		if len(hist) != 2 || hist[1].Ack.By != "Ana" || hist[0].Acked() {
			t.Fatalf("history = %+v; want the new episode, then the acknowledged one", hist)
		}
	})
}

func TestSaveAlertCompareAndSet(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		if _, ok, err := s.Alert(ctx, "r14/shop/web.1"); err != nil || ok {
			t.Fatalf("Alert before any = %v, %v; want none", ok, err)
		}
		a := newAlert("r14/shop/web.1", "shop", "pending", t0)
		for i := range 25 {
			a.Evidence = append(a.Evidence, fmt.Sprintf("line %d \x00", i))
		}
		for i := range 12 {
			a.Transitions = append(a.Transitions, t0.Add(time.Duration(i)*time.Minute))
		}
		for i := range 105 {
			a.Recent = append(a.Recent, alert.Occurrence{At: t0.Add(time.Duration(i) * time.Second), Count: int64(i + 1)})
		}
		a.Counter, a.Flapping = 2, true
		mustSaveAlert(t, s, a, 0)
		if a.Version != 1 || a.ID == 0 {
			t.Fatalf("after create: Version=%d ID=%d, want 1 and an id", a.Version, a.ID)
		}
		want := *a
		want.Evidence = slices.Clone(a.Evidence[:alert.MaxEvidence])
		for i := 1; i < len(want.Evidence); i++ {
			want.Evidence[i] = fmt.Sprintf("line %d ", i-1) // NUL bytes are dropped
		}
		want.Transitions = a.Transitions[2:]
		want.Recent = a.Recent[5:]
		if diff := cmp.Diff(want, mustAlert(t, s, a.Key)); diff != "" {
			t.Fatalf("Alert after create (-want +got):\n%s", diff)
		}

		// Another writer creating the same key loses.
		if ok, err := s.SaveAlert(ctx, newAlert(a.Key, "shop", "firing", t0), 0, []alert.Outgoing{message("lost-1", "webhook", "shop")}); err != nil || ok {
			t.Fatalf("second create = %v, %v; want not saved", ok, err)
		}

		fire := newAlert(a.Key, "shop", "firing", t0)
		fire.FiredAt, fire.LastNotifiedAt, fire.Notified = t0.Add(time.Minute), t0.Add(time.Minute), true
		// The writer's clock, not the alert's log times, says when its rows
		// were written: a backlog of old lines is no old notification.
		written := t0.Add(time.Hour)
		mustSaveAlert(t, s, fire, 1, writtenAt(written, message("d-1", "webhook", "shop"), message("d-1", "sms", "shop"))...)
		if fire.Version != 2 || fire.ID != a.ID {
			t.Fatalf("after firing: Version=%d ID=%d, want 2 and the same episode %d", fire.Version, fire.ID, a.ID)
		}
		// Writers that read an older version, or one that never was, lose.
		for _, expect := range []int64{1, 3, 7} {
			stale := newAlert(a.Key, "shop", "resolved", t0.Add(time.Hour))
			if ok, err := s.SaveAlert(ctx, stale, expect, []alert.Outgoing{message("lost-2", "webhook", "shop")}); err != nil || ok {
				t.Fatalf("SaveAlert over version %d = %v, %v; want not saved", expect, ok, err)
			}
		}
		if got := mustAlert(t, s, a.Key); got.Phase != "firing" || got.Version != 2 || !got.Notified {
			t.Fatalf("Alert = %+v, want the firing state at version 2", got)
		}

		// Only the winners' notifications exist, created when written and
		// due at once.
		items := mustOutbox(t, s, store.OutboxQuery{})
		if diff := cmp.Diff([]string{"d-1", "d-1"}, deliveryIDs(items)); diff != "" {
			t.Fatalf("outbox (-want +got):\n%s", diff)
		}
		for _, it := range items {
			if !it.CreatedAt.Equal(written) || !it.NextAttempt.IsZero() || it.Attempts != 0 || it.App != "shop" {
				t.Fatalf("outbox row = %+v", it)
			}
		}

		for _, c := range []struct {
			name   string
			edit   func(a *alert.State)
			expect int64
			out    []alert.Outgoing
		}{
			{"no key", func(a *alert.State) { a.Key = "" }, 0, nil},
			{"no rule", func(a *alert.State) { a.Rule = "" }, 0, nil},
			{"bad severity", func(a *alert.State) { a.Severity = "page" }, 0, nil},
			{"bad state", func(a *alert.State) { a.Phase = "open" }, 0, nil},
			{"no start", func(a *alert.State) { a.StartedAt = time.Time{} }, 0, nil},
			{"resolved without time", func(a *alert.State) { a.Phase, a.ResolvedAt = "resolved", time.Time{} }, 0, nil},
			{"negative expect", func(*alert.State) {}, -1, nil},
			{"payload not JSON", func(*alert.State) {}, 0, []alert.Outgoing{{DeliveryID: "x", Channel: "sms", Payload: []byte("{")}}},
			{"no delivery id", func(*alert.State) {}, 0, []alert.Outgoing{{Channel: "sms", Payload: []byte("{}")}}},
			{"no channel", func(*alert.State) {}, 0, []alert.Outgoing{{DeliveryID: "x", Payload: []byte("{}")}}},
		} {
			b := newAlert("other", "shop", "pending", t0)
			c.edit(b)
			if ok, err := s.SaveAlert(ctx, b, c.expect, c.out); err == nil || ok {
				t.Errorf("%s: SaveAlert = %v, %v; want an error", c.name, ok, err)
			}
		}
	})
}

// Two dynos (two pools) see the same event at once and write the same
// transition from the same version: exactly one wins, and only its
// notifications exist.
func TestSaveAlertRace(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, cfg store.Config) {
		dynos := []*store.Store{storetest.MustOpen(t, cfg), storetest.MustOpenUnmigrated(t, cfg)}
		// race has each dyno save its own copy of a over expect, with a
		// notification of its own, and returns which dyno won.
		race := func(t *testing.T, round string, a *alert.State, expect int64) int {
			t.Helper()
			saved := make([]bool, len(dynos))
			var wg sync.WaitGroup
			for d, s := range dynos {
				b := *a
				wg.Go(func() {
					ok, err := s.SaveAlert(ctx, &b, expect, []alert.Outgoing{message(fmt.Sprintf("%s-%d", round, d), "webhook", b.App)})
					if err != nil {
						t.Errorf("%s: dyno %d: %v", round, d, err)
					}
					saved[d] = ok
				})
			}
			wg.Wait()
			winner := slices.Index(saved, true)
			if winner < 0 || slices.Index(saved[winner+1:], true) >= 0 {
				t.Fatalf("%s: saved = %v, want exactly one winner", round, saved)
			}
			for d := range dynos {
				items, err := dynos[0].OutboxFor(ctx, fmt.Sprintf("%s-%d", round, d))
				if err != nil {
					t.Fatal(err)
				}
				if want := btoi(d == winner); len(items) != want {
					t.Fatalf("%s: dyno %d's notification has %d rows, want %d", round, d, len(items), want)
				}
			}
			return winner
		}
		for i := range 20 {
			key := fmt.Sprintf("r14/shop/web.%d", i)
			at := t0.Add(time.Duration(i) * time.Second)
			race(t, fmt.Sprintf("create-%d", i), newAlert(key, "shop", "firing", at), 0)
			race(t, fmt.Sprintf("resolve-%d", i), newAlert(key, "shop", "resolved", at.Add(time.Minute)), 1)
			// Fired again: both start a new episode from the resolved one.
			race(t, fmt.Sprintf("refire-%d", i), newAlert(key, "shop", "firing", at.Add(2*time.Minute)), 2)
			eps := mustAlerts(t, dynos[1], store.AlertQuery{Key: key})
			if len(eps) != 2 || eps[0].Phase != "firing" || eps[0].Version != 3 || eps[1].Phase != "resolved" {
				t.Fatalf("%s episodes = %+v, want firing at version 3 after one resolved", key, eps)
			}
		}
		if n := len(mustOutbox(t, dynos[0], store.OutboxQuery{Limit: store.MaxAlertLimit})); n != 60 {
			t.Fatalf("%d outbox rows, want 60: one per round", n)
		}
	})
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestAlertHistory(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		minute := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }
		// steps writes the states of one key in turn, each over the last.
		steps := func(key, app string, states ...alert.Phase) {
			t.Helper()
			var v int64
			if a, ok, _ := s.Alert(ctx, key); ok {
				v = a.Version
			}
			for i, st := range states {
				a := newAlert(key, app, st, minute(i))
				a.Summary = fmt.Sprintf("%s step %d", key, i)
				mustSaveAlert(t, s, a, v)
				v = a.Version
			}
		}
		r14 := "r14/shop/web.1"
		steps(r14, "shop", "pending", "firing", "resolved")
		steps("h12/shop", "shop", "firing")
		steps(r14, "shop", "firing", "resolved", "resolved") // second episode
		steps("memory/blog/web.1", "blog", "pending")
		steps("crash/blog/web.2", "blog", "firing", "resolved")
		steps(r14, "shop", "pending") // third

		all := mustAlerts(t, s, store.AlertQuery{})
		var summaries []string
		for i, a := range all {
			summaries = append(summaries, a.Summary)
			if i > 0 && a.ID >= all[i-1].ID {
				t.Fatalf("alerts not newest first: id %d after %d", a.ID, all[i-1].ID)
			}
		}
		want := []string{
			r14 + " step 0", "crash/blog/web.2 step 1", "memory/blog/web.1 step 0",
			r14 + " step 2", "h12/shop step 0", r14 + " step 2",
		}
		if diff := cmp.Diff(want, summaries); diff != "" {
			t.Fatalf("history, newest first (-want +got):\n%s", diff)
		}
		// The archived episodes keep their last state.
		if ep := all[5]; ep.Phase != "resolved" || !ep.ResolvedAt.Equal(minute(2)) || ep.Version != 3 || len(ep.Evidence) != 1 {
			t.Fatalf("first r14 episode = %+v", ep)
		}
		if cur := mustAlert(t, s, r14); cur.ID != all[0].ID || cur.Version != 7 || cur.Phase != "pending" {
			t.Fatalf("Alert(r14) = %+v, want the third episode at version 7", cur)
		}

		// Page through all of it, 4 at a time.
		var paged []alert.State
		for before := int64(0); ; {
			page := mustAlerts(t, s, store.AlertQuery{Before: before, Limit: 4})
			paged = append(paged, page...)
			if len(page) < 4 {
				break
			}
			before = page[len(page)-1].ID
		}
		if diff := cmp.Diff(all, paged); diff != "" {
			t.Fatalf("paged history (-want +got):\n%s", diff)
		}

		for _, c := range []struct {
			name string
			q    store.AlertQuery
			want int
		}{
			{"resolved", store.AlertQuery{Phase: alert.PhaseResolved}, 3},
			{"firing", store.AlertQuery{Phase: alert.PhaseFiring}, 1},
			{"pending", store.AlertQuery{Phase: alert.PhasePending}, 2},
			{"app", store.AlertQuery{App: "shop"}, 4},
			{"app and state", store.AlertQuery{App: "shop", Phase: alert.PhaseResolved}, 2},
			{"key", store.AlertQuery{Key: r14}, 3},
			{"before", store.AlertQuery{App: "blog", Before: all[1].ID}, 1},
			{"limit", store.AlertQuery{Limit: 2}, 2},
			{"unknown app", store.AlertQuery{App: "nope"}, 0},
		} {
			if n := len(mustAlerts(t, s, c.q)); n != c.want {
				t.Errorf("%s: %d alerts, want %d", c.name, n, c.want)
			}
		}
		for _, bad := range []store.AlertQuery{{Phase: "open"}, {Limit: -1}, {Limit: store.MaxAlertLimit + 1}} {
			if _, err := s.Alerts(ctx, bad); err == nil {
				t.Errorf("Alerts(%+v) succeeded", bad)
			}
		}

		active, err := s.ActiveAlerts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, a := range active {
			keys = append(keys, a.Key+" "+string(a.Phase))
		}
		if diff := cmp.Diff([]string{"h12/shop firing", "memory/blog/web.1 pending", r14 + " pending"}, keys); diff != "" {
			t.Fatalf("ActiveAlerts (-want +got):\n%s", diff)
		}
	})
}

// Two worker dynos drain one outbox at once: each row is claimed, and sent,
// by exactly one of them.
func TestOutboxTwoWorkersOneSend(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, cfg store.Config) {
		dynos := []*store.Store{storetest.MustOpen(t, cfg), storetest.MustOpenUnmigrated(t, cfg)}
		const n = 200
		var msgs []alert.Outgoing
		for i := range n {
			msgs = append(msgs, message(fmt.Sprintf("d-%03d", i), []string{"webhook", "sms"}[i%2], "shop"))
		}
		if err := dynos[0].Enqueue(ctx, msgs...); err != nil {
			t.Fatal(err)
		}
		var (
			mu     sync.Mutex
			claims = map[int64][]string{} // row → holders that claimed it
			sends  int
			wg     sync.WaitGroup
		)
		// Two senders in each dyno, as the worker's pool would run them.
		for w := range 4 {
			s, holder := dynos[w%2], fmt.Sprintf("worker.%d", w)
			wg.Go(func() {
				now := t0.Add(time.Second)
				for {
					items, err := s.ClaimOutbox(ctx, holder, now, time.Minute, 7)
					if err != nil {
						t.Error(err)
						return
					}
					if len(items) == 0 {
						return
					}
					for _, it := range items {
						mu.Lock()
						claims[it.ID] = append(claims[it.ID], holder)
						sends++
						mu.Unlock()
						if err := s.MarkSent(ctx, it.ID, holder, now); err != nil {
							t.Error(err)
						}
					}
				}
			})
		}
		wg.Wait()
		if len(claims) != n || sends != n {
			t.Fatalf("%d rows claimed, %d sends; want %d and %d", len(claims), sends, n, n)
		}
		for id, hs := range claims {
			if len(hs) != 1 {
				t.Fatalf("row %d claimed by %v, want one holder", id, hs)
			}
		}
		for _, it := range mustOutbox(t, dynos[1], store.OutboxQuery{Limit: store.MaxAlertLimit}) {
			if it.SentAt.IsZero() || it.Attempts != 1 || it.ClaimedBy != claims[it.ID][0] {
				t.Fatalf("row after the run = %+v, want sent once by %v", it, claims[it.ID])
			}
		}
		if st := mustStats(t, dynos[0], t0.Add(time.Hour)); st.Pending != 0 || st.Oldest != 0 || len(st.FailedByChannel) != 0 {
			t.Fatalf("OutboxStats = %+v, want nothing pending or failing", st)
		}
	})
}

// A worker dies (or hangs) after claiming a row: when its lease runs out,
// another worker sends the row; the first one's late word does not undo the
// second's claim.
func TestOutboxWorkerKilledMidSend(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		const lease = 30 * time.Second
		at := func(d time.Duration) time.Time { return t0.Add(d) }
		if err := s.Enqueue(ctx, message("d-1", "webhook", "shop")); err != nil {
			t.Fatal(err)
		}
		a := mustClaim(t, s, "worker.a", at(0), lease, 10)
		if len(a) != 1 || a[0].Attempts != 1 || a[0].ClaimedBy != "worker.a" {
			t.Fatalf("a's claim = %+v, want the row at attempt 1", a)
		}
		id := a[0].ID
		if got := mustClaim(t, s, "worker.b", at(lease-time.Microsecond), lease, 10); len(got) != 0 {
			t.Fatalf("b claimed %v while a's lease ran", deliveryIDs(got))
		}
		// a was killed; its lease runs out and b takes the row over.
		b := mustClaim(t, s, "worker.b", at(lease), lease, 10)
		if len(b) != 1 || b[0].ID != id || b[0].Attempts != 2 {
			t.Fatalf("b's claim after the lease = %+v, want the row at attempt 2", b)
		}
		// a was only slow: its late word is refused and leaves b's claim.
		if err := s.MarkSent(ctx, id, "worker.a", at(lease+time.Second)); !errors.Is(err, store.ErrClaimLost) {
			t.Fatalf("a's late MarkSent = %v, want ErrClaimLost", err)
		}
		if err := s.MarkFailed(ctx, id, "worker.a", at(lease+time.Second), at(lease+2*time.Second), "timeout"); !errors.Is(err, store.ErrClaimLost) {
			t.Fatalf("a's late MarkFailed = %v, want ErrClaimLost", err)
		}
		if got := mustClaim(t, s, "worker.c", at(lease+3*time.Second), lease, 10); len(got) != 0 {
			t.Fatalf("c claimed %v: a's late marks released b's claim", deliveryIDs(got))
		}
		if err := s.MarkSent(ctx, id, "worker.b", at(lease+4*time.Second)); err != nil {
			t.Fatalf("b's MarkSent: %v", err)
		}
		if err := s.MarkSent(ctx, id, "worker.b", at(lease+5*time.Second)); !errors.Is(err, store.ErrClaimLost) {
			t.Fatalf("MarkSent of a sent row = %v, want ErrClaimLost", err)
		}
		items := mustOutbox(t, s, store.OutboxQuery{DeliveryID: "d-1"})
		if len(items) != 1 || !items[0].SentAt.Equal(at(lease+4*time.Second)) || items[0].ClaimedBy != "worker.b" || items[0].LastError != "" {
			t.Fatalf("row = %+v, want sent by worker.b", items)
		}
		if got := mustClaim(t, s, "worker.c", at(time.Hour), lease, 10); len(got) != 0 {
			t.Fatalf("a sent row was claimed again: %v", deliveryIDs(got))
		}

		// A holder whose lease ran out while nobody else claimed the row may
		// still record its send, which spares a duplicate.
		if err := s.Enqueue(ctx, message("d-2", "webhook", "shop")); err != nil {
			t.Fatal(err)
		}
		slow := mustClaim(t, s, "worker.a", at(2*time.Hour), lease, 10)
		if len(slow) != 1 {
			t.Fatalf("claim of d-2 = %v", deliveryIDs(slow))
		}
		if err := s.MarkSent(ctx, slow[0].ID, "worker.a", at(2*time.Hour+time.Minute)); err != nil {
			t.Fatalf("MarkSent after the lease, unclaimed since: %v", err)
		}
		if got := mustClaim(t, s, "worker.b", at(3*time.Hour), lease, 10); len(got) != 0 {
			t.Fatalf("a recorded send was claimed again: %v", deliveryIDs(got))
		}
		if err := s.MarkSent(ctx, 1_000_000, "worker.a", t0); !errors.Is(err, store.ErrClaimLost) {
			t.Fatalf("MarkSent of no row = %v, want ErrClaimLost", err)
		}
		for _, bad := range []struct {
			holder string
			lease  time.Duration
			limit  int
		}{{"", lease, 1}, {"w", 0, 1}, {"w", lease, 0}, {"w", lease, store.MaxClaim + 1}} {
			if _, err := s.ClaimOutbox(ctx, bad.holder, t0, bad.lease, bad.limit); err == nil {
				t.Errorf("ClaimOutbox(%q, %v, %d) succeeded", bad.holder, bad.lease, bad.limit)
			}
		}
	})
}

// A provider is down for a while, then back: rows wait out their backoff,
// are never claimed early, and all go out once; a final rejection gives up
// and keeps the reason.
func TestOutboxProviderDown(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		const lease = time.Minute
		at := func(d time.Duration) time.Time { return t0.Add(d) }

		// One row through two failures, step by step.
		if err := s.Enqueue(ctx, message("x", "sms", "shop")); err != nil {
			t.Fatal(err)
		}
		fail := func(now, retry time.Time, wantAttempt int) {
			t.Helper()
			items := mustClaim(t, s, "w", now, lease, 10)
			if len(items) != 1 || items[0].Attempts != wantAttempt {
				t.Fatalf("claim at %v = %+v, want x at attempt %d", now, items, wantAttempt)
			}
			if err := s.MarkFailed(ctx, items[0].ID, "w", now, retry, "infobip: 503 Service Unavailable"); err != nil {
				t.Fatal(err)
			}
			if got := mustClaim(t, s, "w", retry.Add(-time.Microsecond), lease, 10); len(got) != 0 {
				t.Fatalf("claimed %v before its retry at %v", deliveryIDs(got), retry)
			}
		}
		fail(at(0), at(10*time.Second), 1)
		fail(at(10*time.Second), at(30*time.Second), 2)
		st := mustStats(t, s, at(time.Minute))
		want := store.OutboxStats{Pending: 1, Oldest: time.Minute,
			FailedByChannel: map[string]int{"sms": 2}, LastError: map[string]string{"sms": "infobip: 503 Service Unavailable"}}
		if diff := cmp.Diff(want, st); diff != "" {
			t.Fatalf("OutboxStats while down (-want +got):\n%s", diff)
		}
		items := mustClaim(t, s, "w", at(30*time.Second), lease, 10)
		if len(items) != 1 || items[0].Attempts != 3 || !items[0].NextAttempt.Equal(at(30*time.Second)) {
			t.Fatalf("claim at the retry = %+v", items)
		}
		if err := s.MarkSent(ctx, items[0].ID, "w", at(31*time.Second)); err != nil {
			t.Fatal(err)
		}
		if st := mustStats(t, s, at(time.Minute)); st.Pending != 0 || len(st.FailedByChannel) != 0 {
			t.Fatalf("OutboxStats after the send = %+v, want the channel healthy", st)
		}
		if got := mustOutbox(t, s, store.OutboxQuery{DeliveryID: "x"}); got[0].LastError != "infobip: 503 Service Unavailable" || got[0].SentAt.IsZero() {
			t.Fatalf("sent row = %+v, want the last failure kept", got[0])
		}

		// Many rows, two channels, SMS down for 3 minutes, a worker ticking
		// every 5 s with exponential backoff.
		const rows = 30
		var msgs []alert.Outgoing
		for i := range rows {
			msgs = append(msgs, message(fmt.Sprintf("m-%02d", i), []string{"sms", "webhook"}[i%2], "shop"))
		}
		start := at(time.Hour)
		if err := s.Enqueue(ctx, writtenAt(start, msgs...)...); err != nil {
			t.Fatal(err)
		}
		notBefore := map[int64]time.Time{}
		sent := map[int64]int{}
		now := start
		for ; len(sent) < rows && now.Before(start.Add(time.Hour)); now = now.Add(5 * time.Second) {
			for _, it := range mustClaim(t, s, "w", now, lease, 4) {
				if now.Before(notBefore[it.ID]) {
					t.Fatalf("%s claimed at %v, before its retry at %v", it.DeliveryID, now, notBefore[it.ID])
				}
				if it.Channel == "sms" && now.Before(start.Add(3*time.Minute)) {
					retry := now.Add(5 * time.Second << (it.Attempts - 1))
					notBefore[it.ID] = retry
					if err := s.MarkFailed(ctx, it.ID, "w", now, retry, "infobip: 502 Bad Gateway"); err != nil {
						t.Fatal(err)
					}
					continue
				}
				sent[it.ID]++
				if err := s.MarkSent(ctx, it.ID, "w", now); err != nil {
					t.Fatal(err)
				}
			}
		}
		if len(sent) != rows {
			t.Fatalf("%d of %d rows sent by %v", len(sent), rows, now)
		}
		for id, n := range sent {
			if n != 1 {
				t.Fatalf("row %d sent %d times", id, n)
			}
		}
		if now.Sub(start) > 10*time.Minute {
			t.Fatalf("the backlog took %v to clear after a 3-minute outage", now.Sub(start))
		}
		if st := mustStats(t, s, now); st.Pending != 0 || len(st.FailedByChannel) != 0 {
			t.Fatalf("OutboxStats after recovery = %+v", st)
		}

		// A revoked key: give up for good, keeping why.
		if err := s.Enqueue(ctx, writtenAt(now, message("g", "email:sendgrid", "shop"))...); err != nil {
			t.Fatal(err)
		}
		g := mustClaim(t, s, "w", now, lease, 10)
		const reason = "sendgrid: 401 The provided authorization grant is invalid"
		if err := s.MarkFailed(ctx, g[0].ID, "w", now, time.Time{}, reason); err != nil {
			t.Fatal(err)
		}
		if got := mustClaim(t, s, "w", now.Add(24*time.Hour), lease, 10); len(got) != 0 {
			t.Fatalf("a given-up row was claimed: %v", deliveryIDs(got))
		}
		item := mustOutbox(t, s, store.OutboxQuery{DeliveryID: "g"})[0]
		if !item.GaveUpAt.Equal(now) || item.LastError != reason || !item.SentAt.IsZero() {
			t.Fatalf("given-up row = %+v", item)
		}
		st = mustStats(t, s, now)
		if st.Pending != 0 || st.FailedByChannel["email:sendgrid"] != 1 || st.LastError["email:sendgrid"] != reason {
			t.Fatalf("OutboxStats after giving up = %+v", st)
		}
	})
}

func TestEnqueue(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		m := message("d-1", "webhook", "")
		m.Payload = []byte("{\n  \"id\": \"d-1\",  \"text\": \"caf\\u00e9 \u2603\"\n}")
		// The same delivery and channel twice is one row.
		if err := s.Enqueue(ctx, m, m, message("d-1", "sms", "")); err != nil {
			t.Fatal(err)
		}
		if err := s.Enqueue(ctx, writtenAt(t0.Add(time.Minute), m)...); err != nil {
			t.Fatal(err)
		}
		items, err := s.OutboxFor(ctx, "d-1")
		if err != nil {
			t.Fatal(err)
		}
		want := []notify.Delivery{
			{ID: items[0].ID, Outgoing: message("d-1", "sms", "")},
			{ID: items[1].ID, Outgoing: m},
		}
		if diff := cmp.Diff(want, items); diff != "" {
			t.Fatalf("OutboxFor (-want +got):\n%s", diff)
		}
		if st := mustStats(t, s, t0.Add(-time.Minute)); st.Pending != 2 || st.Oldest != 0 {
			t.Fatalf("OutboxStats before the rows = %+v, want 2 pending, none old", st)
		}
		for _, bad := range []alert.Outgoing{
			{Channel: "sms", Payload: []byte("{}")},
			{DeliveryID: "x", Payload: []byte("{}")},
			{DeliveryID: "x", Channel: "sms"},
		} {
			if err := s.Enqueue(ctx, bad); err == nil {
				t.Errorf("Enqueue(%+v) succeeded", bad)
			}
		}
		if err := s.Enqueue(ctx, writtenAt(time.Time{}, m)...); err == nil {
			t.Error("Enqueue at the zero time succeeded")
		}
		if _, err := s.OutboxFor(ctx, ""); err == nil {
			t.Error("OutboxFor(\"\") succeeded")
		}
	})
}

func TestSilences(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		sls := []*alert.Silence{
			{App: "shop", Until: t0.Add(time.Hour), Reason: "maintenance", CreatedBy: "ops@example.com", CreatedAt: t0},
			{Rule: "r14", Until: t0.Add(2 * time.Hour), CreatedAt: t0},
			{Key: "h12/blog", Until: t0.Add(30 * time.Minute), CreatedAt: t0},
		}
		for _, sl := range sls {
			if err := s.CreateSilence(ctx, sl); err != nil || sl.ID == 0 {
				t.Fatalf("CreateSilence = %v, ID %d", err, sl.ID)
			}
		}
		active := func(now time.Time) []alert.Silence {
			t.Helper()
			got, err := s.ActiveSilences(ctx, now)
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		if diff := cmp.Diff([]alert.Silence{*sls[0], *sls[1], *sls[2]}, active(t0)); diff != "" {
			t.Fatalf("ActiveSilences at the start (-want +got):\n%s", diff)
		}
		for _, c := range []struct {
			at   time.Duration
			want int
		}{{30 * time.Minute, 2}, {90 * time.Minute, 1}, {2 * time.Hour, 0}} {
			if n := len(active(t0.Add(c.at))); n != c.want {
				t.Errorf("%d silences active after %v, want %d", n, c.at, c.want)
			}
		}
		if ended, err := s.DeleteSilence(ctx, sls[1].ID); err != nil || ended.ID != sls[1].ID || ended.Rule != "r14" {
			t.Fatalf("DeleteSilence = %+v, %v; want silence %d of r14", ended, err, sls[1].ID)
		}
		if got := active(t0); len(got) != 2 || got[1].ID != sls[2].ID {
			t.Fatalf("ActiveSilences after delete = %+v", got)
		}
		if _, err := s.DeleteSilence(ctx, sls[1].ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("DeleteSilence again = %v, want ErrNotFound", err)
		}
		for _, bad := range []alert.Silence{
			{Until: t0.Add(time.Hour), CreatedAt: t0},
			{App: "shop", Until: t0, CreatedAt: t0},
			{App: "shop", Until: t0.Add(time.Hour)},
		} {
			if err := s.CreateSilence(ctx, &bad); err == nil {
				t.Errorf("CreateSilence(%+v) succeeded", bad)
			}
		}
	})
}

// Silences stored before the API checked rule names are read as the rule
// they name; a rule that names none is left as it is, and mutes nothing.
func TestSilenceRulesInAnyCase(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		for _, rule := range []alert.RuleName{"H_CODES", alert.RuleR14, "no_such_rule"} {
			if err := s.CreateSilence(ctx, &alert.Silence{Rule: rule, Until: t0.Add(time.Hour), CreatedAt: t0}); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.ActiveSilences(ctx, t0)
		if err != nil {
			t.Fatal(err)
		}
		var rules []alert.RuleName
		for _, sl := range got {
			rules = append(rules, sl.Rule)
		}
		if diff := cmp.Diff([]alert.RuleName{alert.RuleHCodes, alert.RuleR14, "no_such_rule"}, rules); diff != "" {
			t.Fatalf("rules of ActiveSilences (-want +got):\n%s", diff)
		}
	})
}

// TestLastRelease: the release an alert may have followed is the app's
// latest release since a time, or else its latest deploy.
func TestLastRelease(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		ev := func(at time.Duration, kind, app string) store.Event {
			return store.Event{Time: t0.Add(at), Kind: kind, Line: fmt.Sprintf("%s %s of %s", t0.Add(at).Format(time.RFC3339), kind, app)}
		}
		for i, b := range []*store.Batch{
			batch("shop", "f1", t0, ev(0, "release", "shop"), ev(time.Minute, "deploy", "shop"), ev(2*time.Minute, "router", "shop")),
			batch("blog", "f2", t0, ev(time.Minute, "deploy", "blog"), ev(3*time.Minute, "deploy", "blog")),
		} {
			if _, err := s.WriteBatch(ctx, b); err != nil {
				t.Fatalf("batch %d: %v", i, err)
			}
		}
		for _, c := range []struct {
			app   string
			since time.Duration
			want  string // "" for none
		}{
			{"shop", 0, t0.Format(time.RFC3339) + " release of shop"}, // a release before a later deploy
			{"shop", 30 * time.Second, t0.Add(time.Minute).Format(time.RFC3339) + " deploy of shop"},
			{"shop", 90 * time.Second, ""},
			{"blog", 0, t0.Add(3*time.Minute).Format(time.RFC3339) + " deploy of blog"},
			{"news", 0, ""},
		} {
			line, ok, err := s.LastRelease(ctx, c.app, t0.Add(c.since))
			if err != nil || ok != (c.want != "") || line != c.want {
				t.Errorf("LastRelease(%s, t0+%v) = %q, %v, %v; want %q", c.app, c.since, line, ok, err, c.want)
			}
		}
	})
}

func TestPruneAlerts(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		const day = 24 * time.Hour
		now := t0
		ago := func(d time.Duration) time.Time { return now.Add(-d) }
		// Resolved 40 days ago: goes, key and all.
		old := newAlert("old", "shop", "firing", ago(45*day))
		mustSaveAlert(t, s, old, 0)
		old = newAlert("old", "shop", "resolved", ago(40*day))
		mustSaveAlert(t, s, old, 1)
		// Resolved 10 days ago: stays.
		recent := newAlert("recent", "shop", "resolved", ago(10*day))
		mustSaveAlert(t, s, recent, 0)
		// Firing for 60 days: stays, however old.
		mustSaveAlert(t, s, newAlert("long", "shop", "firing", ago(60*day)), 0)
		// An old episode goes, the current one of its key stays.
		again := newAlert("again", "shop", "resolved", ago(50*day))
		mustSaveAlert(t, s, again, 0)
		mustSaveAlert(t, s, newAlert("again", "shop", "firing", ago(day)), 1)

		mustEnqueue := func(at time.Time, id string) {
			if err := s.Enqueue(ctx, writtenAt(at, message(id, "webhook", "shop"))...); err != nil {
				t.Fatal(err)
			}
		}
		mustEnqueue(ago(40*day), "old-sent")
		mustEnqueue(ago(40*day), "old-pending")
		mustEnqueue(ago(day), "new")
		items := mustClaim(t, s, "w", ago(40*day), time.Minute, 1)
		if err := s.MarkSent(ctx, items[0].ID, "w", ago(40*day)); err != nil {
			t.Fatal(err)
		}

		for _, sl := range []alert.Silence{
			{App: "shop", Until: ago(40 * day), CreatedAt: ago(41 * day)},
			{App: "shop", Until: ago(10 * day), CreatedAt: ago(11 * day)},
			{App: "shop", Until: now.Add(day), CreatedAt: ago(day)},
		} {
			if err := s.CreateSilence(ctx, &sl); err != nil {
				t.Fatal(err)
			}
		}

		res, err := s.Prune(ctx, now, store.DefaultRetention())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(store.PruneResult{Alerts: 2, Outbox: 2, Silences: 1}, res); diff != "" {
			t.Fatalf("Prune (-want +got):\n%s", diff)
		}
		var left []string
		for _, a := range mustAlerts(t, s, store.AlertQuery{}) {
			left = append(left, a.Key+" "+string(a.Phase))
		}
		if diff := cmp.Diff([]string{"again firing", "long firing", "recent resolved"}, left); diff != "" {
			t.Fatalf("alerts left (-want +got):\n%s", diff)
		}
		if _, ok, err := s.Alert(ctx, "old"); err != nil || ok {
			t.Fatalf("Alert(old) after prune = %v, %v; want none", ok, err)
		}
		mustSaveAlert(t, s, newAlert("old", "shop", "firing", now), 0)
		if diff := cmp.Diff([]string{"new"}, deliveryIDs(mustOutbox(t, s, store.OutboxQuery{}))); diff != "" {
			t.Fatalf("outbox left (-want +got):\n%s", diff)
		}
		if n := len(mustAlerts(t, s, store.AlertQuery{})); n != 4 {
			t.Fatalf("%d alerts, want 4", n)
		}

		// Zero keeps forever; negative is refused.
		keep := store.DefaultRetention()
		keep.Alerts = 0
		if res, err := s.Prune(ctx, now.Add(1000*day), keep); err != nil || res.Alerts+res.Outbox+res.Silences != 0 {
			t.Fatalf("Prune keeping alerts = %+v, %v", res, err)
		}
		keep.Alerts = -time.Hour
		if _, err := s.Prune(ctx, now, keep); err == nil {
			t.Fatal("Prune with a negative Retention.Alerts succeeded")
		}
	})
}

// TestDeleteAppAlerts: DeleteApp forgets the app's alerts, silences and
// the notifications it sent, but keeps those still to go (a resolved the
// engine wrote as the app was forgotten) and the firing rows they follow,
// so that the resolved reaches the channels that heard the firing.
func TestDeleteAppAlerts(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		msg := func(id, app, key string, status alert.Status) alert.Outgoing {
			m := message(id, "webhook", app)
			m.AlertKey, m.Status = key, status
			return m
		}
		for _, app := range []string{"shop", "blog"} {
			if _, err := s.WriteBatch(ctx, batch(app, "", t0)); err != nil {
				t.Fatal(err)
			}
			if err := s.CreateSilence(ctx, &alert.Silence{App: app, Until: t0.Add(time.Hour), CreatedAt: t0}); err != nil {
				t.Fatal(err)
			}
		}
		// shop: r14 fired and was heard; r15 fired, was heard and is over.
		mustSaveAlert(t, s, newAlert("r14/shop", "shop", "firing", t0), 0, msg("fire-shop", "shop", "r14/shop", "firing"))
		mustSaveAlert(t, s, newAlert("r15/shop", "shop", "firing", t0), 0, msg("fire15-shop", "shop", "r15/shop", "firing"))
		for _, it := range mustClaim(t, s, "w", t0, time.Minute, 10) {
			if err := s.MarkSent(ctx, it.ID, "w", t0); err != nil {
				t.Fatal(err)
			}
		}
		mustSaveAlert(t, s, newAlert("r15/shop", "shop", "resolved", t0.Add(time.Minute)), 1)
		// blog: an episode over and one pending, nothing sent.
		mustSaveAlert(t, s, newAlert("r14/blog", "blog", "firing", t0), 0, msg("fire-blog", "blog", "r14/blog", "firing"))
		mustSaveAlert(t, s, newAlert("r14/blog", "blog", "resolved", t0.Add(time.Minute)), 1, msg("resolve-blog", "blog", "r14/blog", "resolved"))
		mustSaveAlert(t, s, newAlert("r14/blog", "blog", "pending", t0.Add(2*time.Minute)), 2)
		if err := s.Enqueue(ctx, message("test", "webhook", "")); err != nil {
			t.Fatal(err)
		}
		// The engine resolves shop's r14 as the app is forgotten.
		mustSaveAlert(t, s, newAlert("r14/shop", "shop", "resolved", t0.Add(time.Minute)), 1, msg("resolve-shop", "shop", "r14/shop", "resolved"))
		if err := s.DeleteApp(ctx, "shop"); err != nil {
			t.Fatal(err)
		}
		for app, want := range map[string]int{"shop": 0, "blog": 2} {
			if n := len(mustAlerts(t, s, store.AlertQuery{App: app})); n != want {
				t.Errorf("%s has %d alert episodes, want %d", app, n, want)
			}
		}
		var kept []string
		for _, it := range mustOutbox(t, s, store.OutboxQuery{App: "shop"}) {
			kept = append(kept, it.DeliveryID)
		}
		if got, want := strings.Join(kept, " "), "resolve-shop fire-shop"; got != want {
			t.Errorf("shop's outbox rows kept: %s, want %s (the resolved to go, and the firing it follows)", got, want)
		}
		if n := len(mustOutbox(t, s, store.OutboxQuery{})); n != 5 {
			t.Errorf("%d outbox rows in all, want shop's 2, blog's 2 and the test's", n)
		}
		if _, ok, _ := s.Alert(ctx, "r14/shop"); ok {
			t.Error("Alert(r14/shop) survived DeleteApp")
		}
		sls, err := s.ActiveSilences(ctx, t0)
		if err != nil || len(sls) != 1 || sls[0].App != "blog" {
			t.Fatalf("ActiveSilences = %+v, %v; want blog's only", sls, err)
		}
		active, err := s.ActiveAlerts(ctx)
		if err != nil || len(active) != 1 || active[0].App != "blog" {
			t.Fatalf("ActiveAlerts = %+v, %v; want blog's only", active, err)
		}
		var resolved []notify.Delivery
		for _, it := range mustClaim(t, s, "w", t0.Add(time.Minute), time.Minute, 10) {
			if it.DeliveryID == "resolve-shop" {
				resolved = append(resolved, it)
			}
		}
		if len(resolved) != 1 || !resolved[0].FiringHeard {
			t.Errorf("claimed of shop's: %+v; want its resolved, its firing heard", resolved)
		}
	})
}
