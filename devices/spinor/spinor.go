// Package spinor drives an SPI NOR flash of the kind FPGA boards keep their configuration in,
// on a periph.io spi.Conn: JEDEC id, the SFDP basic parameter table when the part has one (a
// table of known parts otherwise), status polling with a timeout, write enable, 4 KiB sector
// erase, 256-byte page program, and 3- or 4-byte addressing. A Dev is a flash.Device, so the
// firmware slots of package flash run on it wherever the SPI bus is: the emulated board's
// firmware, the host over the board protocol's SPI_XFER, or an FTDI adapter.
//
// Opcodes and the known parts are firmware/regmap's.
package spinor

import (
	"errors"
	"fmt"
	"time"

	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/spi"

	"github.com/lrchip/lrchip/firmware/regmap"
	"github.com/lrchip/lrchip/flash"
)

// Sentinel errors; every error of the package reads "spinor: ..." and wraps one of them or
// the connection's error.
var (
	// ErrNoChip: the JEDEC id reads all zeros or all ones: nothing answers.
	ErrNoChip = errors.New("spinor: no flash answers")
	// ErrUnknownPart: a part without SFDP that is not in the table, and no Opts.Size.
	ErrUnknownPart = errors.New("spinor: unknown part")
	// ErrSFDP: an SFDP table that does not decode.
	ErrSFDP = errors.New("spinor: malformed SFDP")
	// ErrTimeout: the status register's WIP bit did not clear in time.
	ErrTimeout = errors.New("spinor: timed out waiting for the flash")
	// ErrWriteEnable: WEL did not set after WRITE ENABLE (a protected or dead part).
	ErrWriteEnable = errors.New("spinor: write enable did not take")
	// ErrRange: an access outside the part, or an unaligned erase.
	ErrRange = errors.New("spinor: out of range")
)

// Defaults of Opts: generous multiples of datasheet maxima (W25Q: 400 ms a sector, 3 ms a
// page), since on a board the status polls travel through a protocol.
const (
	DefaultEraseTimeout   = 2 * time.Second
	DefaultProgramTimeout = 100 * time.Millisecond
	SectorSize            = 4096
	PageSize              = regmap.SPINorPageSize
)

// Opts configures New. The zero value takes everything from the part.
type Opts struct {
	// Size is the part's size in bytes when it has no SFDP and is not in regmap.FlashParts.
	// Default 0: from SFDP or the table; set, it overrides both.
	Size int
	// EraseTimeout bounds one sector erase, ProgramTimeout one page program (and any other
	// wait for WIP). Defaults DefaultEraseTimeout and DefaultProgramTimeout.
	EraseTimeout, ProgramTimeout time.Duration
	// MaxTx bounds the bytes of one transfer. Default: the connection's conn.Limits, else 4 KiB
	// plus the command.
	MaxTx int
}

// JEDECID is what READ ID answers: manufacturer, memory type, capacity code.
type JEDECID [3]byte

func (id JEDECID) String() string { return fmt.Sprintf("%02X %02X %02X", id[0], id[1], id[2]) }

// Dev is an SPI NOR flash. It is not safe for concurrent use (a transaction is several
// transfers).
type Dev struct {
	c        spi.Conn
	opts     Opts
	id       JEDECID
	name     string
	size     int
	sfdp     bool
	fourByte bool // 4-byte opcodes for every access (parts above 16 MiB)
	maxTx    int
}

