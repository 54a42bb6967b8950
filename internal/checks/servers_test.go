package checks

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"io"
	"math/big"
	"net"
	"net/url"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/redact"
	"github.com/redis/go-redis/v9"
)

// Test servers: the local Redis and Postgres (shared with other packages'
// tests, so keys are prefixed per test and nothing is flushed), and small
// listeners of the test's own.

// defaultRedisURL is the local test server; DYNOWATCH_TEST_REDIS_URL
// overrides it.
const defaultRedisURL = "redis://127.0.0.1:6379/0"

// unreachable skips t, or fails it when CI=true, because a test server is
// down.
func unreachable(t testing.TB, what string, err error) {
	t.Helper()
	msg := what + " is unreachable: " + err.Error()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// testRedis returns the URL of the test Redis, a client of it, and a key
// prefix of t's own whose keys are deleted when t ends.
func testRedis(t *testing.T) (rawURL string, client *redis.Client, prefix string) {
	t.Helper()
	rawURL = os.Getenv("DYNOWATCH_TEST_REDIS_URL")
	if rawURL == "" {
		rawURL = defaultRedisURL
	}
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		t.Fatalf("DYNOWATCH_TEST_REDIS_URL: %v", err)
	}
	client = redis.NewClient(opt)
	t.Cleanup(func() { client.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		unreachable(t, "the test Redis at "+redact.URL(rawURL), err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix = "dynowatch-test:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		keys, err := client.Keys(ctx, prefix+"*").Result()
		if err == nil && len(keys) > 0 {
			err = client.Del(ctx, keys...).Err()
		}
		if err != nil {
			t.Errorf("deleting the test's keys: %v", err)
		}
	})
	return rawURL, client, prefix
}

// withHostPort returns raw with its host and port replaced by addr.
func withHostPort(t *testing.T, raw, addr string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = addr
	return u.String()
}

// closedAddr is an address where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// silentAddr is the address of a listener that accepts connections and
// never answers: a hung server.
func silentAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go io.Copy(io.Discard, c) //nolint:errcheck // read and never answer
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

// selfSigned is a certificate for 127.0.0.1 and localhost, valid until
// notAfter, signed by nobody anyone trusts.
func selfSigned(t *testing.T, notAfter time.Time) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "dynowatch test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:    []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// tlsProxy terminates TLS with cert and forwards the bytes to backend, as
// the TLS front of Heroku's Redis does, and returns its address.
func tlsProxy(t *testing.T, cert tls.Certificate, backend string) string {
	t.Helper()
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b, err := net.Dial("tcp", backend)
				if err != nil {
					return
				}
				defer b.Close()
				go io.Copy(b, c) //nolint:errcheck // until either side closes
				io.Copy(c, b)    //nolint:errcheck
			}()
		}
	}()
	return l.Addr().String()
}

// hostPort is u's host:port.
func hostPort(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if u.Port() == "" {
		return net.JoinHostPort(u.Hostname(), strconv.Itoa(6379))
	}
	return u.Host
}
