// Package vfio is the Linux VFIO userspace ABI, defined once: the ioctl numbers, flags and
// structures of <linux/vfio.h> (the group/container API and the device API) and of the
// kernel 6.2+ device cdev with iommufd (<linux/iommufd.h>), as far as lrchip uses them. The
// structures are laid out exactly as the kernel's, so that an ioctl can be handed a pointer
// to one, and they are the payloads of the vfio-user protocol too (internal/vfio/user), which
// reuses the VFIO structures on the wire (little-endian, as the hosts we run on).
//
// golang.org/x/sys/unix has none of this. A test compiles a C program against the system's
// <linux/vfio.h> (Debian's linux-libc-dev) that checks every size, offset, flag and ioctl
// number defined here.
package vfio

import (
	"encoding/binary"
	"fmt"
)

// ioctl numbers. VFIO's ioctls are all _IO(';', 100 + n): no size or direction bits, the
// structure's argsz field carries its size.
const (
	ioctlType = ';'
	ioctlBase = 100

	// iommufd's ioctls have the same type; its commands start at 0x80.
	iommufdBase = 0x80
)

// Ioctl requests on /dev/vfio/vfio (the container), /dev/vfio/N (a group) and a device.
const (
	IoctlGetAPIVersion       = ioctlType<<8 | (ioctlBase + 0)
	IoctlCheckExtension      = ioctlType<<8 | (ioctlBase + 1)
	IoctlSetIOMMU            = ioctlType<<8 | (ioctlBase + 2)
	IoctlGroupGetStatus      = ioctlType<<8 | (ioctlBase + 3)
	IoctlGroupSetContainer   = ioctlType<<8 | (ioctlBase + 4)
	IoctlGroupUnsetContainer = ioctlType<<8 | (ioctlBase + 5)
	IoctlGroupGetDeviceFD    = ioctlType<<8 | (ioctlBase + 6)
	IoctlDeviceGetInfo       = ioctlType<<8 | (ioctlBase + 7)
	IoctlDeviceGetRegionInfo = ioctlType<<8 | (ioctlBase + 8)
	IoctlDeviceGetIRQInfo    = ioctlType<<8 | (ioctlBase + 9)
	IoctlDeviceSetIRQs       = ioctlType<<8 | (ioctlBase + 10)
	IoctlDeviceReset         = ioctlType<<8 | (ioctlBase + 11)
	IoctlIOMMUGetInfo        = ioctlType<<8 | (ioctlBase + 12)
	IoctlIOMMUMapDMA         = ioctlType<<8 | (ioctlBase + 13)
	IoctlIOMMUUnmapDMA       = ioctlType<<8 | (ioctlBase + 14)

	// The device cdev (/dev/vfio/devices/vfioN, kernel 6.2+ with CONFIG_VFIO_DEVICE_CDEV).
	IoctlDeviceBindIOMMUFD     = ioctlType<<8 | (ioctlBase + 18)
	IoctlDeviceAttachIOMMUFDPT = ioctlType<<8 | (ioctlBase + 19)
	IoctlDeviceDetachIOMMUFDPT = ioctlType<<8 | (ioctlBase + 20)

	// iommufd (/dev/iommu).
	IoctlIOMMUDestroy   = ioctlType<<8 | (iommufdBase + 0)
	IoctlIOMMUIOASAlloc = ioctlType<<8 | (iommufdBase + 1)
	IoctlIOMMUIOASMap   = ioctlType<<8 | (iommufdBase + 5)
	IoctlIOMMUIOASUnmap = ioctlType<<8 | (iommufdBase + 6)
)

// APIVersion is what IoctlGetAPIVersion returns.
const APIVersion = 0

// IOMMU types (IoctlCheckExtension, IoctlSetIOMMU).
const (
	Type1v2IOMMU = 3
	NoIOMMU      = 8
)

// Group status flags.
const (
	GroupFlagsViable       = 1 << 0
	GroupFlagsContainerSet = 1 << 1
)

// Device flags.
const (
	DeviceFlagsReset = 1 << 0
	DeviceFlagsPCI   = 1 << 1
	DeviceFlagsCaps  = 1 << 7
)

// Region flags and capabilities.
const (
	RegionInfoFlagRead  = 1 << 0
	RegionInfoFlagWrite = 1 << 1
	RegionInfoFlagMmap  = 1 << 2
	RegionInfoFlagCaps  = 1 << 3

	RegionInfoCapSparseMmapID = 1
	RegionInfoCapTypeID       = 2
)

