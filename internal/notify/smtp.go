package notify

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/endpoint"
	"github.com/dynowatch/dynowatch/internal/redact"
)

// SMTPOptions configure email through an SMTP server.
type SMTPOptions struct {
	// URL is SMTP_URL: smtp://user:pass@host:587 submits on port 587
	// (the default) and upgrades with STARTTLS when the server offers it;
	// smtps://user:pass@host:465 speaks TLS from the start. The password
	// is only ever sent over TLS, or to localhost.
	URL     string
	From    string   // ALERT_EMAIL_FROM: "alerts@example.com" or "dynowatch <alerts@example.com>"
	To      []string // ALERT_EMAIL_TO
	Timeout time.Duration
	// TLSConfig is optional, for a server whose certificate a private CA
	// signed. ServerName defaults to the URL's host.
	TLSConfig *tls.Config
}

// SMTP sends notifications as email through an SMTP server.
type SMTP struct {
	addr        string // host:port
	host        string
	implicitTLS bool
	user, pass  string
	from        *mail.Address
	to          []*mail.Address
	timeout     time.Duration
	tlsConfig   *tls.Config
	where       string // the URL without credentials, for errors
	redact      redact.Scrubber
}

// NewSMTP checks o and returns an SMTP channel.
func NewSMTP(o SMTPOptions) (*SMTP, error) {
	s, err := parseSMTPURL(o.URL)
	if err != nil {
		return nil, err
	}
	if s.from, s.to, err = parseEmailAddresses("SMTPOptions", o.From, o.To); err != nil {
		return nil, err
	}
	if s.timeout, err = sendTimeout("SMTPOptions.Timeout", o.Timeout); err != nil {
		return nil, err
	}
	s.tlsConfig = &tls.Config{ServerName: s.host, MinVersion: tls.VersionTLS12}
	if o.TLSConfig != nil {
		s.tlsConfig = o.TLSConfig.Clone()
		if s.tlsConfig.ServerName == "" {
			s.tlsConfig.ServerName = s.host
		}
	}
	return s, nil
}

// parseSMTPURL reads where SMTPOptions.URL points and its credentials.
// Its errors never quote the URL, which holds the password.
func parseSMTPURL(raw string) (*SMTP, error) {
	const want = "want smtp://user:pass@host:587"
	if raw == "" {
		return nil, fmt.Errorf("notify: SMTPOptions.URL is required")
	}
	u, err := endpoint.Parse(raw, "smtp", "smtps")
	if err != nil {
		return nil, fmt.Errorf("notify: SMTPOptions.URL: %w; %s", err, want)
	}
	s := &SMTP{host: u.Hostname()}
	port := cmp.Or(u.Port(), "587")
	if u.Scheme == "smtps" {
		port, s.implicitTLS = cmp.Or(u.Port(), "465"), true
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return nil, fmt.Errorf("notify: SMTPOptions.URL: want no path or query; %s", want)
	}
	s.addr = net.JoinHostPort(s.host, port)
	s.where = u.Scheme + "://" + s.addr
	if u.User != nil {
		s.user = u.User.Username()
		s.pass, _ = u.User.Password()
	}
	// The password, as the URL spells it, and as AUTH PLAIN and AUTH
	// LOGIN send it.
	s.redact = redact.NewScrubber(s.pass, u.User.String(),
		base64.StdEncoding.EncodeToString([]byte("\x00"+s.user+"\x00"+s.pass)),
		base64.StdEncoding.EncodeToString([]byte(s.pass)))
	return s, nil
}

// Name returns "email:smtp".
func (s *SMTP) Name() string { return "email:smtp" }

