package alert

import (
	"testing"
	"time"
)

// Alerts joining a cause's incident go out at the end of the GroupWait
// slot they fire in, counted from when the cause fired: those close
// together share one message.
func TestJoinAt(t *testing.T) {
	t.Parallel()
	fired := time.Date(2026, 11, 30, 14, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name  string
		after time.Duration // now - fired
		wait  time.Duration
		want  time.Duration // after fired; -1: at once
	}{
		{"within the first minute", 20 * time.Second, time.Minute, time.Minute},
		{"minutes later", 3*time.Minute + 20*time.Second, time.Minute, 4 * time.Minute},
		{"on a slot's end", 2 * time.Minute, time.Minute, 3 * time.Minute},
		{"grouping off", 20 * time.Second, 0, -1},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := joinAt(fired, fired.Add(c.after), c.wait)
			if c.want < 0 && !got.IsZero() || c.want >= 0 && !got.Equal(fired.Add(c.want)) {
				t.Errorf("joinAt(+%v, %v) = %v, want +%v", c.after, c.wait, got, c.want)
			}
		})
	}
}

// Only what a failing database or cache explains joins its incident.
func TestJoinsCause(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		s    State
		want bool
	}{
		{State{Rule: RuleHCodes, Code: "H12"}, true},
		{State{Rule: RuleHCodes, Code: "H13"}, true},
		{State{Rule: RuleHCodes, Code: "H10"}, false}, // the app crashed: its own incident
		{State{Rule: Rule5xxRate}, true},
		{State{Rule: RuleSlowRequests}, true},
		{State{Rule: RuleR14}, false},
	} {
		if got := joinsCause(&c.s); got != c.want {
			t.Errorf("joinsCause(%s %s) = %v, want %v", c.s.Rule, c.s.Code, got, c.want)
		}
	}
}
