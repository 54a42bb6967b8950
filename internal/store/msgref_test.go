package store_test

import (
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/notify"
	"github.com/dynowatch/dynowatch/internal/store"
)

// The store keeps the sender's message refs.
var _ notify.MessageRefs = (*store.Store)(nil)

func TestMessageRefs(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		if _, ok, err := s.MessageRef(ctx, "slack", "r14|shop|web.1"); err != nil || ok {
			t.Fatalf("MessageRef before any save = %v, %v; want none", ok, err)
		}
		// A grouped message: one ref for both its alerts.
		grouped := notify.MessageRef{ID: "C1 1700000000.000100", Grouped: true}
		if err := s.SaveMessageRef(ctx, "slack", []string{"r14|shop|web.1", "h_codes|shop|H12"}, grouped, t0); err != nil {
			t.Fatal(err)
		}
		discord := notify.MessageRef{ID: "1130000000000000001"}
		if err := s.SaveMessageRef(ctx, "discord", []string{"r14|shop|web.1"}, discord, t0); err != nil {
			t.Fatal(err)
		}
		// The alert fires again later: a new message replaces the old.
		again := notify.MessageRef{ID: "C1 1700000900.000200"}
		if err := s.SaveMessageRef(ctx, "slack", []string{"r14|shop|web.1"}, again, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			channel, key string
			want         notify.MessageRef
		}{
			{"slack", "r14|shop|web.1", again},
			{"slack", "h_codes|shop|H12", grouped},
			{"discord", "r14|shop|web.1", discord},
		} {
			got, ok, err := s.MessageRef(ctx, c.channel, c.key)
			if err != nil || !ok || got != c.want {
				t.Errorf("MessageRef(%s, %s) = %+v, %v, %v; want %+v", c.channel, c.key, got, ok, err, c.want)
			}
		}
	})
}

func TestSaveMessageRefRefusesIncompleteRefs(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		ref := notify.MessageRef{ID: "C1 1.2"}
		for _, c := range []struct {
			name    string
			channel string
			keys    []string
			ref     notify.MessageRef
			now     time.Time
		}{
			{"no channel", "", []string{"k"}, ref, t0},
			{"an empty key", "slack", []string{"k", ""}, ref, t0},
			{"no ref", "slack", []string{"k"}, notify.MessageRef{}, t0},
			{"no time", "slack", []string{"k"}, ref, time.Time{}},
		} {
			if err := s.SaveMessageRef(ctx, c.channel, c.keys, c.ref, c.now); err == nil {
				t.Errorf("%s: saved", c.name)
			}
		}
		// All or none: the good key beside an empty one was not saved either.
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
		saved := map[string]time.Time{"resolved-old": old, "firing-long": old, "recent": now.Add(-time.Hour)}
		for key, at := range saved {
			if err := s.SaveMessageRef(ctx, "slack", []string{key}, notify.MessageRef{ID: "ref of " + key}, at); err != nil {
				t.Fatal(err)
			}
		}
		res, err := s.Prune(ctx, now, store.DefaultRetention())
		if err != nil {
			t.Fatal(err)
		}
		if res.MessageRefs != 1 {
			t.Errorf("Prune deleted %d message refs, want 1", res.MessageRefs)
		}
		for key := range saved {
			_, ok, err := s.MessageRef(ctx, "slack", key)
			if err != nil {
				t.Fatal(err)
			}
			if want := key != "resolved-old"; ok != want {
				t.Errorf("%s kept = %v, want %v", key, ok, want)
			}
		}
	})
}
