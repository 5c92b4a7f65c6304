//go:build gousb

// Package umockdev is a narrow binding of libumockdev (Debian: umockdev, libumockdev-dev):
// a testbed, a fake /sys and /dev that libumockdev-preload.so shows to the processes it is
// preloaded into, with device nodes whose ioctls are answered by Go code. A process that uses
// libusb against it runs with LD_PRELOAD=libumockdev-preload.so.0 (Preload) and UMOCKDEV_DIR
// set to the testbed (Root); the testbed may live in that process or another.
//
// This file is the package's only cgo; it builds with the gousb tag (the lab build), like
// everything that needs libusb.
package umockdev

/*
#cgo pkg-config: umockdev-1.0
#include <stdlib.h>
#include <umockdev.h>

extern gboolean goHandleIoctl(UMockdevIoctlClient *client, guintptr h);
extern void goClientConnected(UMockdevIoctlClient *client, guintptr h);
extern void goClientClosed(UMockdevIoctlClient *client, guintptr h);

static gboolean on_ioctl(UMockdevIoctlBase *b, UMockdevIoctlClient *c, gpointer h) {
	return goHandleIoctl(c, (guintptr)h);
}

// umockdev (0.17) never says when a client goes: IoctlClient's "connected" follows its
// stream's "closed", which GLib does not notify. A watch on the worker's main context looks
// at the clients of a handler every watchInterval while there are any.
typedef struct {
	GSource *timer;
	GPtrArray *clients;
	guintptr h;
} watch;

#define WATCH_KEY "lrchip-watch"
#define WATCH_INTERVAL_MS 20

static void watch_free(gpointer p) {
	watch *w = p;
	for (guint i = 0; i < w->clients->len; i++) g_object_unref(g_ptr_array_index(w->clients, i));
	g_ptr_array_free(w->clients, TRUE);
	g_free(w);
}

static gboolean check_clients(gpointer b) {
	watch *w = g_object_get_data(G_OBJECT(b), WATCH_KEY);
	for (guint i = 0; i < w->clients->len;) {
		UMockdevIoctlClient *c = g_ptr_array_index(w->clients, i);
		if (umockdev_ioctl_client_get_connected(c)) {
			i++;
			continue;
		}
		g_ptr_array_remove_index_fast(w->clients, i);
		goClientClosed(c, w->h);
		g_object_unref(c);
	}
	if (w->clients->len == 0) {
		w->timer = NULL;
		return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;
}

static void on_connected(UMockdevIoctlBase *b, UMockdevIoctlClient *c, gpointer unused) {
	watch *w = g_object_get_data(G_OBJECT(b), WATCH_KEY);
	g_object_ref(c);
	g_ptr_array_add(w->clients, c);
	goClientConnected(c, w->h);
	if (w->timer == NULL) {
		// Runs on this thread's context: the testbed's worker, like every other callback.
		w->timer = g_timeout_source_new(WATCH_INTERVAL_MS);
		g_source_set_callback(w->timer, check_clients, g_object_ref(b), g_object_unref);
		g_source_attach(w->timer, g_main_context_get_thread_default());
		g_source_unref(w->timer);
	}
}

static UMockdevIoctlBase *new_handler(guintptr h) {
	UMockdevIoctlBase *b = umockdev_ioctl_base_new();
	watch *w = g_new0(watch, 1);
	w->clients = g_ptr_array_new();
	w->h = h;
	g_object_set_data_full(G_OBJECT(b), WATCH_KEY, w, watch_free);
	g_signal_connect(b, "handle-ioctl", G_CALLBACK(on_ioctl), (gpointer)h);
	g_signal_connect(b, "client-connected", G_CALLBACK(on_connected), NULL);
	return b;
}

static char *error_message(GError *e) {
	char *m = g_strdup(e ? e->message : "unknown error");
	if (e) g_error_free(e);
	return m;
}

static gboolean add_from_string(UMockdevTestbed *t, const char *s, char **msg) {
	GError *e = NULL;
	if (umockdev_testbed_add_from_string(t, s, &e)) return TRUE;
	*msg = error_message(e);
	return FALSE;
}

static gboolean attach_ioctl(UMockdevTestbed *t, const char *dev, UMockdevIoctlBase *h, char **msg) {
	GError *e = NULL;
	if (umockdev_testbed_attach_ioctl(t, dev, h, &e)) return TRUE;
	*msg = error_message(e);
	return FALSE;
}

static gboolean detach_ioctl(UMockdevTestbed *t, const char *dev) {
	return umockdev_testbed_detach_ioctl(t, dev, NULL);
}

// resolve follows a pointer; the child lives as long as its parent (the returned reference
// is dropped at once).
static UMockdevIoctlData *resolve(UMockdevIoctlData *d, gsize off, gsize n, char **msg) {
	GError *e = NULL;
	UMockdevIoctlData *c = umockdev_ioctl_data_resolve(d, off, n, &e);
	if (e) {
		*msg = error_message(e);
		return NULL;
	}
	if (c) g_object_unref(c);
	return c;
}

static void obj_ref(gpointer p) { g_object_ref(p); }
static void obj_unref(gpointer p) { g_object_unref(p); }
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"runtime/cgo"
	"sync"
	"syscall"
	"unsafe"
)

// Preload is the library a process that talks to testbed devices must preload.
const Preload = "libumockdev-preload.so.0"

// ErrTestbed is wrapped by the package's errors.
var ErrTestbed = errors.New("umockdev")

// Testbed is a umockdev testbed. One process has at most one at a time (umockdev keeps it in
// the environment). Close it.
type Testbed struct {
	tb   *C.UMockdevTestbed
	root string

	mu       sync.Mutex
	handlers map[string]*handler
}

// New makes a testbed in a new temporary directory and points this process at it
// (UMOCKDEV_DIR).
func New() (*Testbed, error) {
	tb := C.umockdev_testbed_new()
	if tb == nil {
		return nil, fmt.Errorf("umockdev: cannot make a testbed: %w", ErrTestbed)
	}
	r := C.umockdev_testbed_get_root_dir(tb)
	root := C.GoString(r)
	C.g_free(C.gpointer(r))
	// umockdev set it in the C environment; the Go one is separate.
	os.Setenv("UMOCKDEV_DIR", root)
	return &Testbed{tb: tb, root: root, handlers: map[string]*handler{}}, nil
}

// Root is the testbed's directory: what UMOCKDEV_DIR must say in a process that uses it.
func (t *Testbed) Root() string { return t.root }

// AddFromString adds devices described in umockdev's record format.
func (t *Testbed) AddFromString(desc string) error {
	cs := C.CString(desc)
	defer C.free(unsafe.Pointer(cs))
	var msg *C.char
	if C.add_from_string(t.tb, cs, &msg) == 0 {
		defer C.g_free(C.gpointer(msg))
		return fmt.Errorf("umockdev: adding devices: %s: %w", C.GoString(msg), ErrTestbed)
	}
	return nil
}

// RemoveDevice removes a device (its sysfs directory, as /sys/devices/... or /devices/...)
// and its node.
func (t *Testbed) RemoveDevice(syspath string) {
	if len(syspath) > 0 && syspath[0] == '/' && !hasPrefix(syspath, "/sys/") {
		syspath = "/sys" + syspath
	}
	cs := C.CString(syspath)
	defer C.free(unsafe.Pointer(cs))
	C.umockdev_testbed_remove_device(t.tb, cs)
}

// Uevent sends a uevent (add, remove, change) for a device to the processes listening. It
// needs this process in the mock environment (libumockdev-preload loaded): umockdev looks the
// device up through libudev. Elsewhere (a testbed served to other processes) it does nothing;
// clients learn of a removal from their device node and their requests.
func (t *Testbed) Uevent(syspath, action string) {
	if C.umockdev_in_mock_environment() == 0 {
		return
	}
	if !hasPrefix(syspath, "/sys/") {
		syspath = "/sys" + syspath
	}
	cp, ca := C.CString(syspath), C.CString(action)
	defer C.free(unsafe.Pointer(cp))
	defer C.free(unsafe.Pointer(ca))
	C.umockdev_testbed_uevent(t.tb, cp, ca)
}

func hasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }

// Close detaches every handler and removes the testbed.
func (t *Testbed) Close() error {
	t.mu.Lock()
	var devs []string
	for d := range t.handlers {
		devs = append(devs, d)
	}
	t.mu.Unlock()
	for _, d := range devs {
		t.DetachIoctl(d)
	}
	if t.tb != nil {
		C.obj_unref(C.gpointer(t.tb))
		t.tb = nil
	}
	os.Unsetenv("UMOCKDEV_DIR")
	return nil
}

// Handler answers the ioctls of the clients of one device node. Its methods run on the
// testbed's worker thread, one at a time; Ioctl must not block for long (Complete may come
// later, from any goroutine).
type Handler interface {
	Connected(c Client)
	Ioctl(c Client, io *Ioctl)
	Closed(c Client)
}

// Client identifies an open of the device node.
type Client uintptr

type handler struct {
	base *C.UMockdevIoctlBase
	h    cgo.Handle
	dev  string
}

// AttachIoctl answers the ioctls on device node dev (/dev/...) with h.
func (t *Testbed) AttachIoctl(dev string, h Handler) error {
	hd := &handler{h: cgo.NewHandle(h), dev: dev}
	hd.base = C.new_handler(C.guintptr(hd.h))
	cs := C.CString(dev)
	defer C.free(unsafe.Pointer(cs))
	var msg *C.char
	if C.attach_ioctl(t.tb, cs, hd.base, &msg) == 0 {
		defer C.g_free(C.gpointer(msg))
		C.obj_unref(C.gpointer(hd.base))
		hd.h.Delete()
		return fmt.Errorf("umockdev: attaching to %s: %s: %w", dev, C.GoString(msg), ErrTestbed)
	}
	t.mu.Lock()
	t.handlers[dev] = hd
	t.mu.Unlock()
	return nil
}

// DetachIoctl stops answering dev's ioctls.
func (t *Testbed) DetachIoctl(dev string) {
	t.mu.Lock()
	hd := t.handlers[dev]
	delete(t.handlers, dev)
	t.mu.Unlock()
	if hd == nil {
		return
	}
	cs := C.CString(dev)
	defer C.free(unsafe.Pointer(cs))
	C.detach_ioctl(t.tb, cs)
	C.obj_unref(C.gpointer(hd.base))
	// The handle stays valid: a callback already running may still use it.
}

//export goHandleIoctl
func goHandleIoctl(c *C.UMockdevIoctlClient, h C.guintptr) C.gboolean {
	io := &Ioctl{c: c, req: uint32(C.umockdev_ioctl_client_get_request(c)), arg: &Data{d: C.umockdev_ioctl_client_get_arg(c)}}
	cgo.Handle(h).Value().(Handler).Ioctl(Client(uintptr(unsafe.Pointer(c))), io)
	return 1
}

//export goClientConnected
func goClientConnected(c *C.UMockdevIoctlClient, h C.guintptr) {
	cgo.Handle(h).Value().(Handler).Connected(Client(uintptr(unsafe.Pointer(c))))
}

//export goClientClosed
func goClientClosed(c *C.UMockdevIoctlClient, h C.guintptr) {
	cgo.Handle(h).Value().(Handler).Closed(Client(uintptr(unsafe.Pointer(c))))
}

// Ioctl is one ioctl of a client being handled.
type Ioctl struct {
	c    *C.UMockdevIoctlClient
	req  uint32
	arg  *Data
	once sync.Once
}

// Request is the ioctl's request number.
func (io *Ioctl) Request() uint32 { return io.req }

// Arg is the argument, a pointer-sized value.
func (io *Ioctl) Arg() *Data { return io.arg }

// Complete returns ret and errno to the client, with the memory it resolved and changed.
// It may be called from any goroutine, once (later calls do nothing).
func (io *Ioctl) Complete(ret int, errno syscall.Errno) {
	io.once.Do(func() { C.umockdev_ioctl_client_complete(io.c, C.glong(ret), C.gint(errno)) })
}

// Data is client memory resolved into this process (UMockdevIoctlData): a local copy that
// goes back to the client, where it changed, when the ioctl that reached it completes.
type Data struct {
	d *C.UMockdevIoctlData
}

// Bytes is the local copy. It is valid while the Data lives.
func (m *Data) Bytes() []byte {
	if m.d.data_len == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(m.d.data)), int(m.d.data_len))
}

// Resolve follows the pointer at off to n bytes of client memory; nil for a null pointer or
// n == 0. The child lives as long as m (or while held).
func (m *Data) Resolve(off, n int) (*Data, error) {
	if off < 0 || n < 0 || off+8 > int(m.d.data_len) {
		return nil, fmt.Errorf("umockdev: no pointer at %d in %d bytes: %w", off, m.d.data_len, ErrTestbed)
	}
	var msg *C.char
	c := C.resolve(m.d, C.gsize(off), C.gsize(n), &msg)
	if msg != nil {
		defer C.g_free(C.gpointer(msg))
		return nil, fmt.Errorf("umockdev: reading client memory: %s: %w", C.GoString(msg), ErrTestbed)
	}
	if c == nil {
		return nil, nil
	}
	return &Data{d: c}, nil
}

// SetPtr points the pointer at off to child's memory.
func (m *Data) SetPtr(off int, child *Data) {
	C.umockdev_ioctl_data_set_ptr(m.d, C.gsize(off), child.d)
}

// Hold keeps m alive beyond its parent; Release lets it go.
func (m *Data) Hold()    { C.obj_ref(C.gpointer(m.d)) }
func (m *Data) Release() { C.obj_unref(C.gpointer(m.d)) }