// PCI region indexes.
const (
	PCIBAR0RegionIndex   = 0
	PCIBAR2RegionIndex   = 2
	PCIBAR5RegionIndex   = 5
	PCIROMRegionIndex    = 6
	PCIConfigRegionIndex = 7
	PCIVGARegionIndex    = 8
	PCINumRegions        = 9
)

// PCI IRQ indexes.
const (
	PCIINTxIRQIndex = 0
	PCIMSIIRQIndex  = 1
	PCIMSIXIRQIndex = 2
	PCIErrIRQIndex  = 3
	PCIReqIRQIndex  = 4
	PCINumIRQs      = 5
)

// IRQ info flags.
const (
	IRQInfoEventfd    = 1 << 0
	IRQInfoMaskable   = 1 << 1
	IRQInfoAutomasked = 1 << 2
	IRQInfoNoresize   = 1 << 3
)

// IRQ set flags: one data type and one action.
const (
	IRQSetDataNone      = 1 << 0
	IRQSetDataBool      = 1 << 1
	IRQSetDataEventfd   = 1 << 2
	IRQSetActionMask    = 1 << 3
	IRQSetActionUnmask  = 1 << 4
	IRQSetActionTrigger = 1 << 5

	IRQSetDataTypeMask   = IRQSetDataNone | IRQSetDataBool | IRQSetDataEventfd
	IRQSetActionTypeMask = IRQSetActionMask | IRQSetActionUnmask | IRQSetActionTrigger
)

// DMA map flags (type 1 IOMMU and vfio-user's DMA_MAP alike).
const (
	DMAMapFlagRead  = 1 << 0
	DMAMapFlagWrite = 1 << 1
)

// Type 1 IOMMU info.
const (
	IOMMUInfoPgsizes             = 1 << 0
	IOMMUInfoCaps                = 1 << 1
	IOMMUType1InfoCapIOVARangeID = 1
)

// iommufd IOAS map flags.
const (
	IOASMapFixedIOVA = 1 << 0
	IOASMapWriteable = 1 << 1
	IOASMapReadable  = 1 << 2
)

// GroupStatus is struct vfio_group_status.
type GroupStatus struct {
	Argsz uint32 `c:"argsz"`
	Flags uint32 `c:"flags"`
}

// DeviceInfo is struct vfio_device_info (the fields lrchip uses; argsz tells the kernel
// which).
type DeviceInfo struct {
	Argsz      uint32 `c:"argsz"`
	Flags      uint32 `c:"flags"`
	NumRegions uint32 `c:"num_regions"`
	NumIRQs    uint32 `c:"num_irqs"`
}

// RegionInfo is struct vfio_region_info.
type RegionInfo struct {
	Argsz     uint32 `c:"argsz"`
	Flags     uint32 `c:"flags"`
	Index     uint32 `c:"index"`
	CapOffset uint32 `c:"cap_offset"`
	Size      uint64 `c:"size"`
	Offset    uint64 `c:"offset"`
}

// InfoCapHeader is struct vfio_info_cap_header, which starts every capability of an info
// structure's chain; Next is the offset of the next from the start of the info structure,
// 0 for the last.
type InfoCapHeader struct {
	ID      uint16 `c:"id"`
	Version uint16 `c:"version"`
	Next    uint32 `c:"next"`
}

// RegionInfoCapSparseMmap is struct vfio_region_info_cap_sparse_mmap; NrAreas
// SparseMmapArea follow it.
type RegionInfoCapSparseMmap struct {
	Header   InfoCapHeader `c:"header"`
	NrAreas  uint32        `c:"nr_areas"`
	Reserved uint32        `c:"reserved"`
}

// SparseMmapArea is struct vfio_region_sparse_mmap_area.
type SparseMmapArea struct {
	Offset uint64 `c:"offset"`
	Size   uint64 `c:"size"`
}

// IRQInfo is struct vfio_irq_info.
type IRQInfo struct {
	Argsz uint32 `c:"argsz"`
	Flags uint32 `c:"flags"`
	Index uint32 `c:"index"`
	Count uint32 `c:"count"`
}

// IRQSet is struct vfio_irq_set; for IRQSetDataEventfd, Count int32 descriptors follow it
// (-1 to unset one).
type IRQSet struct {
	Argsz uint32 `c:"argsz"`
	Flags uint32 `c:"flags"`
	Index uint32 `c:"index"`
	Start uint32 `c:"start"`
	Count uint32 `c:"count"`
}

// IOMMUType1Info is struct vfio_iommu_type1_info.
type IOMMUType1Info struct {
	Argsz       uint32 `c:"argsz"`
	Flags       uint32 `c:"flags"`
	IOVAPgsizes uint64 `c:"iova_pgsizes"`
	CapOffset   uint32 `c:"cap_offset"`
	_           uint32
}

