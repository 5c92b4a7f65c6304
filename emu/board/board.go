package board

import (
	"errors"
	"fmt"
	"hash/crc32"
	"sync"
	"time"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/devices/ina226"
	"github.com/lrchip/lrchip/devices/spinor"
	"github.com/lrchip/lrchip/devices/tmp117"
	"github.com/lrchip/lrchip/firmware/regmap"
	"github.com/lrchip/lrchip/flash"
)

// Defaults of Opts.
const (
	DefaultSerial       = 1
	DefaultCoreMem      = 64 << 10
	DefaultRingCapacity = 1 << 20
	DefaultMaxImage     = 256 << 20
	DefaultBulk         = 64 << 20
	DefaultSpin         = 200 * time.Microsecond
)

// DefaultFirmware is the version of the golden firmware of a new board's flash.
var DefaultFirmware = regmap.MakeFWVersion(1, 0, 0)

// Opts configures a board. The zero value is the prototype board with default settings.
type Opts struct {
	Size       chip.Size        // chip shape, default chip.Prototype
	Serial     uint64           // serial number, default DefaultSerial
	Kind       regmap.BoardKind // what BOARD_ID reads, default regmap.BoardEmulator
	Protocol   regmap.Version   // what PROTO_VERSION reads, default regmap.ProtocolVersion
	CapVersion uint32           // what CAP_VERSION reads, default regmap.CapVersion

	// Flash is the SPI flash. Default: a new flash whose golden slot holds firmware of
	// version Golden (and whose A and B slots are empty).
	Flash  *Flash
	Golden regmap.FWVersion // default DefaultFirmware

	CoreMem      int // bytes of core memory per core for MEM_WRITE/MEM_READ, default DefaultCoreMem
	RingCapacity int // capacity of a ring when the host asks for 0, default DefaultRingCapacity
	Bulk         int // bulk DMA window when the host asks for 0, default DefaultBulk (pages are allocated when touched)
	MaxImage     int // largest network image LOAD_BEGIN accepts, default DefaultMaxImage

	Power   PowerModel   // see PowerModel for its defaults
	Thermal ThermalModel // see ThermalModel for its defaults

	// Spin is how long the board keeps polling its rings after its last work before it sleeps
	// until the doorbell. Default DefaultSpin; negative: never poll.
	Spin time.Duration
}

// ErrBusy is returned by Serve when a host is attached already.
var ErrBusy = errors.New("board: a host is attached already")

// Board is one emulated board. Its methods are safe for concurrent use; the firmware loop
// (Serve) runs for one host at a time.
type Board struct {
	opts  Opts
	size  chip.Size
	regs  *regFile
	flash *Flash
	nor   *spinor.Dev  // the firmware's SPI NOR driver on the flash
	slots *flash.Slots // the firmware slots on flash, through nor
	sens  *sensors
	i2c   *sensorBus
	mons  [regmap.NumRails]*ina226.Dev // the firmware's drivers on the sensor bus
	temp  *tmp117.Dev

	mu       sync.Mutex
	attached bool
	holder   Host
	closed   bool

	// Firmware state, owned by the goroutine in Serve (one at a time).
	net     *network
	t       uint64
	loaded  bool
	running bool
	mem     [][]byte // core memory, allocated on first use
	pending []inputRec
	load    loadState
	fl      flashState
	errCode regmap.Result
	hostCS  bool   // the host holds the flash's chip select (SPI_XFER with KEEP_CS)
	reboots uint32 // boots since New
}

// Host describes an attached host.
type Host struct {
	PID  int    // 0 if unknown
	Comm string // its command name, if known
}

type inputRec struct {
	ts     uint64
	port   int
	spikes []regmap.Spike
}

type loadState struct {
	active   bool
	size     uint64
	received uint64
	buf      []byte // staging for LOAD_DATA, kept from load to load
	err      string // first failure of a LOAD_DATA or LOAD_DMA
	errRes   regmap.Result
	crc      uint32 // of buf[:received], while the data came in order
	inOrder  bool
	ring     bool // LOAD_DATA was used (the image is in buf)
	dma      bool // LOAD_DMA was used (the image is in the bulk window)
}

