package api

import (
	"net/http"

	"github.com/dynowatch/dynowatch/internal/alert"
)

// handleCoverage handles "GET /api/v1/apps/{app}/coverage": what dynowatch
// sees of the app (router lines, runtime and add-on metrics, L10 drops,
// the drain, Fir telemetry), each with what turns it on when it is off.
func (s *server) handleCoverage(w http.ResponseWriter, r *http.Request) {
	app, now := r.PathValue("app"), s.Now()
	f, err := s.Store.Coverage(r.Context(), app, now)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	writeJSON(w, alert.AssessCoverage(app, f, now))
}
