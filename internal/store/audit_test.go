package store_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/store"
)

func TestAuditLog(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		entries := []*store.AuditEntry{
			{At: t0, Actor: "ana", Action: store.AuditSilence, App: "shop", Reason: "planned maintenance", Detail: "silence 1 until 16:00 UTC"},
			{At: t0.Add(time.Minute), Actor: "bo", Action: store.AuditSilence, Rule: alert.RuleR14, Reason: "known leak"},
			{At: t0.Add(2 * time.Minute), Actor: "ana", Action: store.AuditSilence, Key: "r14|blog|web.1"},
			{At: t0.Add(3 * time.Minute), Actor: "bo", Action: store.AuditUnsilence, App: "shop", Detail: "silence 1"},
			{At: t0.Add(4 * time.Minute), Actor: "cy\x00", Action: store.AuditDeleteApp, App: "old-app"},
		}
		for _, e := range entries {
			if err := s.AddAudit(ctx, e); err != nil || e.ID == 0 {
				t.Fatalf("AddAudit(%+v) = %v, ID %d", e, err, e.ID)
			}
		}
		get := func(q store.AuditQuery) []store.AuditEntry {
			t.Helper()
			got, err := s.Audit(ctx, q)
			if err != nil {
				t.Fatalf("Audit(%+v): %v", q, err)
			}
			return got
		}
		all := get(store.AuditQuery{})
		if len(all) != len(entries) || all[0].ID != entries[4].ID || all[0].Actor != "cy" {
			t.Fatalf("Audit() = %+v, want all five newest first, NUL dropped", all)
		}
		if diff := cmp.Diff(*entries[0], all[4]); diff != "" {
			t.Errorf("the first entry came back changed (-want +got):\n%s", diff)
		}
		page := get(store.AuditQuery{Limit: 2, Before: all[1].ID})
		if len(page) != 2 || page[0].ID != entries[2].ID || page[1].ID != entries[1].ID {
			t.Errorf("Audit(Limit 2, Before %d) = %+v, want entries 3 and 2", all[1].ID, page)
		}
		// What concerns R14 on shop's web.1: the silence of shop, the one of
		// the rule R14, shop's unsilence; not blog's alert nor old-app.
		shop := newAlert("r14|shop|web.1", "shop", alert.PhaseFiring, t0)
		var actions []string
		for _, e := range get(store.AuditQuery{About: shop}) {
			actions = append(actions, string(e.Action)+" "+e.Actor)
		}
		if diff := cmp.Diff([]string{"unsilence bo", "silence bo", "silence ana"}, actions); diff != "" {
			t.Errorf("Audit(About shop's R14) (-want +got):\n%s", diff)
		}
		if got := get(store.AuditQuery{About: shop, From: t0.Add(time.Minute), To: t0.Add(2 * time.Minute)}); len(got) != 1 || got[0].ID != entries[1].ID {
			t.Errorf("Audit(About shop's R14, minutes 1 to 2) = %+v, want the rule's silence", got)
		}
		if err := s.AddAudit(ctx, &store.AuditEntry{Actor: "ana", Action: store.AuditAck}); err == nil {
			t.Error("AddAudit without a time succeeded")
		}
		if _, err := s.Audit(ctx, store.AuditQuery{Limit: store.MaxAuditLimit + 1}); err == nil {
			t.Error("Audit over MaxAuditLimit succeeded")
		}
	})
}

func TestAlertDeliveries(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		out := func(id, channel, key string, status alert.Status, at time.Time) alert.Outgoing {
			m := message(id, channel, "shop")
			m.AlertKey, m.Status, m.CreatedAt = key, status, at
			return m
		}
		if err := s.Enqueue(ctx,
			out("d1", "slack", "r14|shop|web.1", alert.Firing, t0),
			out("d1", "email", "r14|shop|web.1", alert.Firing, t0),
			out("d2", "slack", "r14|shop|web.2", alert.Firing, t0),
			out("d3", "slack", "r14|shop|web.1", alert.Resolved, t0.Add(time.Hour)),
			out("d4", "slack", "r14|shop|web.1", alert.Firing, t0.Add(2*time.Hour)), // the next episode
		); err != nil {
			t.Fatal(err)
		}
		got, err := s.AlertDeliveries(ctx, "r14|shop|web.1", t0, t0.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		var seen []string
		for _, d := range got {
			seen = append(seen, d.DeliveryID+" "+d.Channel+" "+string(d.Status))
		}
		if diff := cmp.Diff([]string{"d1 slack firing", "d1 email firing", "d3 slack resolved"}, seen); diff != "" {
			t.Errorf("AlertDeliveries of the first episode (-want +got):\n%s", diff)
		}
		if got, err := s.AlertDeliveries(ctx, "r14|shop|web.1", t0.Add(2*time.Hour), time.Time{}); err != nil || len(got) != 1 || got[0].DeliveryID != "d4" {
			t.Errorf("AlertDeliveries of the current episode = %+v, %v; want d4", got, err)
		}
	})
}

// TestPruneAudit: the worker's prune deletes the audit entries older than
// Retention.Alerts (RETENTION_EVENTS, as the alerts and silences they are
// about), keeps the rest, and keeps all with 0.
func TestPruneAudit(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		const day = 24 * time.Hour
		now := t0.Add(100 * day)
		ret := store.DefaultRetention() // 30 days
		for _, age := range []time.Duration{90 * day, 31 * day, 30*day + time.Second} {
			if err := s.AddAudit(ctx, &store.AuditEntry{At: now.Add(-age), Actor: "ana", Action: store.AuditAck, App: "shop"}); err != nil {
				t.Fatal(err)
			}
		}
		kept := &store.AuditEntry{At: now.Add(-29 * day), Actor: "bo", Action: store.AuditSilence, App: "shop", Reason: "deploy"}
		if err := s.AddAudit(ctx, kept); err != nil {
			t.Fatal(err)
		}
		keepAll := ret
		keepAll.Alerts = 0
		if res, err := s.Prune(ctx, now, keepAll); err != nil || res.Audit != 0 {
			t.Fatalf("Prune keeping alerts = %+v, %v; want no audit entry deleted", res, err)
		}
		res, err := s.Prune(ctx, now, ret)
		if err != nil || res.Audit != 3 {
			t.Fatalf("Prune = %+v, %v; want the 3 entries older than 30 days deleted", res, err)
		}
		left, err := s.Audit(ctx, store.AuditQuery{})
		if err != nil || len(left) != 1 || left[0].ID != kept.ID {
			t.Fatalf("audit log after prune: %+v, %v; want bo's silence of 29 days ago", left, err)
		}
	})
}
