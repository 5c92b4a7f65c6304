package vfiouser

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Conn frames vfio-user messages on a connected Unix stream socket. Send may be called from
// several goroutines; Receive from one at a time.
type Conn struct {
	c        *net.UnixConn
	wmu      sync.Mutex
	oob      []byte
	deadline time.Time // zero plus the send timeout (zero: none)
}

// SetSendTimeout bounds each Send: a peer that does not take a message within d (its socket
// buffer full, the process stopped) fails it. 0: no bound.
func (c *Conn) SetSendTimeout(d time.Duration) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.deadline = time.Time{}.Add(d)
}

// NewConn wraps a connected Unix stream socket. The Conn does not close it.
func NewConn(c *net.UnixConn) *Conn {
	return &Conn{c: c, oob: make([]byte, unix.CmsgSpace(4*MaxFds))}
}

// UnixConn returns the socket.
func (c *Conn) UnixConn() *net.UnixConn { return c.c }

// Send writes one message: the header (its Size computed here), the payload and, with the
// first byte, the descriptors (which stay the caller's).
func (c *Conn) Send(h Header, payload []byte, fds []int) error {
	if HeaderSize+len(payload) > MaxMessage {
		return fmt.Errorf("vfio-user: %s: a %d-byte message is more than %d", h.Command, HeaderSize+len(payload), MaxMessage)
	}
	if len(fds) > MaxFds {
		return fmt.Errorf("vfio-user: %s: %d descriptors, more than %d", h.Command, len(fds), MaxFds)
	}
	h.Size = uint32(HeaderSize + len(payload))
	buf := make([]byte, 0, h.Size)
	buf = append(h.Append(buf), payload...)
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if !c.deadline.IsZero() {
		// A peer that stops reading (a stopped process) must not block a sender for ever.
		c.c.SetWriteDeadline(time.Now().Add(c.deadline.Sub(time.Time{})))
	}
	n, _, err := c.c.WriteMsgUnix(buf, oob, nil)
	for err == nil && n < len(buf) {
		// A stream socket may take part of it; the descriptors went with the first part.
		var m int
		m, err = c.c.Write(buf[n:])
		n += m
	}
	if err != nil {
		if n > 0 {
			// Part of the message went: the stream is torn, the connection unusable.
			c.c.Close()
			return fmt.Errorf("vfio-user: sending %s: %v after %d of %d bytes: %w", h.Command, err, n, len(buf), ErrTruncated)
		}
		return fmt.Errorf("vfio-user: sending %s: %w", h.Command, err)
	}
	return nil
}

// ErrTruncated is wrapped when the socket ended in the middle of a message.
var ErrTruncated = errors.New("vfio-user: connection ended inside a message")

// Receive reads one message. It returns io.EOF when the peer closed the connection between
// messages, an error wrapping ErrTruncated inside one, ErrMalformed for a header it cannot
// take (too big, unknown flags) or descriptors beyond MaxFds; the descriptors that came with
// a refused message are closed.
func (c *Conn) Receive() (m Message, err error) {
	defer func() {
		if err != nil {
			closeFds(m.Fds)
			m.Fds = nil
		}
	}()
	var hdr [HeaderSize]byte
	if err := c.readFull(hdr[:], &m, true); err != nil {
		return m, err
	}
	h, err := ParseHeader(hdr[:])
	if err != nil {
		return m, err
	}
	m.Header = h
	m.Payload = make([]byte, h.Size-HeaderSize)
	if err := c.readFull(m.Payload, &m, false); err != nil {
		return m, err
	}
	return m, nil
}

// readFull reads len(b) bytes, collecting descriptors into m.
func (c *Conn) readFull(b []byte, m *Message, first bool) error {
	got := 0
	for got < len(b) {
		n, oobn, flags, _, err := c.c.ReadMsgUnix(b[got:], c.oob)
		if oobn > 0 {
			fds, perr := parseRights(c.oob[:oobn])
			m.Fds = append(m.Fds, fds...)
			if perr != nil {
				return perr
			}
		}
		if flags&unix.MSG_CTRUNC != 0 {
			return malformed("message", "more than %d descriptors", MaxFds)
		}
		if len(m.Fds) > MaxFds {
			return malformed("message", "%d descriptors, more than %d", len(m.Fds), MaxFds)
		}
		got += n
		if err != nil {
			if errors.Is(err, io.EOF) {
				if first && got == 0 {
					return io.EOF
				}
				return fmt.Errorf("%w (%d of %d bytes)", ErrTruncated, got, len(b))
			}
			return fmt.Errorf("vfio-user: receiving: %w", err)
		}
		if n == 0 {
			if first && got == 0 {
				return io.EOF
			}
			return fmt.Errorf("%w (%d of %d bytes)", ErrTruncated, got, len(b))
		}
	}
	return nil
}

func parseRights(oob []byte) ([]int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, malformed("message", "control data: %v", err)
	}
	var fds []int
	for i := range msgs {
		r, err := unix.ParseUnixRights(&msgs[i])
		if err != nil {
			continue // not SCM_RIGHTS (credentials, say): nothing to keep
		}
		fds = append(fds, r...)
	}
	return fds, nil
}

func closeFds(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// CloseFds closes descriptors a Message brought that nobody took.
func CloseFds(fds []int) { closeFds(fds) }

// Reply sends the reply to the command h with a payload.
func (c *Conn) Reply(h Header, payload []byte, fds []int) error {
	return c.Send(Header{ID: h.ID, Command: h.Command, Flags: TypeReply}, payload, fds)
}

// ReplyError sends an error reply (header only) with an errno.
func (c *Conn) ReplyError(h Header, errno unix.Errno) error {
	return c.Send(Header{ID: h.ID, Command: h.Command, Flags: TypeReply | FlagError, Error: uint32(errno)}, nil, nil)
}
