package main

import (
	"fmt"
	"testing"
	"time"
)

// A Postgres whose lines carry the plan's limit pages on the share of it
// used: 190 of 200 connections for three samples, where PG_CONNECTIONS'
// count (100) would have paged at 150 on a plan of 500.
func TestStoryPlanLimitsPageOnTheShareUsed(t *testing.T) {
	t.Parallel()
	s := newStory(t)
	line := func(active, limit int) string {
		return fmt.Sprintf("app[heroku-postgres]: source=HEROKU_POSTGRESQL_SILVER addon=postgresql-curved-12345 sample#db_size=26219348792bytes sample#db-size-percentage-used=0.02767 sample#db-max-size=1000000000000bytes sample#tables=13 sample#active-connections=%d sample#waiting-connections=0 sample#max-connections=%d sample#connections-percentage-used=%.5f sample#index-cache-hit-rate=0.99991 sample#table-cache-hit-rate=0.99987 sample#read-iops=0 sample#write-iops=112.73 sample#max-iops=3000 sample#iops-percentage-used=0.03758",
			active, limit, float64(active)/float64(limit))
	}
	for range 3 {
		s.log("shop", line(150, 500))
		s.advance(time.Minute)
	}
	s.expect()
	for range 3 {
		s.log("shop", line(190, 200))
		s.advance(time.Minute)
	}
	s.expect("firing shop pg_connections_used")
	if got := s.received()[0].Alerts[0].Summary; got != "Postgres HEROKU_POSTGRESQL_SILVER: 190 connections of the plan's 200 (95%)" {
		t.Errorf("summary %q", got)
	}
}
