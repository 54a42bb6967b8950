package notify

import (
	"bytes"
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
)

var _ Notifier = (*SMTP)(nil)

// testSMTPServer speaks just enough SMTP for the client: EHLO, STARTTLS,
// AUTH PLAIN and LOGIN, MAIL, RCPT, DATA, RSET, NOOP and QUIT. It records
// each message it accepts.
type testSMTPServer struct {
	ln          net.Listener
	tlsConfig   *tls.Config       // offers STARTTLS when set
	implicitTLS bool              // speaks TLS from the start (smtps)
	user, pass  string            // offers and requires AUTH when set
	mechs       string            // the AUTH mechanisms offered; "PLAIN" when empty
	reply       map[string]string // a verb's forced reply, such as "MAIL": "451 4.3.0 Try again later"
	rcptReply   map[string]string // an address's forced reply to RCPT

	wg   sync.WaitGroup
	mu   sync.Mutex
	msgs []testSMTPMessage
}

type testSMTPMessage struct {
	From string
	To   []string
	Data []byte // as read by textproto's DotReader: LF line ends
	TLS  bool
	User string
}

func newTestSMTPServer(t *testing.T, configure func(*testSMTPServer)) *testSMTPServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testSMTPServer{ln: ln}
	if configure != nil {
		configure(s)
	}
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Go(func() { s.handle(c) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
	})
	return s
}

func (s *testSMTPServer) addr() string { return s.ln.Addr().String() }

func (s *testSMTPServer) messages() []testSMTPMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]testSMTPMessage(nil), s.msgs...)
}

func (s *testSMTPServer) handle(conn net.Conn) {
	defer func() { conn.Close() }()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	isTLS := false
	if s.implicitTLS {
		conn, isTLS = tls.Server(conn, s.tlsConfig), true
	}
	tp := textproto.NewConn(conn)
	var user string
	var m testSMTPMessage
	tp.PrintfLine("220 test.local ESMTP")
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		verb = strings.ToUpper(verb)
		if r, ok := s.reply[verb]; ok {
			tp.PrintfLine("%s", r)
			continue
		}
		switch verb {
		case "EHLO", "HELO":
			ext := []string{"test.local"}
			if s.tlsConfig != nil && !isTLS {
				ext = append(ext, "STARTTLS")
			}
			if s.user != "" {
				ext = append(ext, "AUTH "+cmp.Or(s.mechs, "PLAIN"))
			}
			ext = append(ext, "8BITMIME")
			for i, e := range ext {
				sep := "-"
				if i == len(ext)-1 {
					sep = " "
				}
				tp.PrintfLine("250%s%s", sep, e)
			}
		case "STARTTLS":
			tp.PrintfLine("220 2.0.0 Ready to start TLS")
			tc := tls.Server(conn, s.tlsConfig)
			if err := tc.Handshake(); err != nil {
				return
			}
			conn, tp, isTLS = tc, textproto.NewConn(tc), true
		case "AUTH":
			mech, resp, _ := strings.Cut(arg, " ")
			if !slices.Contains(strings.Fields(cmp.Or(s.mechs, "PLAIN")), mech) {
				tp.PrintfLine("504 5.7.4 Unrecognized authentication type")
				continue
			}
			var gotUser, gotPass string
			switch mech {
			case "PLAIN":
				b, _ := base64.StdEncoding.DecodeString(resp)
				if parts := strings.Split(string(b), "\x00"); len(parts) == 3 {
					gotUser, gotPass = parts[1], parts[2]
				}
			case "LOGIN":
				// As Office 365 does: "Username:" then "Password:", base64.
				tp.PrintfLine("334 VXNlcm5hbWU6")
				u, err := tp.ReadLine()
				if err != nil {
					return
				}
				tp.PrintfLine("334 UGFzc3dvcmQ6")
				p, err := tp.ReadLine()
				if err != nil {
					return
				}
				bu, _ := base64.StdEncoding.DecodeString(u)
				bp, _ := base64.StdEncoding.DecodeString(p)
				gotUser, gotPass = string(bu), string(bp)
			}
			if gotUser == s.user && gotPass == s.pass {
				user = gotUser
				tp.PrintfLine("235 2.7.0 Authentication successful")
			} else {
				tp.PrintfLine("535 5.7.8 Authentication credentials invalid")
			}
		case "MAIL":
			if s.user != "" && user == "" {
				tp.PrintfLine("530 5.7.0 Authentication required")
				continue
			}
			m = testSMTPMessage{From: angleAddr(arg), TLS: isTLS, User: user}
			tp.PrintfLine("250 2.1.0 OK")
		case "RCPT":
			a := angleAddr(arg)
			if r, ok := s.rcptReply[a]; ok {
				tp.PrintfLine("%s", r)
				continue
			}
			m.To = append(m.To, a)
			tp.PrintfLine("250 2.1.5 OK")
		case "DATA":
			tp.PrintfLine("354 End data with <CR><LF>.<CR><LF>")
			data, err := tp.ReadDotBytes()
			if err != nil {
				return
			}
			m.Data = data
			s.mu.Lock()
			s.msgs = append(s.msgs, m)
			s.mu.Unlock()
			tp.PrintfLine("250 2.0.0 OK queued")
		case "RSET":
			m = testSMTPMessage{}
			tp.PrintfLine("250 2.0.0 OK")
		case "NOOP":
			tp.PrintfLine("250 2.0.0 OK")
		case "QUIT":
			tp.PrintfLine("221 2.0.0 Bye")
			return
		default:
			tp.PrintfLine("502 5.5.2 Command not recognized")
		}
	}
}

