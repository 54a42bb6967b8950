package notify

// ackHearer is a Notifier told that an alert it paged was acknowledged
// (alert.Acknowledged). The others, email and SMS, are not: a new message
// saying someone is on it is noise there, and an SMS costs money.
type ackHearer interface{ hearsAcks() }

// The chat channels edit the alert's message (or follow it up) to say who
// is on it.
func (s *Slack) hearsAcks()    {}
func (d *Discord) hearsAcks()  {}
func (t *Telegram) hearsAcks() {}
func (t *Teams) hearsAcks()    {}

// ntfy replaces the phone's notification (same sequence id), quietly.
func (c *Ntfy) hearsAcks() {}

// Pushover cancels the repeats of an emergency.
func (p *Pushover) hearsAcks() {}

// PagerDuty acknowledges its incident: its own escalation stops.
func (p *PagerDuty) hearsAcks() {}

// The webhook passes everything on: the receiver decides.
func (w *Webhook) hearsAcks() {}
