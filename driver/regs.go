package driver

import (
	"context"
	"time"

	"github.com/lrchip/lrchip/firmware/regmap"
)

// ReadRegister reads a register of the board's register file.
func (d *Device) ReadRegister(off uint32) (uint32, error) {
	release, err := d.enter()
	if err != nil {
		return 0, err
	}
	defer release()
	if _, ok := regmap.RegisterAt(off); !ok {
		return 0, errorf("read register %#x: no such register", off)
	}
	return d.link.ReadReg(off)
}

// WriteRegister writes a register with its access semantics: RW stores, W1C clears the bits
// set in v, W1S sets them for the board to act on (and wakes it). Read-only registers refuse.
func (d *Device) WriteRegister(off uint32, v uint32) error {
	release, err := d.enter()
	if err != nil {
		return err
	}
	defer release()
	r, ok := regmap.RegisterAt(off)
	if !ok {
		return errorf("write register %#x: no such register", off)
	}
	if r.Access == regmap.RO {
		return errorf("write register %s: read-only", r.Name)
	}
	return d.link.WriteReg(off, v)
}

// Status is what the STATUS and related registers say now.
type Status struct {
	Ready       bool          `json:"ready"`
	Running     bool          `json:"running"`
	Busy        bool          `json:"busy"`
	Loaded      bool          `json:"loaded"`
	Throttled   bool          `json:"throttled"`
	Sleeping    bool          `json:"sleeping"`
	Stalled     bool          `json:"stalled"`
	Error       bool          `json:"error"`
	ErrorCode   regmap.Result `json:"error_code"`
	Golden      bool          `json:"golden"`
	Timestep    uint64        `json:"timestep"`
	Temperature Temperature   `json:"temperature_c"`
}

// Status reads the status registers (no command: it does not wait).
func (d *Device) Status() (Status, error) {
	release, err := d.enter()
	if err != nil {
		return Status{}, err
	}
	defer release()
	r := &regReader{l: d.link}
	s := r.u32(regmap.RegStatus)
	st := Status{
		Ready: s&regmap.StatusReady != 0, Running: s&regmap.StatusRunning != 0, Busy: s&regmap.StatusBusy != 0,
		Loaded: s&regmap.StatusLoaded != 0, Throttled: s&regmap.StatusThrottled != 0, Sleeping: s&regmap.StatusSleeping != 0,
		Stalled: s&regmap.StatusStalled != 0, Error: s&regmap.StatusError != 0, Golden: s&regmap.StatusGolden != 0,
		ErrorCode: regmap.Result(r.u32(regmap.RegErrorCode)), Timestep: r.u64(regmap.RegTimestepLo),
		Temperature: Temperature(int32(r.u32(regmap.RegTemperature))),
	}
	if r.err != nil {
		return Status{}, errorf("%s: status: %w", d.uri, r.err)
	}
	return st, nil
}

// WriteMemory writes core memory (MEM_WRITE), in CAP_PAYLOAD-sized pieces that complete only
// on failure.
func (d *Device) WriteMemory(ctx context.Context, core, off int, data []byte) error {
	release, err := d.enter()
	if err != nil {
		return err
	}
	defer release()
	if core < 0 || off < 0 || off+len(data) > d.info.CoreMemory {
		return errorf("write memory: core %d [%d, %d) outside [0, %d)", core, off, off+len(data), d.info.CoreMemory)
	}
	b := &batch{}
	defer d.finish(b)
	chunk := d.info.MaxPayload - regmap.DataArgsHeaderSize
	var hdr [regmap.DataArgsHeaderSize]byte
	for o := 0; o < len(data); o += chunk {
		end := min(o+chunk, len(data))
		tag, err := d.send(ctx, regmap.OpMemWrite, regmap.CmdFlagQuiet, &call{op: regmap.OpMemWrite, batch: b},
			regmap.AppendDataArgsHeader(hdr[:0], regmap.OpMemWrite, uint32(core), uint64(off+o)), data[o:end])
		if err != nil {
			return err
		}
		b.tags = append(b.tags, tag)
	}
	// A NOP behind them: when it completes, every write before it has.
	if _, err := d.do(ctx, regmap.OpNop); err != nil {
		return err
	}
	return b.err
}

// ReadMemory reads n bytes of core memory (MEM_READ).
func (d *Device) ReadMemory(ctx context.Context, core, off, n int) ([]byte, error) {
	release, err := d.enter()
	if err != nil {
		return nil, err
	}
	defer release()
	if core < 0 || off < 0 || n < 0 || off+n > d.info.CoreMemory {
		return nil, errorf("read memory: core %d [%d, %d) outside [0, %d)", core, off, off+n, d.info.CoreMemory)
	}
	out := make([]byte, 0, n)
	for o := 0; o < n; o += d.info.MaxPayload {
		k := min(d.info.MaxPayload, n-o)
		c, err := d.do(ctx, regmap.OpMemRead, regmap.MemReadArgs{Core: uint32(core), Offset: uint32(off + o), Length: uint32(k)}.Append(nil))
		if err != nil {
			return nil, err
		}
		if len(c.Data) != k {
			e := d.protoErr("MEM_READ of %d bytes returned %d", k, len(c.Data))
			d.fail(e)
			return nil, e
		}
		out = append(out, c.Data...)
	}
	return out, nil
}

// Echo sends data through a NOP and checks that it comes back unchanged: a protocol round
// trip.
func (d *Device) Echo(ctx context.Context, data []byte) error {
	release, err := d.enter()
	if err != nil {
		return err
	}
	defer release()
	c, err := d.do(ctx, regmap.OpNop, data)
	if err != nil {
		return err
	}
	if string(c.Data) != string(data) {
		e := d.protoErr("NOP echoed %d bytes differing from the %d sent", len(c.Data), len(data))
		d.fail(e)
		return e
	}
	return nil
}

