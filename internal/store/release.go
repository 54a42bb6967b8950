package store

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/parse"
)

// deployPairing is how far apart the "Deploy … by …" and "Release vN
// created by …" lines of one push may be: Heroku writes them together.
const deployPairing = 2 * time.Minute

// Releases returns app's releases from from to to, oldest first
// (alert.ReleaseFigures): its release lines, each with the commit of a
// deploy line beside it, and deploy lines alone.
func (s *Store) Releases(ctx context.Context, app string, from, to time.Time) ([]alert.Release, error) {
	lines, err := queryAll(ctx, s.q, scanValue[string], `SELECT line FROM events
		WHERE app = $1 AND kind IN ($2, $3) AND time_us >= $4 AND time_us <= $5 ORDER BY time_us, id`,
		app, parse.KindRelease.String(), parse.KindDeploy.String(), micros(from), micros(to))
	if err != nil {
		return nil, fmt.Errorf("store: releases of %s: %w", app, err)
	}
	var out []alert.Release
	paired := func(at time.Time, deploy bool) *alert.Release {
		for i := len(out) - 1; i >= 0 && at.Sub(out[i].At) <= deployPairing; i-- {
			if r := &out[i]; deploy && r.Commit == "" || !deploy && r.Version == "" {
				return r
			}
		}
		return nil
	}
	for _, line := range lines {
		sc := parse.NewScanner(strings.NewReader(line+"\n"), parse.FormPlain)
		if !sc.Scan() {
			continue
		}
		e, err := sc.Entry()
		if err != nil || (e.Kind != parse.KindRelease && e.Kind != parse.KindDeploy) {
			continue // a line stored by a parser of another release
		}
		p := e.Platform
		switch r := paired(e.Time, e.Kind == parse.KindDeploy); {
		case r == nil:
			out = append(out, alert.Release{At: e.Time, Version: p.Version, User: p.User, Commit: p.Commit, Line: line})
		case e.Kind == parse.KindDeploy:
			r.Commit = p.Commit
		default: // the release line of a deploy line before it
			r.At, r.Version, r.User, r.Line = e.Time, p.Version, p.User, line
		}
	}
	for i := range out { // the entries' strings share the scanner's buffer
		r := &out[i]
		r.Version, r.User, r.Commit = strings.Clone(r.Version), strings.Clone(r.User), strings.Clone(r.Commit)
	}
	return out, nil
}

// Figures returns app's requests, 5xx, service times, router errors and
// crashes over the whole minutes from from to to (alert.ReleaseFigures).
func (s *Store) Figures(ctx context.Context, app string, from, to time.Time) (alert.Figures, error) {
	lo, hi := time.Unix(floorTo(from.Unix()+59, 60), 0), to.Truncate(time.Minute)
	if !hi.After(lo) {
		return alert.Figures{P95: math.NaN(), P99: math.NaN()}, nil
	}
	ws, err := s.WindowStats(ctx, app, lo, hi)
	if err != nil {
		return alert.Figures{}, err
	}
	f := alert.Figures{Minutes: int(hi.Sub(lo) / time.Minute), Requests: ws.Requests, Status5xx: ws.Status5xx, Codes: ws.Codes,
		P95: ws.Service.Quantile(0.95), P99: ws.Service.Quantile(0.99)}
	err = s.q.queryRow(ctx, `SELECT count(*) FROM events WHERE app = $1 AND kind = $2 AND time_us >= $3 AND time_us < $4 AND line LIKE $5`,
		app, parse.KindStateChange.String(), micros(lo), micros(hi), "% to crashed%").Scan(&f.Crashes)
	if err != nil {
		return alert.Figures{}, fmt.Errorf("store: crashes of %s: %w", app, err)
	}
	return f, nil
}
