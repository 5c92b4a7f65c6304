// Package vfiodev is the layer under the driver's VFIO link that differs between a PCIe board
// driven through the kernel's VFIO (ioctls on a device descriptor: the group/container API or
// the 6.2+ device cdev with iommufd) and a PCI function served over vfio-user (messages on a
// Unix socket, descriptors passed with SCM_RIGHTS). Both are a Device: describe the device
// and its regions, map or read and write a region, give the device DMA windows, route its
// interrupts to eventfds, reset it, say when it is gone. Everything above — the board's
// registers, rings, doorbell, interrupts — is the same code (driver's vfio link).
//
// Errors wrap the package's sentinels (ErrGone, ErrTimeout, ErrProtocol, ErrBusy, ErrSetup,
// ErrNotFound); the driver maps them onto its own.
package vfiodev

import (
	"errors"
	"fmt"

	"github.com/lrchip/lrchip/internal/vfio"
)

// Sentinel errors.
var (
	// ErrGone: the device went away (the server's process died, the board was removed).
	ErrGone = errors.New("device gone")
	// ErrTimeout: the device did not answer a request in time.
	ErrTimeout = errors.New("timed out")
	// ErrProtocol: the other side broke the protocol (a malformed or unexpected message, a
	// descriptor that is not what it should be, an access outside the DMA windows).
	ErrProtocol = errors.New("protocol violation")
	// ErrBusy: another process has the device.
	ErrBusy = errors.New("device busy")
	// ErrSetup: the machine is not set up for VFIO (driver binding, IOMMU, permissions); the
	// message says what to do.
	ErrSetup = errors.New("not set up for VFIO")
	// ErrNotFound: no such device.
	ErrNotFound = errors.New("no such device")
)

// Device is one VFIO device. Its methods may be called from several goroutines.
type Device interface {
	// String names the device ("vfio-user:PATH", "pcie:DDDD:BB:DD.F").
	String() string
	// Info is what VFIO_DEVICE_GET_INFO said at open.
	Info() vfio.DeviceInfo
	// Region describes a region.
	Region(index uint32) (RegionInfo, error)
	// MapRegion maps the whole of a region whose info says it can be mapped. writable
	// reports whether a write through the mapping reaches the device as a write with its
	// side effects (MMIO through the kernel); where it does not (vfio-user, whose mappings
	// are the server's memory) the mapping is read-only and writes go through WriteRegion.
	MapRegion(r RegionInfo) (mem []byte, writable bool, err error)
	// ReadRegion and WriteRegion access a region without a mapping (pread/pwrite on the
	// device, REGION_READ/REGION_WRITE messages). A posted write does not wait for the
	// device to take it (as a PCIe MMIO write); the device takes writes in order.
	ReadRegion(index uint32, off uint64, b []byte) error
	WriteRegion(index uint32, off uint64, b []byte, posted bool) error
	// Flush returns once every posted write has reached the device.
	Flush() error
	// IRQCount is how many interrupts an interrupt index has.
	IRQCount(index uint32) (uint32, error)
	// SetIRQs routes interrupts start.. of an index to eventfds (signalled when the device
	// interrupts); no descriptors turns the index off.
	SetIRQs(index uint32, fds []int) error
	// MapDMA gives the device a DMA window of this process's memory: w.Mem, which is
	// w.Size bytes of the memory file w.Fd from w.Offset. With w.IOVA 0 the layer chooses
	// the bus address and sets it.
	MapDMA(w *DMA) error
	// UnmapDMA takes a window back.
	UnmapDMA(w *DMA) error
	// Reset is the function-level reset.
	Reset() error
	// GoneFd is an eventfd that becomes readable when the device is gone (-1: none).
	GoneFd() int
	// Gone says, without waiting, whether the device is gone (an error wrapping ErrGone).
	Gone() error
	// Close releases the device: its windows, interrupts and descriptors.
	Close() error
}

// RegionInfo describes a region.
type RegionInfo struct {
	Index  uint32
	Flags  uint32 // vfio.RegionInfoFlag*
	Size   uint64
	Offset uint64                // where the region is in the device descriptor (kernel) or the region's descriptor (vfio-user)
	Sparse []vfio.SparseMmapArea // the mappable parts, nil when the flags say all of it or none
	fd     int                   // vfio-user: the descriptor to map, -1 none
}

// Mappable reports whether the whole region can be mapped.
func (r RegionInfo) Mappable() bool {
	if r.Flags&vfio.RegionInfoFlagMmap == 0 || r.Size == 0 {
		return false
	}
	if r.Sparse == nil {
		return true
	}
	// Only if the areas cover the region without a gap.
	covered := uint64(0)
	for _, a := range r.Sparse {
		if a.Offset != covered {
			return false
		}
		covered += a.Size
	}
	return covered >= r.Size
}

// DMA is a window of this process's memory that the device may reach at IOVA.
type DMA struct {
	IOVA   uint64
	Size   uint64
	Fd     int    // the memory file (vfio-user passes it; the kernel uses Mem's address)
	Offset uint64 // of the window in the file
	Mem    []byte // this process's mapping of the window, read-write
	Write  bool   // the device may write it (else it only reads)
}

func (w *DMA) String() string { return fmt.Sprintf("%d bytes at %#x", w.Size, w.IOVA) }

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
