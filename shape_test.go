package main

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// TestREADMEShapeScript runs the README's scripts/shape.sh for one small
// shape, as its example does: a fresh Postgres database, the load, SIGTERM,
// and a RESULT line with every acknowledged message stored.
func TestREADMEShapeScript(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary and runs a load")
	}
	for _, tool := range []string{"bash", "createdb", "dropdb", "psql", "curl", "awk"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is missing: %v", tool, err)
			}
			t.Skipf("%s is missing", tool)
		}
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "dynowatch")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0") // a free port for the script's dynowatch
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	b := make([]byte, 4)
	rand.Read(b)
	name := "readme_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		exec.Command("dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", "dw_shape_"+name).Run()
	})

	cmd := exec.Command("scripts/shape.sh", bin, name, "2", "3", "0", "2s", "TERM")
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port), "OUT="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("shape.sh: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`RESULT \S+ apps=2 dynos=3 hcodes=0 sig=TERM exit=0 stop=\S+ acknowledged=(\d+) stored=(\d+) \(100\.0%\) committed_batches=(\d+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no RESULT line with exit 0 and 100%% stored:\n%s", out)
	}
	if string(m[1]) == "0" || string(m[1]) != string(m[2]) || string(m[3]) == "0" {
		t.Fatalf("acknowledged %s, stored %s, batches %s: want all of a load stored\n%s", m[1], m[2], m[3], out)
	}
}