// Notify sends n as one multipart/alternative message (text and HTML) to
// every address. A 4xx reply and network errors are worth a retry; a 5xx
// reply, such as 535 for a bad password, is not. When the server takes the
// message for some recipients and refuses others, the message stays sent
// and the error names the refused ones, without a retry that would send it
// twice to the rest.
func (s *SMTP) Notify(ctx context.Context, n *alert.Notification) (retry bool, err error) {
	e, err := RenderEmail(n)
	if err != nil {
		return false, err
	}
	msg, err := s.message(n, e)
	if err != nil {
		return false, fmt.Errorf("notify: smtp: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	refused, err := s.send(ctx, msg)
	if err != nil {
		// When ctx ends, the connection's deadline passes or it is closed
		// under the client: say so rather than only "i/o timeout".
		if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
			err = fmt.Errorf("%w: %w", ctxErr, err)
		} else if errors.Is(err, os.ErrDeadlineExceeded) {
			err = fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
		}
		return smtpRetry(err), s.redact.Wrap("smtp "+s.where, err, s.where)
	}
	if len(refused) > 0 {
		return false, s.redact.Errorf("smtp %s: sent, but recipients refused: %s", s.where, strings.Join(refused, "; "))
	}
	return false, nil
}

// send runs one SMTP session. It returns the recipients the server refused
// when it took the message for others.
func (s *SMTP) send(ctx context.Context, msg []byte) (refused []string, err error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	// net/smtp knows no context: the deadline bounds every read and write,
	// and cancelling ctx closes the connection.
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if s.implicitTLS {
		tc := tls.Client(conn, s.tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, smtpStepError("TLS", err)
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		return nil, smtpStepError("greeting", err)
	}
	defer c.Close()
	if err := s.hello(c); err != nil {
		return nil, err
	}
	if refused, err = s.envelope(c); err != nil {
		return nil, err
	}
	w, err := c.Data()
	if err != nil {
		return nil, smtpStepError("DATA", err)
	}
	if _, err := w.Write(msg); err != nil {
		return nil, smtpStepError("DATA", err)
	}
	if err := w.Close(); err != nil {
		return nil, smtpStepError("DATA", err)
	}
	// The server has the message now; a failed QUIT changes nothing.
	_ = c.Quit()
	return refused, nil
}

// hello greets the server, upgrades to TLS when it offers STARTTLS, and
// logs in when the URL has a user.
func (s *SMTP) hello(c *smtp.Client) error {
	if err := c.Hello("localhost"); err != nil {
		return smtpStepError("EHLO", err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok && !s.implicitTLS {
		if err := c.StartTLS(s.tlsConfig); err != nil {
			return smtpStepError("STARTTLS", err)
		}
	}
	if s.user != "" {
		if err := c.Auth(s.auth(c)); err != nil {
			return smtpStepError("AUTH", err)
		}
	}
	return nil
}

// auth picks how to log in: PLAIN when the server offers it (or offers
// nothing it names), LOGIN when it offers LOGIN and not PLAIN, as Office
// 365 does. Both refuse to send the password in the clear to any host but
// localhost.
func (s *SMTP) auth(c *smtp.Client) smtp.Auth {
	_, offered := c.Extension("AUTH")
	mechs := strings.Fields(strings.ToUpper(offered))
	if slices.Contains(mechs, "LOGIN") && !slices.Contains(mechs, "PLAIN") {
		return &loginAuth{user: s.user, pass: s.pass, host: s.host}
	}
	return smtp.PlainAuth("", s.user, s.pass, s.host)
}

// loginAuth is AUTH LOGIN, which net/smtp lacks: the server prompts for
// the user name, then the password, each sent base64-encoded on a line of
// its own (draft-murchison-sasl-login).
type loginAuth struct {
	user, pass, host string
	step             int
}

// Start refuses, as smtp.PlainAuth does, to go on without TLS unless the
// server is this machine.
func (a *loginAuth) Start(server *smtp.ServerInfo) (string, []byte, error) {
	if !server.TLS && !isLocalhost(server.Name) {
		return "", nil, errors.New("unencrypted connection")
	}
	if server.Name != a.host {
		return "", nil, errors.New("wrong host name")
	}
	a.step = 0
	return "LOGIN", nil, nil
}

// Next answers the prompts. They are "Username:" and "Password:" in
// practice, but the mechanism defines them by order, so the order decides.
func (a *loginAuth) Next(fromServer []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	a.step++
	switch a.step {
	case 1:
		return []byte(a.user), nil
	case 2:
		return []byte(a.pass), nil
	}
	return nil, fmt.Errorf("unexpected server challenge %q", oneLine(string(fromServer)))
}

func isLocalhost(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// envelope names the sender and the recipients. It fails when the server
// refuses every recipient, and returns those refused when it takes others.
func (s *SMTP) envelope(c *smtp.Client) (refused []string, err error) {
	if err := c.Mail(s.from.Address); err != nil {
		return nil, smtpStepError("MAIL FROM", err)
	}
	var rcptErrs []error
	for _, a := range s.to {
		if err := c.Rcpt(a.Address); err != nil {
			var te *textproto.Error
			if !errors.As(err, &te) {
				return nil, smtpStepError("RCPT TO", err)
			}
			refused = append(refused, a.Address+": "+smtpReplyText(err))
			rcptErrs = append(rcptErrs, err)
		}
	}
	if len(refused) == len(s.to) {
		return nil, &smtpRefusedError{refused: refused, errs: rcptErrs}
	}
	return refused, nil
}

// smtpStepError says which step of the session failed.
func smtpStepError(step string, err error) error { return &smtpStep{step, err} }

type smtpStep struct {
	step string
	err  error
}

// Error shows a server reply as sent, on one line, where textproto.Error
// would quote it.
func (e *smtpStep) Error() string { return e.step + ": " + smtpReplyText(e.err) }
func (e *smtpStep) Unwrap() error { return e.err }

// smtpReplyText is a server reply as "535 5.7.8 Authentication failed", or
// the error's own text.
func smtpReplyText(err error) string {
	var te *textproto.Error
	if errors.As(err, &te) {
		return fmt.Sprintf("%03d %s", te.Code, oneLine(te.Msg))
	}
	return err.Error()
}

// smtpRefusedError is every recipient refused.
type smtpRefusedError struct {
	refused []string
	errs    []error
}

func (e *smtpRefusedError) Error() string {
	return "RCPT TO: every recipient refused: " + strings.Join(e.refused, "; ")
}

// Unwrap gives the replies, so smtpRetry sees their codes.
func (e *smtpRefusedError) Unwrap() []error { return e.errs }

// smtpRetry says whether an SMTP failure is worth a retry: a 4xx reply, a
// network error or a timeout is; a 5xx reply (535 bad credentials, 550 no
// such user), a bad certificate or a refusal to authenticate without TLS
// is not.
func smtpRetry(err error) bool {
	var refused *smtpRefusedError
	if errors.As(err, &refused) {
		for _, e := range refused.errs {
			if !smtpRetry(e) {
				return false
			}
		}
		return true
	}
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code >= 400 && te.Code < 500
	}
	var cve *tls.CertificateVerificationError
	if errors.As(err, &cve) {
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// message is the RFC 5322 message: headers, then text and HTML as
// multipart/alternative, both quoted-printable so that no line is too long.
func (s *SMTP) message(n *alert.Notification, e Email) ([]byte, error) {
	var parts bytes.Buffer
	mw := multipart.NewWriter(&parts)
	for _, p := range []struct{ typ, body string }{
		{"text/plain; charset=utf-8", e.Text},
		{"text/html; charset=utf-8", e.HTML},
	} {
		pw, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {p.typ},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, err
		}
		qp := quotedprintable.NewWriter(pw)
		if _, err := io.WriteString(qp, p.body); err != nil {
			return nil, err
		}
		if err := qp.Close(); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}

	date := n.CreatedAt
	if date.IsZero() {
		date = time.Now()
	}
	to := make([]string, len(s.to))
	for i, a := range s.to {
		to[i] = a.String()
	}
	var b bytes.Buffer
	header := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	header("Date", date.UTC().Format(time.RFC1123Z))
	header("From", s.from.String())
	header("To", strings.Join(to, ", "))
	header("Subject", encodeHeader(e.Subject))
	header("Message-ID", messageID(n.ID, s.from.Address))
	if id := oneLine(n.ID); id != "" {
		header("X-Dynowatch-Delivery", encodeHeader(id))
	}
	header("Auto-Submitted", "auto-generated") // RFC 3834: no auto-replies
	header("MIME-Version", "1.0")
	header("Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": mw.Boundary()}))
	b.WriteString("\r\n")
	b.Write(parts.Bytes())
	return b.Bytes(), nil
}

// encodeHeader writes a one-line header value in RFC 2047 encoded words when
// it is not plain ASCII, folded between words to keep lines short.
func encodeHeader(v string) string {
	v = oneLine(v)
	enc := mime.QEncoding.Encode("utf-8", v)
	return strings.ReplaceAll(enc, "?= =?", "?=\r\n =?")
}

var messageIDSafe = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// messageID derives the Message-ID from the delivery id, so a resent copy
// keeps it and mail clients can drop it as a duplicate.
func messageID(id, from string) string {
	domain := "dynowatch.invalid"
	if i := strings.LastIndexByte(from, '@'); i >= 0 && messageIDSafe.MatchString(from[i+1:]) {
		domain = from[i+1:]
	}
	local := id
	switch {
	case id == "":
		var r [16]byte
		rand.Read(r[:])
		local = hex.EncodeToString(r[:])
	case len(id) > 64 || !messageIDSafe.MatchString(id):
		h := sha256.Sum256([]byte(id))
		local = hex.EncodeToString(h[:16])
	}
	return "<dynowatch." + local + "@" + domain + ">"
}
