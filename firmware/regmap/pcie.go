package regmap

import "fmt"

// The board on PCIe: one PCI function (PCIVendorID:PCIDeviceID) whose BAR 0 is the register
// file. Unlike the emulated transports, where the board allocates the rings and hands them to
// the host, on PCIe the host allocates the four rings and the bulk DMA window in its own
// memory, formats the rings (runtime/ring's layout), maps the memory for the board's DMA (the
// IOMMU, through VFIO) and writes the bus addresses (IOVAs) and sizes into the ring and bulk
// registers; then it sets CONTROL.ATTACH and waits for STATUS.ATTACHED. From then on the
// board reads and writes the rings by DMA, the host wakes a sleeping board with a DOORBELL
// write (an MMIO write to BAR 0) and the board interrupts the host with MSI-X.
//
// The same function is emulated over vfio-user (QEMU's protocol for a PCI device served by
// another process: lrctl emu serve --vfio-user PATH, device URI vfio-user:PATH); there BAR 0 is
// the emulated board's register file, passed to the host as a mappable region for reads,
// with writes as REGION_WRITE messages (a write has side effects plain memory cannot have),
// and DMA windows are the host's memory files passed with DMA_MAP.

// PCI BARs.
const (
	// PCIBarRegs is the register file: BARSize bytes, 32-bit non-prefetchable memory.
	PCIBarRegs = 0
	// PCIBarMSIX holds the MSI-X table (at MSIXTableOffset) and its pending-bit array (at
	// MSIXPBAOffset), PCIBarMSIXSize bytes. It is a BAR of its own so that BAR 0 can be
	// mapped whole on every kernel (VFIO does not let a process map the page of an MSI-X
	// table on kernels before 4.16).
	PCIBarMSIX      = 2
	PCIBarMSIXSize  = 4096
	MSIXTableOffset = 0x000
	MSIXPBAOffset   = 0x800
)

// PCIConfigSize is the size of the function's configuration space (the conventional 256 bytes;
// the function has no extended capabilities).
const PCIConfigSize = 256

// Values and offsets of the configuration space (the standard type 0 header). Only what the
// board sets is listed; everything else reads 0.
const (
	PCIConfigVendor    = 0x00 // u16: PCIVendorID
	PCIConfigDevice    = 0x02 // u16: PCIDeviceID
	PCIConfigCommand   = 0x04 // u16: memory space (bit 1), bus master (bit 2), INTx disable (bit 10)
	PCIConfigStatus    = 0x06 // u16: capabilities list (bit 4)
	PCIConfigRevision  = 0x08 // u8: PCIRevision
	PCIConfigClass     = 0x09 // u8[3]: programming interface, subclass, class: PCIClass
	PCIConfigHeader    = 0x0E // u8: 0, a type 0 header of a single-function device
	PCIConfigBAR0      = 0x10 // u32 per BAR, BAR i at PCIConfigBAR0 + 4i
	PCIConfigSubVendor = 0x2C // u16: PCIVendorID
	PCIConfigSubsystem = 0x2E // u16: PCIDeviceID
	PCIConfigCapPtr    = 0x34 // u8: MSIXCapOffset, the first (and only) capability
	PCIConfigIntPin    = 0x3D // u8: 0, no INTx

	// PCIRevision is the function's revision id.
	PCIRevision = 0x01
	// PCIClass is the class code: 0x12 processing accelerator, subclass 0, interface 0.
	PCIClass uint32 = 0x120000

	// PCICommandMemory and PCICommandMaster are the command register bits the host sets
	// before it uses BAR 0 and before the board may DMA.
	PCICommandMemory uint16 = 1 << 1
	PCICommandMaster uint16 = 1 << 2
	// PCIStatusCapList says the capability list at PCIConfigCapPtr is valid.
	PCIStatusCapList uint16 = 1 << 4

	// MSIXCapOffset is the MSI-X capability: id 0x11, next 0, message control (table size
	// minus one in bits 10..0, function mask bit 14, enable bit 15), table offset|BIR,
	// PBA offset|BIR.
	MSIXCapOffset        = 0x40
	MSIXCapID            = 0x11
	MSIXCapControl       = 0x02 // u16, from the capability
	MSIXCapTable         = 0x04 // u32: MSIXTableOffset | PCIBarMSIX
	MSIXCapPBA           = 0x08 // u32: MSIXPBAOffset | PCIBarMSIX
	MSIXCapSize          = 12
	MSIXControlEnable    = 1 << 15
	MSIXControlFuncMask  = 1 << 14
	MSIXControlTableMask = 0x7FF
)

// MSIXVector is an MSI-X vector of the board and the IRQ_STATUS causes it carries.
type MSIXVector struct {
	Vector int
	Name   string
	Causes uint32 // IRQ_STATUS bits
	Doc    string
}