// FlashInfo describes the flash slots.
type FlashInfo struct {
	Booted   int         `json:"booted"`
	SlotSize int         `json:"slot_size"`
	Slots    []FlashSlot `json:"slots"`
}

// FlashSlot is one slot of the flash.
type FlashSlot struct {
	Slot    int              `json:"slot"`
	Name    string           `json:"name"`
	Valid   bool             `json:"valid"`
	Booted  bool             `json:"booted"`
	Version regmap.FWVersion `json:"version"`
	Seq     uint32           `json:"seq"`
	Size    int              `json:"size"`
	CRC32   uint32           `json:"crc32"`
}

var slotNames = [regmap.NumSlots]string{"golden", "A", "B"}

// FlashInfo reads the flash slot table.
func (d *Device) FlashInfo(ctx context.Context) (FlashInfo, error) {
	release, err := d.enter()
	if err != nil {
		return FlashInfo{}, err
	}
	defer release()
	c, err := d.do(ctx, regmap.OpFlashInfo)
	if err != nil {
		return FlashInfo{}, err
	}
	fi, err := regmap.DecodeFlashInfo(c.Data)
	if err != nil {
		e := d.wireErr(err)
		d.fail(e)
		return FlashInfo{}, e
	}
	out := FlashInfo{Booted: int(fi.Booted), SlotSize: int(fi.SlotSize)}
	for _, s := range fi.Slots {
		name := "?"
		if s.Slot < regmap.NumSlots {
			name = slotNames[s.Slot]
		}
		out.Slots = append(out.Slots, FlashSlot{Slot: int(s.Slot), Name: name, Valid: s.Flags&regmap.SlotValid != 0,
			Booted: s.Flags&regmap.SlotBooted != 0, Version: s.Version, Seq: s.Seq, Size: int(s.Size), CRC32: s.CRC32})
	}
	return out, nil
}

// Flash writes firmware into slot A (1) or B (2): the board erases the slot, writes it,
// reads it back and checks the CRC, then marks it valid and newest. It boots on the next
// Reboot.
func (d *Device) Flash(ctx context.Context, slot int, fw []byte, version regmap.FWVersion) error {
	return d.FlashProgress(ctx, slot, fw, version, nil)
}

// FlashProgress is Flash, calling progress (if not nil) with the bytes sent so far.
func (d *Device) FlashProgress(ctx context.Context, slot int, fw []byte, version regmap.FWVersion, progress func(done, total int)) error {
	release, err := d.enter()
	if err != nil {
		return err
	}
	defer release()
	crc := crc32IEEE(fw)
	if _, err := d.do(ctx, regmap.OpFlashBegin, regmap.FlashBeginArgs{Slot: uint32(slot), Size: uint32(len(fw)), Version: version, CRC32: crc}.Append(nil)); err != nil {
		return err
	}
	b := &batch{}
	defer d.finish(b)
	chunk := min(flashChunk, d.info.MaxPayload-regmap.DataArgsHeaderSize)
	var hdr [regmap.DataArgsHeaderSize]byte
	for o := 0; o < len(fw); o += chunk {
		end := min(o+chunk, len(fw))
		tag, err := d.send(ctx, regmap.OpFlashData, regmap.CmdFlagQuiet, &call{op: regmap.OpFlashData, batch: b},
			regmap.AppendDataArgsHeader(hdr[:0], regmap.OpFlashData, uint32(slot), uint64(o)), fw[o:end])
		if err != nil {
			return err
		}
		b.tags = append(b.tags, tag)
		if progress != nil {
			progress(end, len(fw))
		}
	}
	_, err = d.do(ctx, regmap.OpFlashEnd, regmap.AppendFlashEndArgs(nil, uint32(slot)))
	if err != nil && b.err != nil {
		return b.err
	}
	return err
}

// flashChunk is the most firmware one FLASH_DATA carries: small enough for a progress bar
// to move.
const flashChunk = 64 << 10

// Reboot boots the board again from flash (CONTROL.REBOOT): the newest valid slot, or the
// golden image. The network is unloaded. It returns the refreshed Info.
func (d *Device) Reboot(ctx context.Context) (Info, error) {
	release, err := d.enter()
	if err != nil {
		return Info{}, err
	}
	defer release()
	// The BOOT event follows the reboot in CPL; a NOP behind it completes after it.
	d.control(regmap.ControlReboot)
	deadline := time.Now().Add(d.opts.Timeout)
	for {
		c, err := d.link.ReadReg(regmap.RegControl)
		if err != nil {
			return Info{}, errorf("%s: reboot: %w", d.uri, err)
		}
		if c == 0 {
			break
		}
		if time.Now().After(deadline) {
			return Info{}, errorf("%s: reboot: %w", d.uri, ErrTimeout)
		}
		if ctx.Err() != nil {
			return Info{}, ctxError(ctx, "reboot")
		}
		time.Sleep(50 * time.Microsecond)
	}
	if _, err := d.do(ctx, regmap.OpNop); err != nil {
		return Info{}, err
	}
	r := &regReader{l: d.link}
	fw, slot := regmap.FWVersion(r.u32(regmap.RegFWVersion)), int(r.u32(regmap.RegFWSlot))
	if r.err != nil {
		return Info{}, errorf("%s: reboot: %w", d.uri, r.err)
	}
	d.mu.Lock()
	d.info.Firmware, d.info.FirmwareSlot = fw, slot
	d.inputs, d.time = 0, 0
	info := d.info
	d.mu.Unlock()
	return info, nil
}
