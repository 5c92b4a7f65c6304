package usbdev

import (
	"encoding/binary"
	"syscall"
)

// The Linux usbdevfs interface (linux/usbdevice_fs.h) on 64-bit machines: what libusb asks
// of a device node, and what usbfs (usbfs.go) answers in the kernel's stead.
const (
	ioctlSetInterface    = 0x80085504
	ioctlSetConfig       = 0x80045505
	ioctlGetDriver       = 0x41045508
	ioctlSubmitURB       = 0x8038550a
	ioctlDiscardURB      = 0x0000550b
	ioctlReapURB         = 0x4008550c
	ioctlReapURBNDelay   = 0x4008550d
	ioctlClaimInterface  = 0x8004550f
	ioctlReleaseIntf     = 0x80045510
	ioctlClearHalt       = 0x80045515
	ioctlGetCapabilities = 0x8004551a
	ioctlIoctl           = 0xc0105512 // struct usbdevfs_ioctl
	ioctlDisconnectClaim = 0x8108551b // struct usbdevfs_disconnect_claim

	// Inside USBDEVFS_IOCTL: detach the kernel driver from an interface, bind it again.
	subDisconnect = 0x5516
	subConnect    = 0x5517

	// USBDEVFS_DISCONNECT_CLAIM's flags: claim only if the driver is the one named, or
	// unless it is.
	claimIfDriver     = 0x01
	claimExceptDriver = 0x02

	// The arguments' sizes.
	getDriverSize       = 4 + 256 // struct usbdevfs_getdriver
	disconnectClaimSize = 8 + 256 // struct usbdevfs_disconnect_claim
	usbfsIoctlSize      = 16      // struct usbdevfs_ioctl

	// struct usbdevfs_urb
	urbSize         = 56
	urbOffType      = 0
	urbOffEndpoint  = 1
	urbOffStatus    = 4
	urbOffFlags     = 8
	urbOffBuffer    = 16
	urbOffBufLen    = 24
	urbOffActual    = 28
	urbOffNPackets  = 36
	urbOffErrCount  = 40
	urbTypeISO      = 0
	urbTypeIntr     = 1
	urbTypeControl  = 2
	urbTypeBulk     = 3
	urbShortNotOK   = 0x01
	setupPacketSize = 8

	// What the function says it can do (USBDEVFS_CAP_*): zero-length packets, continuation,
	// no size limit and scatter-gather (so that libusb submits a transfer as one URB), and
	// reaping after a disconnect (so that it sees its URBs fail with ESHUTDOWN).
	capabilities = 0x01 | 0x02 | 0x04 | 0x08 | 0x10

	// maxURB bounds one URB's buffer, and maxURBMemory the buffers of all URBs in flight (the
	// kernel's usbfs_memory_mb): more is refused with ENOMEM, as the kernel does.
	maxURB       = 16 << 20
	maxURBMemory = 64 << 20
)

var le = binary.LittleEndian

// Mem is client memory as the transport presents it: a local copy of a client's bytes that
// goes back to the client, where it changed, when the ioctl that reached it completes. This
// is umockdev's UMockdevIoctlData.
type Mem interface {
	// Bytes is the local copy.
	Bytes() []byte
	// Resolve follows the pointer at off in Bytes to n bytes of client memory (nil, nil for
	// a null pointer or n == 0). The child goes back with its parent.
	Resolve(off, n int) (Mem, error)
	// SetPtr points the pointer at off in Bytes to child, which came from an earlier ioctl
	// (reaping an URB hands the client back its own URB).
	SetPtr(off int, child Mem)
	// Hold keeps the memory beyond the ioctl it came from; Release lets it go.
	Hold()
	Release()
}

// Ioctl is one ioctl of a client, as the transport presents it (umockdev's
// UMockdevIoctlClient while it handles a request). Complete may be called from any
// goroutine, once, and may come later than the call that passed the Ioctl.
type Ioctl interface {
	Request() uint32
	// Arg is the argument: a pointer-sized Mem whose Bytes hold the pointer (or integer).
	Arg() Mem
	Complete(ret int, errno syscall.Errno)
}

// ClientID identifies a client (one open of the device node) to the Function.
type ClientID uintptr

// Ready is told whether any client has URBs to reap (a transport makes the device node
// pollable for POLLOUT then, as usbfs does), and when the device is gone (POLLERR).
type Ready interface {
	SetReady(ready bool)
	Gone()
}

func errnoOf(err error) syscall.Errno {
	if e, ok := err.(syscall.Errno); ok {
		return e
	}
	return syscall.EIO
}
