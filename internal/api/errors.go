package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/store"
)

// requestError is a client's mistake, shown to it as it is.
type requestError struct{ msg string }

func (e *requestError) Error() string { return e.msg }

func badRequest(param, value, want string, err error) error {
	msg := fmt.Sprintf("query parameter %s=%q: want %s", param, value, want)
	if err != nil {
		msg += " (" + err.Error() + ")"
	}
	return &requestError{msg}
}

// writeError maps an error to a status: client mistakes are explained,
// internal errors are logged with the request and shown as a generic message.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var re *requestError
	status, msg := http.StatusInternalServerError, "internal error"
	switch {
	case errors.As(err, &re):
		status, msg = http.StatusBadRequest, re.msg
	case errors.Is(err, store.ErrUnknownMetric), errors.Is(err, store.ErrTooManyPoints):
		status, msg = http.StatusBadRequest, err.Error()
	case errors.Is(err, alert.ErrBadAck):
		status, msg = http.StatusBadRequest, err.Error()
	case errors.Is(err, alert.ErrNotFiring):
		status, msg = http.StatusConflict, err.Error()
	case errors.Is(err, store.ErrNotFound), errors.Is(err, alert.ErrNoAlert):
		status, msg = http.StatusNotFound, err.Error()
	case errors.Is(err, context.Canceled):
		return
	default:
		if log != nil {
			log.Error("api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
