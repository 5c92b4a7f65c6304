package usbdev

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/lrchip/lrchip/emu/board"
	"github.com/lrchip/lrchip/firmware/regmap"
)

// setup is a control request's setup packet.
type setup struct {
	typ    uint8 // bmRequestType
	req    uint8 // bRequest
	value  uint16
	index  uint16
	length uint16
}

const (
	recipDevice   = 0
	recipIntf     = 1
	recipEndpoint = 2
	typeStandard  = 0x00
	typeVendor    = 0x40
)

func parseSetup(b []byte) setup {
	return setup{typ: b[0], req: b[1], value: le.Uint16(b[2:]), index: le.Uint16(b[4:]), length: le.Uint16(b[6:])}
}

func (s setup) recipient() uint8 { return s.typ & 0x1f }
func (s setup) kind() uint8      { return s.typ & 0x60 }
func (s setup) in() bool         { return s.typ&regmap.USBDirIn != 0 }

func (s setup) String() string {
	return fmt.Sprintf("request %#02x/%#02x value %#04x index %#04x length %d", s.typ, s.req, s.value, s.index, s.length)
}

// errStall is a request the function refuses: the control URB fails with EPIPE.
var errStall = errors.New("usbdev: stall")

func stall(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), errStall)
}

// ep0Worker answers control URBs, in order, off the transport's thread: a request may wait
// (ATTACH waits for the previous session to end).
func (f *Function) ep0Worker() {
	defer f.wg.Done()
	for {
		f.mu.Lock()
		for (len(f.ep0) == 0 || f.hung) && f.ctx.Err() == nil {
			f.cond.Wait()
		}
		if f.ctx.Err() != nil {
			f.mu.Unlock()
			return
		}
		u := f.ep0[0]
		f.mu.Unlock()
		data, err := f.control(u.c, u.setup, u.data)
		f.mu.Lock()
		// It may have been discarded, or the device unplugged, meanwhile.
		if len(f.ep0) > 0 && f.ep0[0] == u {
			f.ep0 = f.ep0[1:]
		}
		switch {
		case u.done:
		case err != nil:
			f.completeLocked(u, -int32(syscall.EPIPE), 0)
		default:
			n := copy(u.dataBuf(), data)
			f.completeLocked(u, 0, n)
		}
		f.cond.Broadcast()
		f.mu.Unlock()
	}
}

// control answers one request: the data of an IN request (truncated to wLength by the
// caller), or errStall.
func (f *Function) control(c *client, s setup, data []byte) ([]byte, error) {
	switch s.kind() {
	case typeStandard:
		return f.standard(c, s)
	case typeVendor:
		if s.recipient() != recipDevice {
			return nil, stall("vendor %v: not to the device", s)
		}
		return f.vendor(c, s, data)
	}
	return nil, stall("%v: class requests are not supported", s)
}

func (f *Function) standard(c *client, s setup) ([]byte, error) {
	sp := f.opts.Speed
	switch {
	case s.typ == 0x80 && s.req == regmap.USBReqGetDescriptor:
		idx := int(s.value & 0xff)
		switch s.value >> 8 {
		case regmap.USBDescDevice:
			return regmap.USBDeviceDescriptorBytes(sp), nil
		case regmap.USBDescConfig:
			if idx != 0 {
				return nil, stall("no configuration %d", idx)
			}
			return regmap.USBConfigDescriptorBytes(sp), nil
		case regmap.USBDescBOS:
			return regmap.USBBOSDescriptorBytes(sp), nil
		case regmap.USBDescString:
			if idx == 0 {
				return regmap.USBLanguages(), nil
			}
			if s.index != regmap.USBLangID {
				return nil, stall("string %d in language %#04x", idx, s.index)
			}
			str, ok := regmap.USBStrings[idx]
			if idx == regmap.USBStrSerial {
				str, ok = regmap.USBSerialString(f.b.Identity().Serial), true
			}
			if !ok {
				return nil, stall("no string %d", idx)
			}
			return regmap.USBStringDescriptor(str), nil
		}
		return nil, stall("no descriptor of type %#02x", s.value>>8)
	case s.typ == 0x80 && s.req == regmap.USBReqGetStatus:
		return []byte{1, 0}, nil // self-powered
	case s.typ == 0x81 && s.req == regmap.USBReqGetStatus:
		return []byte{0, 0}, nil
	case s.typ == 0x82 && s.req == regmap.USBReqGetStatus:
		f.mu.Lock()
		h := f.halted[uint8(s.index)]
		f.mu.Unlock()
		if h {
			return []byte{1, 0}, nil
		}
		return []byte{0, 0}, nil
	case s.typ == 0x80 && s.req == regmap.USBReqGetConfig:
		return []byte{regmap.USBConfigValue}, nil
	case s.typ == 0x00 && s.req == regmap.USBReqSetConfig:
		if s.value != regmap.USBConfigValue && s.value != 0 {
			return nil, stall("no configuration %d", s.value)
		}
		return nil, nil
	case s.typ == 0x81 && s.req == regmap.USBReqGetInterface:
		return []byte{0}, nil
	case s.typ == 0x01 && s.req == regmap.USBReqSetInterface:
		if s.index != regmap.USBInterface || s.value != 0 {
			return nil, stall("no interface %d setting %d", s.index, s.value)
		}
		return nil, nil
	case s.typ == 0x02 && s.req == regmap.USBReqClearFeature && s.value == regmap.USBFeatureEndpointHalt:
		ep := uint8(s.index)
		if ep != regmap.USBEndpointIn && ep != regmap.USBEndpointOut {
			return nil, stall("no endpoint %#02x", ep)
		}
		f.mu.Lock()
		f.haltClearedLocked(ep)
		f.mu.Unlock()
		return nil, nil
	}
	return nil, stall("standard %v not supported", s)
}