// angleAddr reads the address of "FROM:<a@example.com> BODY=8BITMIME".
func angleAddr(arg string) string {
	_, rest, _ := strings.Cut(arg, "<")
	a, _, _ := strings.Cut(rest, ">")
	return a
}

// testCert makes a self-signed certificate for 127.0.0.1.
func testCert(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "dynowatch test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, roots
}

func newTestSMTP(t *testing.T, o SMTPOptions) *SMTP {
	t.Helper()
	if o.From == "" {
		o.From = "alerts@example.com"
	}
	if o.To == nil {
		o.To = []string{"ops@example.com", "Jane Doe <jane@example.com>"}
	}
	s, err := NewSMTP(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSMTPSendsWithSTARTTLSAndAuth(t *testing.T) {
	serverTLS, roots := testCert(t)
	srv := newTestSMTPServer(t, func(s *testSMTPServer) {
		s.tlsConfig, s.user, s.pass = serverTLS, "alerts", "s3cret-pass"
	})
	c := newTestSMTP(t, SMTPOptions{
		URL:       "smtp://alerts:s3cret-pass@" + srv.addr(),
		TLSConfig: &tls.Config{RootCAs: roots},
	})
	n := fixtureGrouped()
	if retry, err := c.Notify(context.Background(), n); err != nil || retry {
		t.Fatalf("Notify=%v, %v; want false, nil", retry, err)
	}
	msgs := srv.messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if !m.TLS || m.User != "alerts" {
		t.Errorf("TLS=%v user=%q, want STARTTLS then AUTH as alerts", m.TLS, m.User)
	}
	if m.From != "alerts@example.com" || strings.Join(m.To, ",") != "ops@example.com,jane@example.com" {
		t.Errorf("envelope from %q to %q", m.From, m.To)
	}
	checkSMTPMessage(t, m.Data, n)
}

// TestSMTPAuthMechanisms: the client logs in with what the server offers,
// AUTH LOGIN alone included (Office 365's smtp.office365.com offers
// "LOGIN XOAUTH2"), and a wrong password under either is a final error.
func TestSMTPAuthMechanisms(t *testing.T) {
	serverTLS, roots := testCert(t)
	for _, tc := range []struct {
		name, mechs, pass string
		wantErr           string
	}{
		{"PLAIN only", "PLAIN", "s3cret-pass", ""},
		{"LOGIN only, as Office 365", "LOGIN XOAUTH2", "s3cret-pass", ""},
		{"both: PLAIN", "LOGIN PLAIN", "s3cret-pass", ""},
		{"LOGIN, wrong password", "LOGIN", "wrong-pass", "AUTH: 535 5.7.8 Authentication credentials invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newTestSMTPServer(t, func(s *testSMTPServer) {
				s.tlsConfig, s.user, s.pass, s.mechs = serverTLS, "alerts@example.com", "s3cret-pass", tc.mechs
			})
			c := newTestSMTP(t, SMTPOptions{
				URL:       "smtp://alerts%40example.com:" + tc.pass + "@" + srv.addr(),
				TLSConfig: &tls.Config{RootCAs: roots},
			})
			retry, err := c.Notify(context.Background(), fixtureFiring())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || retry {
					t.Fatalf("Notify=%v, %v; want no retry and %q", retry, err, tc.wantErr)
				}
				if strings.Contains(err.Error(), base64.StdEncoding.EncodeToString([]byte(tc.pass))) {
					t.Errorf("error shows the password in base64: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Notify: %v", err)
			}
			if msgs := srv.messages(); len(msgs) != 1 || msgs[0].User != "alerts@example.com" || !msgs[0].TLS {
				t.Fatalf("messages %+v, want one sent over TLS as alerts@example.com", msgs)
			}
		})
	}
}

