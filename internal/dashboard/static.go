package dashboard

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

// static holds uPlot (MIT, see static/uPlot.LICENSE) and our chart script,
// served from the binary: no CDN, no build step.
//
//go:embed static
var static embed.FS

// assets serves static/ at /static/ with long cache lifetimes. Pages link
// each file with ?v= and a hash of its content, so a new binary with a
// changed file gets a new URL.
type assets struct {
	files   map[string][]byte // by name, such as "uPlot.min.css"
	version map[string]string // the content hash of each file
}

func loadAssets() (*assets, error) {
	a := &assets{files: map[string][]byte{}, version: map[string]string{}}
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "static/")
		sum := sha256.Sum256(b)
		a.files[name], a.version[name] = b, hex.EncodeToString(sum[:6])
		return nil
	})
	return a, err
}

// url is the versioned path of a static file, for the templates.
func (a *assets) url(name string) string {
	return "/static/" + name + "?v=" + a.version[name]
}

var contentTypes = map[string]string{
	".js":      "text/javascript; charset=utf-8",
	".css":     "text/css; charset=utf-8",
	".LICENSE": "text/plain; charset=utf-8",
}

// ServeHTTP handles "GET /static/{file}".
func (a *assets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	b, ok := a.files[name]
	ct := contentTypes[path.Ext(name)]
	if !ok || ct == "" {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("ETag", `"`+a.version[name]+`"`)
	if r.Header.Get("If-None-Match") == `"`+a.version[name]+`"` {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Write(b)
}