// sum returns the CRC-32 of the image received, data.
func (ld *loadState) sum(data []byte) uint32 {
	if ld.inOrder {
		return ld.crc
	}
	return crc32.ChecksumIEEE(data)
}

type flashState struct {
	active   bool
	args     regmap.FlashBeginArgs
	w        *flash.Writer
	received uint64
	err      string
	errRes   regmap.Result
}

// New makes a board and boots it.
func New(opts Opts) (*Board, error) {
	if opts.Size == (chip.Size{}) {
		opts.Size = chip.Prototype
	}
	if opts.Serial == 0 {
		opts.Serial = DefaultSerial
	}
	if opts.Kind == 0 {
		opts.Kind = regmap.BoardEmulator
	}
	if opts.Protocol == 0 {
		opts.Protocol = regmap.ProtocolVersion
	}
	if opts.CapVersion == 0 {
		opts.CapVersion = regmap.CapVersion
	}
	if opts.Golden == 0 {
		opts.Golden = DefaultFirmware
	}
	if opts.CoreMem == 0 {
		opts.CoreMem = DefaultCoreMem
	}
	if opts.RingCapacity == 0 {
		opts.RingCapacity = DefaultRingCapacity
	}
	if opts.Bulk == 0 {
		opts.Bulk = DefaultBulk
	}
	if opts.MaxImage == 0 {
		opts.MaxImage = DefaultMaxImage
	}
	if opts.Spin == 0 {
		opts.Spin = DefaultSpin
	}
	if opts.CoreMem < 0 || opts.CoreMem%4 != 0 || opts.CoreMem > 1<<30 {
		return nil, fmt.Errorf("board: core memory of %d bytes is not a multiple of 4 up to 1 GiB", opts.CoreMem)
	}
	if opts.Bulk < 0 || opts.Bulk%4096 != 0 || opts.Bulk > regmap.MaxBulk {
		return nil, fmt.Errorf("board: bulk window of %d bytes is not a multiple of 4096 up to %d", opts.Bulk, regmap.MaxBulk)
	}
	if c := opts.RingCapacity; c < 1<<12 || c > regmap.MaxRingCapacity || c&(c-1) != 0 {
		return nil, fmt.Errorf("board: ring capacity %d is not a power of two from 4096 to %d", c, regmap.MaxRingCapacity)
	}
	net, err := emptyNetwork(opts.Size)
	if err != nil {
		return nil, fmt.Errorf("board: %w", err)
	}
	b := &Board{opts: opts, size: opts.Size, net: net, sens: newSensors(opts.Power, opts.Thermal)}
	b.i2c = newSensorBus(b.sens)
	if b.mons, b.temp, err = openSensors(b.i2c); err != nil {
		return nil, err
	}
	if err := b.initFlash(opts); err != nil {
		return nil, err
	}
	if b.regs, err = newRegFile(); err != nil {
		return nil, err
	}
	r := b.regs
	r.store(regmap.RegMagic, regmap.Magic)
	r.store(regmap.RegProtoVersion, uint32(opts.Protocol))
	r.store(regmap.RegBoardID, uint32(opts.Kind))
	r.store64(regmap.RegSerialLo, opts.Serial)
	r.store(regmap.RegCapVersion, opts.CapVersion)
	r.store(regmap.RegCapCores, uint32(b.size.Cores))
	r.store(regmap.RegCapNeurons, uint32(b.size.NeuronsPerCore))
	r.store(regmap.RegCapFeatures, regmap.FeatureGraded|regmap.FeatureProbes|regmap.FeatureFreeRun|regmap.FeatureFlash|
		regmap.FeatureSensors|regmap.FeatureThrottle|regmap.FeatureSparse|regmap.FeatureMemTest)
	r.store(regmap.RegCapInstrs, 64)
	r.store(regmap.RegCapBanks, chip.MaxBanksPerCore)
	r.store(regmap.RegCapCoreMem, uint32(opts.CoreMem))
	r.store(regmap.RegCapPayload, uint32(opts.RingCapacity/4))
	r.store(regmap.RegTemperature, uint32(b.sens.tempMC()))
	b.boot()
	return b, nil
}

