package notify

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

const teamsTestPath = "/workflows/0123abcd/triggers/manual/paths/invoke"

// teamsAPI fakes a Workflows trigger: 202 for a message whose one
// attachment is an Adaptive Card, 400 otherwise, as Power Automate answers.
func teamsAPI(t *testing.T) *fakeProvider {
	return newFakeProvider(t, func(r chatRequest) (int, http.Header, string) {
		switch {
		case r.Method != http.MethodPost || r.Path != teamsTestPath || !strings.Contains(r.Query, "sig=teamstestsig"):
			return 401, nil, `{"error":{"code":"DirectApiAuthorizationRequired","message":"The request must be authenticated."}}`
		case str(r.Body, "type") != "message" || str(r.Body, "attachments", 0, "contentType") != "application/vnd.microsoft.card.adaptive" ||
			str(r.Body, "attachments", 0, "content", "type") != "AdaptiveCard" || str(r.Body, "attachments", 0, "content", "body", 0, "text") == "":
			return 400, nil, `{"error":{"code":"InvalidRequestContent","message":"The input body for trigger 'manual' of type 'Request' did not match its schema definition."}}`
		}
		return 202, nil, ""
	})
}

// TestTeamsFollowsUp: a workflow can't edit, so the reminder and the
// resolution are short cards naming the first.
func TestTeamsFollowsUp(t *testing.T) {
	api := teamsAPI(t)
	tm, err := NewTeams(TeamsOptions{WebhookURL: api.srv.URL + teamsTestPath + "?api-version=1&sig=teamstestsig"})
	if err != nil {
		t.Fatal(err)
	}
	refs := incident(t, tm)
	got := api.requests()
	if len(got) != 3 {
		t.Fatalf("requests = %+v, want three cards", got)
	}
	first := "FIRING critical: R14 memory quota exceeded: rss 612MB of 512MB on shop web.1, sent 2025-03-14 10:26:05 CET"
	if refs[0].ID != first || refs[2] != refs[0] {
		t.Errorf("refs = %+v, want each naming the first card", refs)
	}
	if s := str(got[2].Body, "attachments", 0, "content", "body", 1, "text"); s != "Follows: "+first {
		t.Errorf("follow-up says %q", s)
	}
	if c := str(got[2].Body, "attachments", 0, "content", "body", 0, "color"); c != "good" {
		t.Errorf("resolved card's title colour = %q, want good", c)
	}
}

func TestTeamsFailures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		header http.Header
		body   string
		retry  bool
		text   string
		wait   time.Duration
	}{
		{"schema", 400, nil, `{"error":{"code":"InvalidRequestContent","message":"did not match its schema definition."}}`, false, "InvalidRequestContent", 0},
		{"flow off", 404, nil, `{"error":{"code":"WorkflowNotFound","message":"The workflow could not be found."}}`, false, "WorkflowNotFound", 0},
		{"throttled", 429, http.Header{"Retry-After": {"60"}}, `{"error":{"code":"WorkflowRequestsThrottled","message":"Rate limit"}}`, true, "Throttled", time.Minute},
		{"unavailable", 503, nil, ``, true, "503", 0},
	} {
		api := newFakeProvider(t, func(chatRequest) (int, http.Header, string) { return tc.status, tc.header, tc.body })
		tm, _ := NewTeams(TeamsOptions{WebhookURL: api.srv.URL + teamsTestPath})
		checkFailure(t, tc.name, func() (bool, error) { return tm.Notify(context.Background(), fixtureFiring()) }, tc.retry, tc.text, tc.wait)
	}
}