// TestSMTPLoginNeedsTLS: AUTH LOGIN, like PLAIN, never sends the password
// in the clear to another host.
func TestSMTPLoginNeedsTLS(t *testing.T) {
	a := &loginAuth{user: "u", pass: "p", host: "mail.example.com"}
	if _, _, err := a.Start(&smtp.ServerInfo{Name: "mail.example.com", TLS: false, Auth: []string{"LOGIN"}}); err == nil {
		t.Error("Start without TLS: no error")
	}
	if _, _, err := a.Start(&smtp.ServerInfo{Name: "other.example.com", TLS: true, Auth: []string{"LOGIN"}}); err == nil {
		t.Error("Start for another host: no error")
	}
	mech, _, err := a.Start(&smtp.ServerInfo{Name: "mail.example.com", TLS: true, Auth: []string{"LOGIN"}})
	if err != nil || mech != "LOGIN" {
		t.Fatalf("Start=%q, %v", mech, err)
	}
	for i, want := range []string{"u", "p"} {
		got, err := a.Next([]byte("prompt"), true)
		if err != nil || string(got) != want {
			t.Errorf("answer %d = %q, %v; want %q", i+1, got, err, want)
		}
	}
	if _, err := a.Next([]byte("again?"), true); err == nil {
		t.Error("a third prompt: no error")
	}
}

// checkSMTPMessage parses data as a mail client would and compares it with
// what RenderEmail makes of n.
func checkSMTPMessage(t *testing.T, data []byte, n *alert.Notification) {
	t.Helper()
	want, err := RenderEmail(n)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("not a message: %v\n%s", err, data)
	}
	h := msg.Header
	var dec mime.WordDecoder
	subject, err := dec.DecodeHeader(h.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, got, want string }{
		{"Subject", subject, want.Subject},
		{"From", h.Get("From"), `"dynowatch" <alerts@example.com>`},
		{"To", h.Get("To"), `<ops@example.com>, "Jane Doe" <jane@example.com>`},
		{"Message-ID", h.Get("Message-ID"), "<dynowatch." + n.ID + "@example.com>"},
		{"X-Dynowatch-Delivery", h.Get("X-Dynowatch-Delivery"), n.ID},
		{"MIME-Version", h.Get("MIME-Version"), "1.0"},
		{"Auto-Submitted", h.Get("Auto-Submitted"), "auto-generated"},
	} {
		if c.got != c.want {
			t.Errorf("%s=%q, want %q", c.name, c.got, c.want)
		}
	}
	if date, err := h.Date(); err != nil || !date.Equal(n.CreatedAt) {
		t.Errorf("Date=%v (%v), want %v", date, err, n.CreatedAt)
	}
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type=%q, want multipart/alternative", h.Get("Content-Type"))
	}
	r := multipart.NewReader(msg.Body, params["boundary"])
	for _, wantPart := range []struct{ typ, body string }{
		{"text/plain; charset=utf-8", want.Text},
		{"text/html; charset=utf-8", want.HTML},
	} {
		p, err := r.NextPart()
		if err != nil {
			t.Fatalf("part %s: %v", wantPart.typ, err)
		}
		if got := p.Header.Get("Content-Type"); got != wantPart.typ {
			t.Errorf("part Content-Type=%q, want %q", got, wantPart.typ)
		}
		body, err := io.ReadAll(p) // decodes quoted-printable
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.ReplaceAll(string(body), "\r\n", "\n"); got != wantPart.body {
			t.Errorf("%s part:\n%s\nwant:\n%s", wantPart.typ, got, wantPart.body)
		}
	}
	if _, err := r.NextPart(); err != io.EOF {
		t.Errorf("more than two parts: %v", err)
	}
}

