package otlp

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

var errTooDeep = fmt.Errorf("messages nested over %d deep", maxDepth)

// countMessages adds to *n the messages that b, an encoding of md, holds in
// its message fields, walking the wire without decoding: what the body
// would take decoded is known before it is. It stops once *n is past
// MaxObjects.
func countMessages(b []byte, md protoreflect.MessageDescriptor, depth int, n *int) error {
	if depth > maxDepth {
		return errTooDeep
	}
	fields := md.Fields()
	for len(b) > 0 && *n <= MaxObjects {
		num, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return protowire.ParseError(l)
		}
		b = b[l:]
		if typ != protowire.BytesType {
			if l = protowire.ConsumeFieldValue(num, typ, b); l < 0 {
				return protowire.ParseError(l)
			}
			b = b[l:]
			continue
		}
		v, l := protowire.ConsumeBytes(b)
		if l < 0 {
			return protowire.ParseError(l)
		}
		b = b[l:]
		if fd := fields.ByNumber(num); fd != nil && fd.Kind() == protoreflect.MessageKind {
			*n++
			if err := countMessages(v, fd.Message(), depth+1, n); err != nil {
				return err
			}
		}
	}
	return nil
}