// New identifies the flash on c (JEDEC id, then SFDP) and returns its driver.
func New(c spi.Conn, opts *Opts) (*Dev, error) {
	d := &Dev{c: c}
	if opts != nil {
		d.opts = *opts
	}
	if d.opts.EraseTimeout <= 0 {
		d.opts.EraseTimeout = DefaultEraseTimeout
	}
	if d.opts.ProgramTimeout <= 0 {
		d.opts.ProgramTimeout = DefaultProgramTimeout
	}
	d.maxTx = d.opts.MaxTx
	if l, ok := c.(conn.Limits); ok && d.maxTx <= 0 {
		d.maxTx = l.MaxTxSize()
	}
	if d.maxTx <= 0 {
		d.maxTx = SectorSize + 8
	}
	if d.maxTx < 16 {
		return nil, fmt.Errorf("spinor: transfers of %d bytes are too small: %w", d.maxTx, ErrRange)
	}
	r := make([]byte, 4)
	if err := c.Tx([]byte{regmap.SPINorReadID, 0, 0, 0}, r); err != nil {
		return nil, fmt.Errorf("spinor: read id: %w", err)
	}
	copy(d.id[:], r[1:])
	if d.id == (JEDECID{}) || d.id == (JEDECID{0xff, 0xff, 0xff}) {
		return nil, fmt.Errorf("spinor: read id: %s: %w", d.id, ErrNoChip)
	}
	p, err := readSFDP(d.readSFDP)
	switch {
	case err == nil:
		d.sfdp, d.size, d.fourByte = true, p.size, p.size > 1<<24 && p.addr4
		d.name = "SFDP part " + d.id.String()
	case errors.Is(err, errNoSFDP):
	default:
		return nil, err
	}
	for _, part := range regmap.FlashParts {
		if JEDECID(part.JEDEC) == d.id {
			d.name = part.Name
			if !d.sfdp {
				d.size, d.fourByte = part.Size, part.Size > 1<<24 && part.FourByte
			}
		}
	}
	if d.opts.Size > 0 {
		d.size = d.opts.Size
		if d.name == "" {
			d.name = "part " + d.id.String()
		}
	}
	if d.size <= 0 {
		return nil, fmt.Errorf("spinor: part %s has no SFDP and is not known (set Opts.Size): %w", d.id, ErrUnknownPart)
	}
	if d.size%SectorSize != 0 || d.size > 1<<30 {
		return nil, fmt.Errorf("spinor: part %s of %d bytes: %w", d.id, d.size, ErrRange)
	}
	if d.size > 1<<24 && !d.fourByte {
		return nil, fmt.Errorf("spinor: part %s of %d bytes needs 4-byte addresses it does not offer: %w", d.id, d.size, ErrUnknownPart)
	}
	return d, nil
}

// ID returns the JEDEC id.
func (d *Dev) ID() JEDECID { return d.id }

// HasSFDP reports whether the part described itself with SFDP.
func (d *Dev) HasSFDP() bool { return d.sfdp }

// Size returns the size in bytes.
func (d *Dev) Size() int { return d.size }

// String names the part.
func (d *Dev) String() string {
	return fmt.Sprintf("%s (%s), %d KiB on %s", d.name, d.id, d.size>>10, d.c)
}

// Halt does nothing: every operation completes before it returns (conn.Resource).
func (d *Dev) Halt() error { return nil }

// Geometry implements flash.Device.
func (d *Dev) Geometry() flash.Geometry { return flash.Geometry{Size: d.size, SectorSize: SectorSize} }

// addrCmd returns op followed by the address, 3 or 4 bytes.
func (d *Dev) addrCmd(op3, op4 byte, off int) []byte {
	if d.fourByte {
		return []byte{op4, byte(off >> 24), byte(off >> 16), byte(off >> 8), byte(off)}
	}
	return []byte{op3, byte(off >> 16), byte(off >> 8), byte(off)}
}

func (d *Dev) check(what string, off, n int) error {
	if off < 0 || n < 0 || off > d.size || n > d.size-off {
		return fmt.Errorf("spinor: %s [%d, %d) outside the %d-byte flash: %w", what, off, off+n, d.size, ErrRange)
	}
	return nil
}

// Read implements flash.Device: READ commands of at most MaxTx bytes each.
func (d *Dev) Read(off int, b []byte) error {
	if err := d.check("read", off, len(b)); err != nil {
		return err
	}
	for len(b) > 0 {
		cmd := d.addrCmd(regmap.SPINorRead, regmap.SPINorRead4B, off)
		n := min(len(b), d.maxTx-len(cmd))
		w := make([]byte, len(cmd)+n)
		copy(w, cmd)
		r := make([]byte, len(w))
		if err := d.c.Tx(w, r); err != nil {
			return fmt.Errorf("spinor: read at %d: %w", off, err)
		}
		copy(b, r[len(cmd):])
		b, off = b[n:], off+n
	}
	return nil
}

