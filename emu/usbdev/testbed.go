//go:build gousb

package usbdev

import (
	"fmt"
	"sync"
	"syscall"

	"github.com/lrchip/lrchip/internal/umockdev"
)

// Testbed puts emulated USB devices (a board's Function, its FTDI) where libusb finds them:
// a umockdev testbed, whose /sys and /dev a process sees when it runs with Env
// (libumockdev-preload.so.0 preloaded), in this process or another. Each plugged device gets
// its sysfs entries (Sysfs), a pollable device node and the ioctl handler that hands the
// node's usbdevfs ioctls to it.
type Testbed struct {
	tb *umockdev.Testbed

	mu      sync.Mutex
	plugged map[USBDevice]*umockdev.Node
	pulled  map[USBDevice]bool // unplugged, not yet removed
}

// NewTestbed makes a testbed (one per process) and points this process at it.
func NewTestbed() (*Testbed, error) {
	tb, err := umockdev.New()
	if err != nil {
		return nil, err
	}
	return &Testbed{tb: tb, plugged: map[USBDevice]*umockdev.Node{}, pulled: map[USBDevice]bool{}}, nil
}

// Root is the testbed's directory (UMOCKDEV_DIR).
func (t *Testbed) Root() string { return t.tb.Root() }

// Env is what a process needs in its environment to see the testbed's devices: the testbed
// and the preloaded library (appended to preload, the LD_PRELOAD it has, if any).
func (t *Testbed) Env(preload string) []string {
	p := umockdev.Preload
	if preload != "" {
		p = preload + ":" + p
	}
	return []string{"UMOCKDEV_DIR=" + t.tb.Root(), "LD_PRELOAD=" + p}
}

// Plug adds the device to the testbed, as plugging it in.
func (t *Testbed) Plug(f USBDevice) error {
	if err := t.tb.AddFromString(f.Sysfs()); err != nil {
		return err
	}
	node, err := t.tb.AddNode(f.DevNode())
	if err != nil {
		t.tb.RemoveDevice(f.RootPath())
		return err
	}
	f.setReady(node)
	if err := t.tb.AttachIoctl(f.DevNode(), handler{f}); err != nil {
		node.Close()
		t.tb.RemoveDevice(f.RootPath())
		return err
	}
	t.mu.Lock()
	t.plugged[f] = node
	t.mu.Unlock()
	return nil
}

// Unplug removes the device as pulling its cable does: transfers in flight
// fail, the node hangs up, the sysfs entries go and a remove uevent goes out. Clients that
// still hold the node get ENODEV until they close it.
func (t *Testbed) Unplug(f USBDevice) {
	t.mu.Lock()
	_, ok := t.plugged[f]
	if ok && t.pulled[f] {
		ok = false
	}
	t.pulled[f] = true
	t.mu.Unlock()
	if !ok {
		return
	}
	f.Unplug()
	t.tb.Uevent(f.SysPath(), "remove")
	t.tb.RemoveDevice(f.SysPath())
}

// Remove unplugs the device and takes its handler and bus off the testbed.
func (t *Testbed) Remove(f USBDevice) {
	t.Unplug(f)
	t.mu.Lock()
	node, ok := t.plugged[f]
	delete(t.plugged, f)
	delete(t.pulled, f)
	t.mu.Unlock()
	if !ok {
		return
	}
	t.tb.DetachIoctl(f.DevNode())
	node.Close()
	t.tb.RemoveDevice(f.RootPath())
}

// Close removes every function and the testbed.
func (t *Testbed) Close() error {
	t.mu.Lock()
	var fs []USBDevice
	for f := range t.plugged {
		fs = append(fs, f)
	}
	t.mu.Unlock()
	for _, f := range fs {
		t.Remove(f)
	}
	return t.tb.Close()
}

// String names the testbed.
func (t *Testbed) String() string { return fmt.Sprintf("umockdev testbed %s", t.tb.Root()) }

// handler hands a node's ioctls to the device.
type handler struct{ f USBDevice }

func (h handler) Connected(c umockdev.Client) { h.f.Connect(ClientID(c)) }
func (h handler) Closed(c umockdev.Client)    { h.f.Disconnect(ClientID(c)) }
func (h handler) Ioctl(c umockdev.Client, io *umockdev.Ioctl) {
	h.f.Ioctl(ClientID(c), ioctlOf{io})
}

type ioctlOf struct{ io *umockdev.Ioctl }

func (x ioctlOf) Request() uint32                       { return x.io.Request() }
func (x ioctlOf) Arg() Mem                              { return memOf{x.io.Arg()} }
func (x ioctlOf) Complete(ret int, errno syscall.Errno) { x.io.Complete(ret, errno) }

type memOf struct{ d *umockdev.Data }

func (m memOf) Bytes() []byte { return m.d.Bytes() }
func (m memOf) Resolve(off, n int) (Mem, error) {
	c, err := m.d.Resolve(off, n)
	if err != nil || c == nil {
		return nil, err
	}
	return memOf{c}, nil
}
func (m memOf) SetPtr(off int, child Mem) { m.d.SetPtr(off, child.(memOf).d) }
func (m memOf) Hold()                     { m.d.Hold() }
func (m memOf) Release()                  { m.d.Release() }
