package dashboard

import (
	"net/http"

	"github.com/dynowatch/dynowatch/internal/otlp"
)

// handleFir handles "GET /fir": per app, the shapes of telemetry this web
// process was sent in the last 24 h and which of them dynowatch reads, so
// that a Fir shape it does not know is seen instead of lost.
func (d *dashboard) handleFir(w http.ResponseWriter, r *http.Request) {
	page := struct {
		Report otlp.SightingsReport
	}{}
	if d.Sightings != nil {
		page.Report = d.Sightings.Sightings()
	}
	d.render(w, "fir.html", page)
}