// goldenFirmware is the content of the emulator's golden slot: bytes determined by the
// version, standing in for a bitstream.
func goldenFirmware(v regmap.FWVersion) []byte {
	fw := make([]byte, 16<<10)
	x := uint32(v) | 1
	for i := range fw {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		fw[i] = byte(x)
	}
	copy(fw, "lrchip emulator firmware "+v.String())
	return fw
}

// Close releases the board. A host still attached sees it gone.
func (b *Board) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	if !b.attached {
		b.regs.close()
	}
	return nil
}

// String describes the board.
func (b *Board) String() string {
	return fmt.Sprintf("emulated board %s, serial %d, firmware %s", b.size, b.opts.Serial, regmap.FWVersion(b.regs.load(regmap.RegFWVersion)))
}

// Size returns the chip's shape.
func (b *Board) Size() chip.Size { return b.size }

// Flash returns the board's flash.
func (b *Board) Flash() *Flash { return b.flash }

// Identity returns what a HELLO_QUERY reports.
func (b *Board) Identity() regmap.HelloReply {
	b.mu.Lock()
	att := b.attached
	b.mu.Unlock()
	return regmap.HelloReply{
		Version:   regmap.Version(b.regs.load(regmap.RegProtoVersion)),
		BoardID:   regmap.BoardKind(b.regs.load(regmap.RegBoardID)),
		Serial:    b.regs.load64(regmap.RegSerialLo),
		FWVersion: regmap.FWVersion(b.regs.load(regmap.RegFWVersion)),
		Cores:     uint32(b.size.Cores),
		Neurons:   uint32(b.size.NeuronsPerCore),
		Attached:  att,
	}
}

// Holder returns the attached host, if any.
func (b *Board) Holder() (Host, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.holder, b.attached
}

func (b *Board) attach(h Host) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return errors.New("board: closed")
	}
	if b.attached {
		return ErrBusy
	}
	b.attached, b.holder = true, h
	return nil
}

func (b *Board) detach() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.attached, b.holder = false, Host{}
	if b.closed {
		b.regs.close()
	}
}

// --- flash and boot ---

// initFlash takes the board's flash, or makes one whose golden slot holds firmware of
// version opts.Golden, as the factory would.
func (b *Board) initFlash(opts Opts) (err error) {
	if b.flash = opts.Flash; b.flash == nil {
		if b.flash, err = NewFlash(0); err != nil {
			return err
		}
	}
	if b.flash.PoweredOff() {
		return fmt.Errorf("board: the flash has no power (PowerOn it first): %w", ErrPowerCut)
	}
	if b.nor, err = spinor.New(flashConn{b.flash}, nil); err != nil {
		return fmt.Errorf("board: %w", err)
	}
	if b.slots, err = flash.NewSlots(b.nor, flash.Opts{SlotSize: b.flash.SlotSize()}); err != nil {
		return fmt.Errorf("board: %w", err)
	}
	if opts.Flash == nil {
		if err := flash.WriteGolden(b.slots, opts.Golden, goldenFirmware(opts.Golden)); err != nil {
			return fmt.Errorf("board: %w", err)
		}
	}
	return nil
}

// boot picks the firmware slot and sets the identity registers from it.
func (b *Board) boot() (slot int, v regmap.FWVersion) {
	st, ok := b.slots.Boot()
	b.reboots++
	slot, h := int(st.Slot), st.Header
	r := b.regs
	r.store(regmap.RegFWSlot, uint32(slot))
	r.store(regmap.RegFWVersion, uint32(h.Version))
	r.setStatus(regmap.StatusGolden, slot == regmap.SlotGolden)
	if !ok {
		b.errCode = regmap.ResultVerify
		r.store(regmap.RegErrorCode, uint32(regmap.ResultVerify))
		r.setStatus(regmap.StatusError, true)
	}
	r.setStatus(regmap.StatusReady, true)
	return slot, h.Version
}