func TestSMTPPlainWithoutAuth(t *testing.T) {
	srv := newTestSMTPServer(t, nil)
	c := newTestSMTP(t, SMTPOptions{URL: "smtp://" + srv.addr()})
	n := fixtureFiring()
	if retry, err := c.Notify(context.Background(), n); err != nil || retry {
		t.Fatalf("Notify=%v, %v; want false, nil", retry, err)
	}
	msgs := srv.messages()
	if len(msgs) != 1 || msgs[0].TLS || msgs[0].User != "" {
		t.Fatalf("messages=%+v, want one, without TLS or AUTH", msgs)
	}
	checkSMTPMessage(t, msgs[0].Data, n)
}

func TestSMTPImplicitTLS(t *testing.T) {
	serverTLS, roots := testCert(t)
	srv := newTestSMTPServer(t, func(s *testSMTPServer) {
		s.tlsConfig, s.implicitTLS, s.user, s.pass = serverTLS, true, "alerts", "pw-123"
	})
	c := newTestSMTP(t, SMTPOptions{URL: "smtps://alerts:pw-123@" + srv.addr(), TLSConfig: &tls.Config{RootCAs: roots}})
	if retry, err := c.Notify(context.Background(), fixtureFiring()); err != nil || retry {
		t.Fatalf("Notify=%v, %v; want false, nil", retry, err)
	}
	if msgs := srv.messages(); len(msgs) != 1 || !msgs[0].TLS {
		t.Fatalf("messages=%+v, want one over TLS", msgs)
	}
}