// Program implements flash.Device: page programs that never cross a 256-byte page, each
// after WRITE ENABLE and followed by a wait for WIP.
func (d *Dev) Program(off int, b []byte) error {
	if err := d.check("program", off, len(b)); err != nil {
		return err
	}
	for len(b) > 0 {
		n := min(len(b), PageSize-off%PageSize)
		if err := d.writeEnable("program", off); err != nil {
			return err
		}
		cmd := d.addrCmd(regmap.SPINorPP, regmap.SPINorPP4B, off)
		if err := d.c.Tx(append(cmd, b[:n]...), nil); err != nil {
			return fmt.Errorf("spinor: program at %d: %w", off, err)
		}
		if err := d.wait("program", off, d.opts.ProgramTimeout); err != nil {
			return err
		}
		b, off = b[n:], off+n
	}
	return nil
}

// Erase implements flash.Device: one 4 KiB sector erase after another.
func (d *Dev) Erase(off, n int) error {
	if err := d.check("erase", off, n); err != nil {
		return err
	}
	if off%SectorSize != 0 || n%SectorSize != 0 {
		return fmt.Errorf("spinor: erase [%d, %d) is not aligned to the %d-byte sector: %w", off, off+n, SectorSize, ErrRange)
	}
	for end := off + n; off < end; off += SectorSize {
		if err := d.writeEnable("erase", off); err != nil {
			return err
		}
		if err := d.c.Tx(d.addrCmd(regmap.SPINorSE, regmap.SPINorSE4B, off), nil); err != nil {
			return fmt.Errorf("spinor: erase at %d: %w", off, err)
		}
		if err := d.wait("erase", off, d.opts.EraseTimeout); err != nil {
			return err
		}
	}
	return nil
}

// Status reads the status register.
func (d *Dev) Status() (byte, error) {
	r := make([]byte, 2)
	if err := d.c.Tx([]byte{regmap.SPINorRDSR, 0}, r); err != nil {
		return 0, fmt.Errorf("spinor: read status: %w", err)
	}
	return r[1], nil
}

func (d *Dev) writeEnable(what string, off int) error {
	if err := d.c.Tx([]byte{regmap.SPINorWREN}, nil); err != nil {
		return fmt.Errorf("spinor: %s at %d: write enable: %w", what, off, err)
	}
	s, err := d.Status()
	if err != nil {
		return err
	}
	if s&regmap.SPINorStatusWEL == 0 || s&regmap.SPINorStatusWIP != 0 {
		return fmt.Errorf("spinor: %s at %d: status %#02x after write enable: %w", what, off, s, ErrWriteEnable)
	}
	return nil
}

// wait polls the status register until WIP clears or timeout passes. The first polls go
// back to back (a program takes microseconds); then it rests a little between them. Only a
// poll begun after the deadline that still sees WIP times out: a host that was slow to poll
// (a loaded machine, a USB hiccup) does not fail a part that finished meanwhile.
func (d *Dev) wait(what string, off int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for i := 0; ; i++ {
		late := time.Now().After(deadline)
		s, err := d.Status()
		if err != nil {
			return err
		}
		if s&regmap.SPINorStatusWIP == 0 {
			return nil
		}
		if late {
			return fmt.Errorf("spinor: %s at %d: WIP still set after %v: %w", what, off, timeout, ErrTimeout)
		}
		if i >= 32 {
			time.Sleep(min(time.Millisecond, time.Duration(i)*10*time.Microsecond))
		}
	}
}

// readSFDP reads n bytes of the SFDP space at off.
func (d *Dev) readSFDP(off, n int) ([]byte, error) {
	w := make([]byte, 5+n)
	w[0], w[1], w[2], w[3] = regmap.SPINorReadSFDP, byte(off>>16), byte(off>>8), byte(off)
	r := make([]byte, len(w))
	if err := d.c.Tx(w, r); err != nil {
		return nil, fmt.Errorf("spinor: read SFDP at %d: %w", off, err)
	}
	return r[5:], nil
}
