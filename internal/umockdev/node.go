//go:build gousb

package umockdev

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// Node is a testbed device node that poll(2) can wait on, as a client waits on a real
// device: umockdev makes plain files for USB nodes, which are always ready, so that libusb's
// event loop would never sleep. A Node is a pseudo-terminal instead, opened by the client
// through a symlink: the handler stops its output (the START/STOP flow control of the
// terminal, IXON) to clear POLLOUT and starts it to set POLLOUT, as usbfs does when URBs
// are ready to reap, and hangs it up (POLLERR|POLLHUP) when the device is gone.
type Node struct {
	path   string // in the testbed
	master *os.File

	mu      sync.Mutex
	ready   bool
	stopped bool
}

// Flow control characters (termios VSTART, VSTOP defaults).
const (
	ctrlQ = 0x11 // START: output flows, POLLOUT
	ctrlS = 0x13 // STOP: output stopped, no POLLOUT
)

// AddNode makes the device node dev (/dev/...) a pollable node, not ready.
func (t *Testbed) AddNode(dev string) (*Node, error) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, fmt.Errorf("umockdev: node %s: %w", dev, err)
	}
	fd := int(m.Fd())
	fail := func(err error) (*Node, error) {
		m.Close()
		return nil, fmt.Errorf("umockdev: node %s: %w", dev, err)
	}
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		return fail(err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		return fail(err)
	}
	// Raw, with flow control: the terminal settings of a pty master apply to its slave.
	tio, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return fail(err)
	}
	tio.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXANY | unix.IXOFF
	tio.Iflag |= unix.IXON
	tio.Oflag &^= unix.OPOST
	tio.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	tio.Cflag &^= unix.CSIZE | unix.PARENB
	tio.Cflag |= unix.CS8
	tio.Cc[unix.VSTART], tio.Cc[unix.VSTOP] = ctrlQ, ctrlS
	tio.Cc[unix.VMIN], tio.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, tio); err != nil {
		return fail(err)
	}
	path := filepath.Join(t.root, dev)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fail(err)
	}
	if err := os.Symlink("/dev/pts/"+strconv.Itoa(n), path); err != nil {
		return fail(err)
	}
	nd := &Node{path: path, master: m, ready: true}
	nd.SetReady(false)
	return nd, nil
}

// SetReady sets (POLLOUT) or clears the node's readiness.
func (n *Node) SetReady(ready bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.master == nil || ready == n.ready {
		return
	}
	n.ready = ready
	c := []byte{ctrlS}
	if ready {
		c[0] = ctrlQ
	}
	n.master.Write(c)
}

// Gone hangs the node up: clients see POLLERR|POLLHUP, as on a device that was unplugged.
func (n *Node) Gone() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.master != nil {
		n.master.Close()
		n.master = nil
	}
	os.Remove(n.path)
}

// Close removes the node.
func (n *Node) Close() error {
	n.Gone()
	return nil
}