// The board's MSI-X vectors. An interrupt follows the one-shot rule of §4 (IRQ_MASK armed,
// cleared by the board when it interrupts); the board then signals every vector that carries
// a cause set in IRQ_STATUS, vector 0 if none is set any more.
const (
	MSIXVectorRings = 0
	MSIXVectorError = 1
	NumMSIXVectors  = 2
)

// MSIXVectors lists the vectors.
var MSIXVectors = []MSIXVector{
	{MSIXVectorRings, "RINGS", IRQCompletion | IRQOutput, "records in CPL or OUT"},
	{MSIXVectorError, "ERROR", IRQError, "STATUS.ERROR was set (ERROR_CODE says why)"},
}

// VectorsFor returns the MSI-X vectors (a bit per vector) that carry the IRQ_STATUS causes.
func VectorsFor(causes uint32) uint32 {
	var v uint32
	for _, m := range MSIXVectors {
		if causes&m.Causes != 0 {
			v |= 1 << m.Vector
		}
	}
	if v == 0 {
		v = 1 << MSIXVectorRings
	}
	return v
}

// Host memory the board reaches by DMA (PCIe): the rings and the bulk window, each at a bus
// address (IOVA) aligned to DMAAlign, inside one window the host mapped for the board.
const (
	// DMAAlign is the alignment of every ring and of the bulk window, in bus addresses.
	DMAAlign = 4096
	// RingHeaderSize is runtime/ring's header, which precedes a ring's data area: a ring of
	// capacity c occupies RingHeaderSize + c bytes of DMA memory from its base.
	RingHeaderSize = 4096
	// MinRingCapacity is the smallest ring data area the board takes.
	MinRingCapacity = 4096
)

// AllOnes is what a read of any register returns once the board has gone from the bus
// (surprise removal, a link down, a function in reset): the host that reads it from MAGIC
// knows the board is gone.
const AllOnes uint32 = 0xFFFFFFFF

// PCIeDoc documents the PCIe function for docs/regmap.md: each entry a term and what it is.
var PCIeDoc = []struct{ Term, Doc string }{
	{"BAR 0", fmt.Sprintf("the register file (§2), %d bytes, 32-bit non-prefetchable memory; mapped by the host (VFIO region %d)", BARSize, PCIBarRegs)},
	{fmt.Sprintf("BAR %d", PCIBarMSIX), fmt.Sprintf("the MSI-X table at 0x%03X and its pending-bit array at 0x%03X, %d bytes; only the kernel (or the vfio-user server) touches it", MSIXTableOffset, MSIXPBAOffset, PCIBarMSIXSize)},
	{"config space", fmt.Sprintf("%d bytes: vendor/device and subsystem 0x%04x:0x%04x, revision %d, class 0x%06X (processing accelerator), MSI-X capability at 0x%02X (%d vectors)", PCIConfigSize, PCIVendorID, PCIDeviceID, PCIRevision, PCIClass, MSIXCapOffset, NumMSIXVectors)},
	{"rings and bulk window", fmt.Sprintf("host memory, allocated and formatted by the host (runtime/ring layout), mapped for the board's DMA; the host writes each one's bus address (IOVA, %d-byte aligned) to RING_x_BASE / BULK_BASE and its size to RING_x_SIZE (the data area, a power of two from %d) / BULK_SIZE before CONTROL.ATTACH", DMAAlign, MinRingCapacity)},
	{"CONTROL.ATTACH", "the board takes the rings and bulk window the registers name: it checks that each lies inside memory the host mapped for it and that each ring is formatted with the size its register says, then sets STATUS.ATTACHED; a window it cannot reach is refused with STATUS.ERROR and ERROR_CODE RANGE, a ring it cannot use with BAD_ARGS (a function-level reset clears the error). Without ATTACHED the board touches no host memory"},
	{"doorbell", "an MMIO write of DOORBELL (or CONTROL) wakes the board; by the need-wakeup rule of §4 the host writes DOORBELL only when it reads STATUS.SLEEPING after publishing"},
	{"interrupts", fmt.Sprintf("MSI-X, %d vectors (below), one-shot under IRQ_MASK as in §4", NumMSIXVectors)},
	{"posted writes", "MMIO writes are posted: the host does not wait for one to reach the board. So that arming needs no read-back, a write of IRQ_MASK that arms a cause already pending in IRQ_STATUS interrupts at once (and disarms, one-shot): a record the board published while the write was on its way is not slept through"},
	{"surprise removal", fmt.Sprintf("every read returns 0x%08X; MAGIC reading so means the board is gone (VFIO also signals its request interrupt)", AllOnes)},
	{"function-level reset", "FLR (VFIO_DEVICE_RESET): the board stops its DMA, detaches the rings, performs the soft reset of CONTROL.RESET, and puts every RW register back to its power-on value (ring and bulk registers 0, IRQ_MASK 0, HOST_VERSION 0); the firmware is not rebooted and the flash is untouched. The host attaches again as at open"},
	{"CONTROL.RESET", "the soft reset (§2) keeps the rings attached"},
}