func TestSMTPNonASCIISubject(t *testing.T) {
	srv := newTestSMTPServer(t, nil)
	c := newTestSMTP(t, SMTPOptions{URL: "smtp://" + srv.addr()})
	n := fixtureFiring()
	n.Alerts[0].Summary = "R14 mémoire dépassée – “café” ✓ " + strings.Repeat("très long ", 20)
	if _, err := c.Notify(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	data := srv.messages()[0].Data
	head, _, _ := bytes.Cut(data, []byte("\n\n"))
	if !bytes.Contains(head, []byte("Subject: =?utf-8?q?")) {
		t.Errorf("subject not RFC 2047 encoded:\n%s", head)
	}
	for line := range strings.SplitSeq(string(head), "\n") {
		if len(line) > 200 || !isASCII(line) {
			t.Errorf("header line of %d bytes or not ASCII: %q", len(line), line)
		}
	}
	checkSMTPMessage(t, data, n)
}

func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func TestSMTPMessageFormat(t *testing.T) {
	c := newTestSMTP(t, SMTPOptions{URL: "smtp://mail.example.com"})
	n := fixtureFiring()
	n.Alerts[0].Evidence = []string{strings.Repeat("x", 3000)}
	e, err := RenderEmail(n)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := c.message(n, e)
	if err != nil {
		t.Fatal(err)
	}
	head, body, ok := strings.Cut(string(msg), "\r\n\r\n")
	if !ok {
		t.Fatalf("no blank line after the header:\n%s", msg)
	}
	for i, line := range strings.Split(head, "\r\n") {
		if strings.ContainsAny(line, "\r\n") || len(line) > 998 {
			t.Errorf("header line %d: %q", i, line)
		}
	}
	for i, line := range strings.Split(body, "\r\n") {
		if strings.ContainsAny(line, "\r\n") || len(line) > 78 {
			t.Errorf("body line %d, of %d bytes or with a bare CR or LF: %q", i, len(line), line)
		}
	}
	if got := messageID("not/safe id", "a@b.example"); !strings.HasPrefix(got, "<dynowatch.") || !strings.HasSuffix(got, "@b.example>") || strings.ContainsAny(got, "/ ") {
		t.Errorf("messageID=%q", got)
	}
}

func TestSMTPErrors(t *testing.T) {
	serverTLS, _ := testCert(t)
	refusedAddr := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln.Close()
		return ln.Addr().String()
	}
	for _, tc := range []struct {
		name      string
		server    func(*testSMTPServer) // nil: no server
		addr      string                // when there is no server
		userinfo  string
		timeout   time.Duration
		wantRetry bool
		wantErr   string
		wantSent  int
	}{
		{name: "auth failure", server: func(s *testSMTPServer) { s.user, s.pass = "alerts", "right" },
			userinfo: "alerts:wrong-pass@", wantErr: "AUTH: 535 5.7.8 Authentication credentials invalid"},
		{name: "auth required", server: func(s *testSMTPServer) { s.user, s.pass = "alerts", "right" },
			wantErr: "MAIL FROM: 530 5.7.0 Authentication required"},
		{name: "temporary failure", server: func(s *testSMTPServer) { s.reply = map[string]string{"MAIL": "451 4.3.0 Try again later"} },
			wantRetry: true, wantErr: "MAIL FROM: 451 4.3.0 Try again later"},
		{name: "permanent failure", server: func(s *testSMTPServer) { s.reply = map[string]string{"MAIL": "550 5.7.1 Sender rejected"} },
			wantErr: "MAIL FROM: 550 5.7.1 Sender rejected"},
		{name: "server busy at greeting", server: func(s *testSMTPServer) {
			s.reply = map[string]string{"EHLO": "421 4.3.2 Service not available", "HELO": "421 4.3.2 Service not available"}
		},
			wantRetry: true, wantErr: "EHLO: 421 4.3.2 Service not available"},
		{name: "data refused for now", server: func(s *testSMTPServer) { s.reply = map[string]string{"DATA": "452 4.3.1 Insufficient system storage"} },
			wantRetry: true, wantErr: "DATA: 452 4.3.1 Insufficient system storage"},
		{name: "every recipient refused", server: func(s *testSMTPServer) {
			s.rcptReply = map[string]string{"ops@example.com": "550 5.1.1 No such user", "jane@example.com": "550 5.1.1 No such user"}
		}, wantErr: "RCPT TO: every recipient refused: ops@example.com: 550 5.1.1 No such user; jane@example.com: 550 5.1.1 No such user"},
		{name: "every recipient refused for now", server: func(s *testSMTPServer) {
			s.rcptReply = map[string]string{"ops@example.com": "450 4.2.1 Try later", "jane@example.com": "451 4.3.0 Try later"}
		}, wantRetry: true, wantErr: "RCPT TO: every recipient refused"},
		{name: "one recipient refused", server: func(s *testSMTPServer) {
			s.rcptReply = map[string]string{"jane@example.com": "550 5.1.1 No such user"}
		}, wantErr: "sent, but recipients refused: jane@example.com: 550 5.1.1 No such user", wantSent: 1},
		{name: "untrusted certificate", server: func(s *testSMTPServer) { s.tlsConfig = serverTLS },
			wantErr: "STARTTLS: tls: failed to verify certificate"},
		{name: "connection refused", addr: refusedAddr(), wantRetry: true, wantErr: "connect: connection refused"},
		{name: "timeout", server: func(s *testSMTPServer) { s.reply = map[string]string{"EHLO": "250-slow"} },
			timeout: 200 * time.Millisecond, wantRetry: true, wantErr: "context deadline exceeded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := tc.addr
			var srv *testSMTPServer
			if tc.server != nil {
				srv = newTestSMTPServer(t, tc.server)
				addr = srv.addr()
			}
			c := newTestSMTP(t, SMTPOptions{URL: "smtp://" + tc.userinfo + addr, Timeout: tc.timeout})
			retry, err := c.Notify(context.Background(), fixtureFiring())
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err=%v, want it to contain %q", err, tc.wantErr)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "smtp smtp://"+addr+": ") && !strings.HasPrefix(err.Error(), "smtp smtp://"+addr+" ") {
				t.Errorf("err=%v, want it to say which server", err)
			}
			if retry != tc.wantRetry {
				t.Errorf("retry=%v, want %v", retry, tc.wantRetry)
			}
			if srv != nil {
				if got := len(srv.messages()); got != tc.wantSent {
					t.Errorf("%d messages sent, want %d", got, tc.wantSent)
				}
			}
		})
	}
}

