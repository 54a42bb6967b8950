package store_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dynowatch/dynowatch/store"
)

func TestMessageRefs(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		if _, ok, err := s.MessageRef(ctx, "slack", "r14|shop|web.1"); err != nil || ok {
			t.Fatalf("MessageRef before any save = %v, %v; want none", ok, err)
		}
		// A grouped message: one ref for both its alerts.
		group := []store.MessageRef{
			{Channel: "slack", AlertKey: "r14|shop|web.1", Ref: "C1 1700000000.000100", Grouped: true, UpdatedAt: t0},
			{Channel: "slack", AlertKey: "h_codes|shop|H12", Ref: "C1 1700000000.000100", Grouped: true, UpdatedAt: t0},
			{Channel: "discord", AlertKey: "r14|shop|web.1", Ref: "1130000000000000001", UpdatedAt: t0},
		}
		if err := s.SaveMessageRefs(ctx, group...); err != nil {
			t.Fatal(err)
		}
		// The alert fires again later: a new message replaces the old.
		again := store.MessageRef{Channel: "slack", AlertKey: "r14|shop|web.1", Ref: "C1 1700000900.000200", UpdatedAt: t0.Add(time.Hour)}
		if err := s.SaveMessageRefs(ctx, again); err != nil {
			t.Fatal(err)
		}
		for _, want := range []store.MessageRef{again, group[1], group[2]} {
			got, ok, err := s.MessageRef(ctx, want.Channel, want.AlertKey)
			if err != nil || !ok {
				t.Fatalf("MessageRef(%s, %s) = %v, %v", want.Channel, want.AlertKey, ok, err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("MessageRef(%s, %s) (-want +got):\n%s", want.Channel, want.AlertKey, diff)
			}
		}
	})
}

func TestSaveMessageRefsRefusesIncompleteRefs(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		ok := store.MessageRef{Channel: "slack", AlertKey: "k", Ref: "C1 1.2", UpdatedAt: t0}
		for name, bad := range map[string]store.MessageRef{
			"no channel": {AlertKey: "k", Ref: "r", UpdatedAt: t0},
			"no key":     {Channel: "slack", Ref: "r", UpdatedAt: t0},
			"no ref":     {Channel: "slack", AlertKey: "k2", UpdatedAt: t0},
			"no time":    {Channel: "slack", AlertKey: "k2", Ref: "r"},
		} {
			if err := s.SaveMessageRefs(ctx, ok, bad); err == nil {
				t.Errorf("%s: saved", name)
			}
		}
		// All or none: the good ref beside a bad one was not saved either.
		if _, found, err := s.MessageRef(ctx, "slack", "k"); err != nil || found {
			t.Errorf("MessageRef(k) = %v, %v; want none", found, err)
		}
	})
}

func TestPruneMessageRefs(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		now := t0.Add(60 * 24 * time.Hour)
		old := now.Add(-40 * 24 * time.Hour)
		mustSaveAlert(t, s, newAlert("firing-long", "shop", "firing", old), 0)
		refs := []store.MessageRef{
			{Channel: "slack", AlertKey: "resolved-old", Ref: "a", UpdatedAt: old},
			{Channel: "slack", AlertKey: "firing-long", Ref: "b", UpdatedAt: old},
			{Channel: "slack", AlertKey: "recent", Ref: "c", UpdatedAt: now.Add(-time.Hour)},
		}
		if err := s.SaveMessageRefs(ctx, refs...); err != nil {
			t.Fatal(err)
		}
		res, err := s.Prune(ctx, now, store.DefaultRetention())
		if err != nil {
			t.Fatal(err)
		}
		if res.MessageRefs != 1 {
			t.Errorf("Prune deleted %d message refs, want 1", res.MessageRefs)
		}
		for _, r := range refs {
			_, ok, err := s.MessageRef(ctx, r.Channel, r.AlertKey)
			if err != nil {
				t.Fatal(err)
			}
			if want := r.AlertKey != "resolved-old"; ok != want {
				t.Errorf("%s kept = %v, want %v", r.AlertKey, ok, want)
			}
		}
	})
}
