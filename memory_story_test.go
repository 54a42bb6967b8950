package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// runtimeLine is a log-runtime-metrics line of dyno with rss MB of 512.
func runtimeLine(dyno string, rss float64) string {
	return fmt.Sprintf("heroku[%[1]s]: source=%[1]s dyno=heroku.145151706.4ce1b1b4-43d3-4c2b-9a9e-0f2b2b3c1a77 sample#load_avg_1m=0.05 sample#load_avg_5m=0.04 sample#load_avg_15m=0.03 sample#memory_total=%.2fMB sample#memory_rss=%.2fMB sample#memory_cache=3.10MB sample#memory_swap=0.00MB sample#memory_pgpgin=220154pages sample#memory_pgpgout=105987pages sample#memory_quota=512.00MB",
		dyno, rss+3.1, rss)
}

// A dyno leaking 120 MB/h from 200 MB: MEMORY_LEAK warns once the fit is
// steady (30 minutes of samples after its 10-minute warm-up), about 2 h
// before it reaches its quota, while MEMORY (90% of the quota) is still
// far away; the API lists the forecast; the daily cycling resolves it.
func TestStoryMemoryLeakWarnsBeforeR14AndResolvesAtTheRestart(t *testing.T) {
	t.Parallel()
	s := newStory(t)
	start := s.now()
	s.log("shop", "heroku[web.2]: State changed from starting to up")
	rss := func() float64 { return 200 + 120*s.now().Sub(start).Hours() }
	for s.now().Sub(start) < 39*time.Minute {
		s.log("shop", runtimeLine("web.2", rss()), runtimeLine("web.1", 250))
		s.advance(20 * time.Second)
	}
	s.expect()
	for s.now().Sub(start) < 45*time.Minute {
		s.log("shop", runtimeLine("web.2", rss()), runtimeLine("web.1", 250))
		s.advance(20 * time.Second)
	}
	s.expect("firing shop memory_leak")
	got := s.received()[0].Alerts[0]
	if got.Dyno != "web.2" || !strings.HasPrefix(got.Summary, "web.2 grows 120 MB/h, reaches 512 MB in about 2 h (now ") {
		t.Errorf("alert %+v", got)
	}

	code, body := s.call("GET", "/api/v1/apps/shop/dynos", "")
	var resp struct {
		Dynos []struct {
			Dyno    string     `json:"dyno"`
			QuotaMB float64    `json:"quota_mb"`
			Growth  float64    `json:"growth_mb_per_hour"`
			R2      float64    `json:"r2"`
			Leak    bool       `json:"leak"`
			QuotaAt *time.Time `json:"quota_at"`
		} `json:"dynos"`
	}
	if err := json.Unmarshal([]byte(body), &resp); code != 200 || err != nil || len(resp.Dynos) != 2 {
		t.Fatalf("GET dynos: %d %s (%v)", code, body, err)
	}
	readmeSameShape(t, body)
	web1, web2 := resp.Dynos[0], resp.Dynos[1]
	if web1.Dyno != "web.1" || web1.Leak || web1.QuotaAt != nil || web1.QuotaMB != 512 {
		t.Errorf("web.1 %+v, want steady with no forecast", web1)
	}
	reach := start.Add(time.Duration((512 - 200) / 120.0 * float64(time.Hour)))
	if web2.Dyno != "web.2" || !web2.Leak || web2.Growth < 119 || web2.Growth > 121 || web2.R2 < 0.99 || web2.QuotaAt == nil ||
		web2.QuotaAt.Sub(reach).Abs() > 2*time.Minute {
		t.Errorf("web.2 %+v, want 120 MB/h reaching the quota at %v", web2, reach)
	}

	// The daily cycling restarts it: the leak starts over, the alert resolves.
	s.log("shop", "heroku[web.2]: Cycling", "heroku[web.2]: State changed from up to starting")
	s.advance(10 * time.Second)
	s.log("shop", "heroku[web.2]: Starting process with command `bundle exec puma -C config/puma.rb`", "heroku[web.2]: State changed from starting to up")
	for range 6 {
		s.log("shop", runtimeLine("web.2", 180), runtimeLine("web.1", 250))
		s.advance(20 * time.Second)
	}
	s.expect("firing shop memory_leak", "resolved shop memory_leak")
}

// readmeSameShape checks the README's example answer of GET
// /api/v1/apps/{app}/dynos against a real one: the same fields, and a
// summary said the same way.
func readmeSameShape(t *testing.T, body string) {
	t.Helper()
	m := regexp.MustCompile("`(\\{\"app\":\"[a-z-]+\",\"dynos\":[^`]+\\})`").FindStringSubmatch(readme(t))
	if m == nil {
		t.Fatal("README.md no longer shows the GET /api/v1/apps/{app}/dynos example")
	}
	type answer struct{ Dynos []map[string]any }
	var ex, real answer
	if err := json.Unmarshal([]byte(m[1]), &ex); err != nil || len(ex.Dynos) == 0 {
		t.Fatalf("README's dynos example %s: %v", m[1], err)
	}
	json.Unmarshal([]byte(body), &real)
	for _, d := range real.Dynos {
		if d["leak"] != true {
			continue
		}
		delete(d, "why")
		if got, want := slices.Sorted(maps.Keys(d)), slices.Sorted(maps.Keys(ex.Dynos[0])); !slices.Equal(got, want) {
			t.Errorf("a leaking dyno's fields %v, the README shows %v", got, want)
		}
		durations, numbers := regexp.MustCompile(`[0-9]+ (h [0-9]+ min|h|min)`), regexp.MustCompile(`[0-9.]+`)
		shape := func(v any) string { return numbers.ReplaceAllString(durations.ReplaceAllString(v.(string), "D"), "N") }
		if got, want := shape(d["summary"]), shape(ex.Dynos[0]["summary"]); got != want {
			t.Errorf("summary says %q, the README %q", got, want)
		}
	}
}