func TestNewSMTPValidates(t *testing.T) {
	good := func() SMTPOptions {
		return SMTPOptions{URL: "smtp://u:p@mail.example.com:587", From: "a@example.com", To: []string{"b@example.com"}}
	}
	for _, tc := range []struct {
		name    string
		edit    func(*SMTPOptions)
		wantErr string
	}{
		{"no URL", func(o *SMTPOptions) { o.URL = "" }, "notify: SMTPOptions.URL is required"},
		{"bad URL", func(o *SMTPOptions) { o.URL = "smtp://u:p%zz@host" }, "notify: SMTPOptions.URL: not a URL; want smtp://user:pass@host:587"},
		{"bad scheme", func(o *SMTPOptions) { o.URL = "mail.example.com:587" }, "notify: SMTPOptions.URL: want a URL starting smtp:// or smtps://; want smtp://user:pass@host:587"},
		{"no host", func(o *SMTPOptions) { o.URL = "smtp://u:p@:587" }, "notify: SMTPOptions.URL: the URL has no host; want smtp://user:pass@host:587"},
		{"path", func(o *SMTPOptions) { o.URL = "smtp://u:p@host/x" }, "notify: SMTPOptions.URL: want no path or query; want smtp://user:pass@host:587"},
		{"no from", func(o *SMTPOptions) { o.From = "" }, "notify: SMTPOptions.From is required"},
		{"bad from", func(o *SMTPOptions) { o.From = "nobody" }, `notify: SMTPOptions.From "nobody": not an email address`},
		{"no to", func(o *SMTPOptions) { o.To = []string{} }, "notify: SMTPOptions.To is required"},
		{"bad to", func(o *SMTPOptions) { o.To = []string{"b@example.com", "x y"} }, `notify: SMTPOptions.To[1] "x y": not an email address`},
		{"negative timeout", func(o *SMTPOptions) { o.Timeout = -time.Second }, "notify: SMTPOptions.Timeout -1s: must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := good()
			tc.edit(&o)
			_, err := NewSMTP(o)
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("err=%v, want %q", err, tc.wantErr)
			}
		})
	}
	for url, want := range map[string]string{
		"smtp://u:p@mail.example.com":      "mail.example.com:587",
		"smtps://u:p@mail.example.com":     "mail.example.com:465",
		"smtp://mail.example.com:2525":     "mail.example.com:2525",
		"smtp://u:p@[2001:db8::1]:25":      "[2001:db8::1]:25",
		"smtps://mail.example.com:4650/":   "mail.example.com:4650",
		"smtp://user%40example.com:p@host": "host:587",
	} {
		o := good()
		o.URL = url
		s, err := NewSMTP(o)
		if err != nil {
			t.Errorf("%s: %v", url, err)
			continue
		}
		if s.addr != want {
			t.Errorf("%s: addr=%q, want %q", url, s.addr, want)
		}
	}
}