// IOMMUType1InfoCapIOVARange is struct vfio_iommu_type1_info_cap_iova_range; NrIOVAs
// IOVARange follow it.
type IOMMUType1InfoCapIOVARange struct {
	Header   InfoCapHeader `c:"header"`
	NrIOVAs  uint32        `c:"nr_iovas"`
	Reserved uint32        `c:"reserved"`
}

// IOVARange is struct vfio_iova_range (End is the last valid address, inclusive).
type IOVARange struct {
	Start uint64 `c:"start"`
	End   uint64 `c:"end"`
}

// DMAMap is struct vfio_iommu_type1_dma_map.
type DMAMap struct {
	Argsz uint32 `c:"argsz"`
	Flags uint32 `c:"flags"`
	Vaddr uint64 `c:"vaddr"`
	IOVA  uint64 `c:"iova"`
	Size  uint64 `c:"size"`
}

// DMAUnmap is struct vfio_iommu_type1_dma_unmap.
type DMAUnmap struct {
	Argsz uint32 `c:"argsz"`
	Flags uint32 `c:"flags"`
	IOVA  uint64 `c:"iova"`
	Size  uint64 `c:"size"`
}

// DeviceBindIOMMUFD is struct vfio_device_bind_iommufd (kernel 6.6's; later kernels grew it,
// argsz says which the caller means).
type DeviceBindIOMMUFD struct {
	Argsz    uint32 `c:"argsz"`
	Flags    uint32 `c:"flags"`
	IOMMUFD  int32  `c:"iommufd"`
	OutDevID uint32 `c:"out_devid"`
}

// DeviceAttachIOMMUFDPT is struct vfio_device_attach_iommufd_pt (6.6's).
type DeviceAttachIOMMUFDPT struct {
	Argsz uint32 `c:"argsz"`
	Flags uint32 `c:"flags"`
	PtID  uint32 `c:"pt_id"`
}

// IOMMUDestroyArgs is struct iommu_destroy.
type IOMMUDestroyArgs struct {
	Size uint32 `c:"size"`
	ID   uint32 `c:"id"`
}

// IOASAlloc is struct iommu_ioas_alloc.
type IOASAlloc struct {
	Size      uint32 `c:"size"`
	Flags     uint32 `c:"flags"`
	OutIOASID uint32 `c:"out_ioas_id"`
}

// IOASMap is struct iommu_ioas_map.
type IOASMap struct {
	Size     uint32 `c:"size"`
	Flags    uint32 `c:"flags"`
	IOASID   uint32 `c:"ioas_id"`
	Reserved uint32 `c:"__reserved"`
	UserVA   uint64 `c:"user_va"`
	Length   uint64 `c:"length"`
	IOVA     uint64 `c:"iova"`
}

// IOASUnmap is struct iommu_ioas_unmap.
type IOASUnmap struct {
	Size   uint32 `c:"size"`
	IOASID uint32 `c:"ioas_id"`
	IOVA   uint64 `c:"iova"`
	Length uint64 `c:"length"`
}

// Sizes of the structures, as the kernel (and vfio-user) see them.
var (
	GroupStatusSize             = binary.Size(GroupStatus{})
	DeviceInfoSize              = binary.Size(DeviceInfo{})
	RegionInfoSize              = binary.Size(RegionInfo{})
	InfoCapHeaderSize           = binary.Size(InfoCapHeader{})
	RegionInfoCapSparseMmapSize = binary.Size(RegionInfoCapSparseMmap{})
	SparseMmapAreaSize          = binary.Size(SparseMmapArea{})
	IRQInfoSize                 = binary.Size(IRQInfo{})
	IRQSetSize                  = binary.Size(IRQSet{})
	IOMMUType1InfoSize          = binary.Size(IOMMUType1Info{})
	IOVARangeSize               = binary.Size(IOVARange{})
	DMAMapSize                  = binary.Size(DMAMap{})
	DMAUnmapSize                = binary.Size(DMAUnmap{})
)

// Encode appends the little-endian encoding of a fixed-size VFIO structure to b.
func Encode(b []byte, v any) []byte {
	out, err := binary.Append(b, binary.LittleEndian, v)
	if err != nil {
		panic(fmt.Sprintf("vfio: encoding %T: %v", v, err)) // a programming error: only fixed-size structures are passed
	}
	return out
}

// Decode decodes a fixed-size VFIO structure from the start of b; it fails when b is too short.
func Decode(b []byte, v any) error {
	if _, err := binary.Decode(b, binary.LittleEndian, v); err != nil {
		return fmt.Errorf("vfio: %d bytes do not hold a %T (%d bytes)", len(b), v, binary.Size(v))
	}
	return nil
}