func (f *Function) vendor(c *client, s setup, data []byte) ([]byte, error) {
	switch regmap.USBRequest(s.req) {
	case regmap.USBReqRegRead:
		if !s.in() {
			return nil, stall("REG_READ is an IN request")
		}
		if err := regmap.CheckRegRequest(uint32(s.index), int(s.length)); err != nil {
			return nil, stall("REG_READ: %v", err)
		}
		return f.readRegs(uint32(s.index), int(s.length)/4), nil
	case regmap.USBReqRegWrite:
		if s.in() || s.length != 4 || len(data) != 4 {
			return nil, stall("REG_WRITE takes 4 bytes")
		}
		if err := regmap.CheckRegRequest(uint32(s.index), 4); err != nil {
			return nil, stall("REG_WRITE: %v", err)
		}
		f.writeReg(uint32(s.index), le.Uint32(data))
		return nil, nil
	case regmap.USBReqIdentity:
		if !s.in() || s.length != regmap.USBIdentitySize {
			return nil, stall("IDENTITY returns %d bytes", regmap.USBIdentitySize)
		}
		return f.identity().Append(nil), nil
	case regmap.USBReqAttach:
		if s.in() || int(s.length) != regmap.USBAttachSize || len(data) != regmap.USBAttachSize {
			return nil, stall("ATTACH takes %d bytes", regmap.USBAttachSize)
		}
		a, err := regmap.DecodeUSBAttach(data)
		if err != nil {
			return nil, stall("ATTACH: %v", err)
		}
		if a.Version.Major() != regmap.ProtocolVersion.Major() {
			return nil, stall("ATTACH: host speaks protocol %s, the board %s", a.Version, regmap.ProtocolVersion)
		}
		if err := f.attach(c, a); err != nil {
			return nil, stall("ATTACH: %v", err)
		}
		return nil, nil
	case regmap.USBReqDetach:
		if s.in() || s.length != 0 {
			return nil, stall("DETACH takes no data")
		}
		f.endSession(nil)
		return nil, nil
	}
	return nil, stall("vendor request %#02x not supported", s.req)
}

// pairs are the 64-bit registers: reading LO alone latches HI.
func isPairLo(off uint32) bool {
	switch off {
	case regmap.RegSerialLo, regmap.RegTimestepLo, regmap.RegBulkBaseLo:
		return true
	}
	return off >= regmap.RegRingBase && off < regmap.RegRingBase+regmap.NumRings*regmap.RingRegStride && (off-regmap.RegRingBase)%regmap.RingRegStride == 0
}

// readRegs reads n registers from off; pairs inside the range are read with one load, and
// a LO read alone latches its HI.
func (f *Function) readRegs(off uint32, n int) []byte {
	out := make([]byte, 0, 4*n)
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := 0; i < n; i++ {
		o := off + uint32(4*i)
		switch {
		case isPairLo(o):
			v, _ := f.b.ReadReg64(o) // o was checked: aligned, in the register file
			out = le.AppendUint32(out, uint32(v))
			if i+1 < n {
				out = le.AppendUint32(out, uint32(v>>32))
				i++
			} else {
				f.latch[o] = uint32(v >> 32)
			}
		case isPairLo(o - 4):
			v, ok := f.latch[o-4]
			if !ok {
				v, _ = f.b.ReadReg(o)
			}
			out = le.AppendUint32(out, v)
		default:
			v, _ := f.b.ReadReg(o)
			out = le.AppendUint32(out, v)
		}
	}
	return out
}

// writeReg writes a register for the host. The bridge owns the interrupt registers.
func (f *Function) writeReg(off, v uint32) {
	if off == regmap.RegIRQMask || off == regmap.RegIRQStatus {
		return
	}
	// The offset was checked; CONTROL.ATTACH is PCIe's (its DMA windows), not the bridge's.
	if off == regmap.RegControl {
		v &^= regmap.ControlAttach
	}
	e, _ := f.b.WriteReg(off, v)
	f.mu.Lock()
	s := f.sess
	f.mu.Unlock()
	if s != nil && e&board.EffectWake != 0 {
		s.wakeEngine()
	}
}

func (f *Function) identity() regmap.USBIdentity {
	r := f.b.Identity()
	id := regmap.USBIdentity{Version: r.Version, BoardID: r.BoardID, FWVersion: r.FWVersion, Serial: r.Serial, Cores: r.Cores, Neurons: r.Neurons}
	f.mu.Lock()
	if s := f.sess; s != nil {
		id.Attached, id.HolderPID, id.HolderComm, id.MaxFrame = true, uint32(s.host.PID), s.host.Comm, uint32(s.dec.Max[regmap.RingCmd])
	}
	f.mu.Unlock()
	return id
}
