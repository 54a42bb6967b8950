package dashboard

import (
	"net/http"
	"strconv"
	"time"

	"github.com/dynowatch/dynowatch/internal/store"
)

type auditPage struct {
	Entries []store.AuditEntry
	Next    int64 // the before= of the next page; 0 on the last
	Now     time.Time
}

// auditPageSize is how many entries the audit page shows at once.
const auditPageSize = 100

// handleAudit handles "GET /audit?before=": who did what (silences created
// and ended, apps deleted, alerts acknowledged), newest first.
func (d *dashboard) handleAudit(w http.ResponseWriter, r *http.Request) {
	q := store.AuditQuery{Limit: auditPageSize}
	if v := r.URL.Query().Get("before"); v != "" {
		var err error
		if q.Before, err = strconv.ParseInt(v, 10, 64); err != nil || q.Before < 1 {
			http.Error(w, "before must be the number of an entry", http.StatusBadRequest)
			return
		}
	}
	entries, err := d.Store.Audit(r.Context(), q)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	page := auditPage{Entries: entries, Now: d.Now()}
	if len(entries) == auditPageSize {
		page.Next = entries[len(entries)-1].ID
	}
	d.render(w, "audit.html", page)
}
