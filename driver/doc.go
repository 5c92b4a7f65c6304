// Package driver is the userspace driver for lrchip boards: it finds devices, opens them
// through a transport and speaks the board protocol of firmware/regmap to them.
//
// A device is named by a URI, the same in lrctl, hostlib and tests:
//
//	emu:                  the emulator in this process (emu/board)
//	emu:unix:PATH         an emulator serving on a Unix socket (lrctl emu serve)
//	usb:VID:PID[:SERIAL]  a USB board (found by List; its transport is not implemented yet)
//	pcie:DDDD:BB:DD.F     a PCIe board, through VFIO (vfio.go)
//	vfio-user:PATH        a board's PCIe function served over vfio-user (lrctl emu serve --vfio-user)
//
// Open attaches, negotiates the protocol and capability versions (a mismatch is ErrVersion,
// naming both), and returns a Device. A Device is safe for concurrent use; every call that
// can block takes a context and honours it; errors are wrapped sentinels (ErrGone, ErrTimeout,
// ErrProtocol, ErrBusy, ErrVersion, ErrClosed, ErrDevice, ErrSetup) to test with errors.Is.
//
// # Transport
//
// Both emulator transports are the same shared-memory transport: the board hands the driver
// its register file and four rings (runtime/ring, in memfds) and two eventfds (doorbell and
// interrupt) over a Unix socket with SCM_RIGHTS, as vfio-user does. From then on the driver
// talks through the rings and registers only; the socket tells it when the board's process
// dies (EOF/HUP), which fails every call with ErrGone within milliseconds. For emu: the board
// runs in a goroutine at the other end of a socketpair.
//
// The VFIO transports (vfio.go) are one link over two layers (driver/internal/vfiodev): the
// kernel's VFIO ioctls for a board bound to vfio-pci, or vfio-user messages for the emulated
// board's PCIe function. The host allocates the rings and the bulk window in a sealed memory
// file, maps them for the board's DMA, writes their bus addresses to the ring registers and
// sets CONTROL.ATTACH; registers are BAR 0, interrupts MSI-X vectors routed to eventfds, and
// a function-level reset starts and ends every session (docs/regmap.md §10). Discovery says
// what stops a PCIe board from being opened and what to run (ErrSetup).
//
// One goroutine per device (the reader) drains the completion and output rings: it polls
// while commands are outstanding or for Opts.Spin after the last record, then arms the
// interrupt and sleeps on the interrupt eventfd and the socket. Every number the board
// writes is validated: a ring position, a record length or a count out of range is
// ErrProtocol and ends the device, never a crash or an out-of-bounds read.
package driver
