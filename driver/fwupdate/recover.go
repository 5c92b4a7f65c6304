package fwupdate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"periph.io/x/conn/v3/spi"

	"github.com/lrchip/lrchip/devices/spinor"
	"github.com/lrchip/lrchip/driver"
	"github.com/lrchip/lrchip/firmware/regmap"
	"github.com/lrchip/lrchip/flash"
)

// RecoveryPort is a way to a board's configuration flash that needs no working FPGA: the
// FT2232H on the board's USB cable (driver/ftdi.Adapter), which masters the flash's SPI bus
// while it holds the FPGA in reset (docs/regmap.md §13).
type RecoveryPort interface {
	fmt.Stringer
	// Board is the board the port is on and how that board lays out its slots (slotSize 0:
	// package flash's default layout); ok is false when the port cannot tell.
	Board() (kind regmap.BoardKind, slotSize int, ok bool)
	// HoldReset holds the FPGA in reset, so that the port masters the flash, or releases it,
	// so that it configures from the flash.
	HoldReset(hold bool) error
	// Configured reads the FPGA's CDONE: true once it configured.
	Configured() (bool, error)
	// SPI is the flash's SPI bus (while the FPGA is held), its transfers bounded by ctx.
	SPI(ctx context.Context) (spi.Conn, error)
}

// DefaultConfigTimeout is RecoverOpts.ConfigTimeout's default.
const DefaultConfigTimeout = 5 * time.Second

// RecoverOpts configures Recover.
type RecoverOpts struct {
	// Slot is the slot to write, A or B; 0 (golden, never written): the one the slot table
	// would not boot, so that the newest valid firmware survives.
	Slot          flash.Slot
	Keys          []Key
	AllowUnsigned bool
	// Board is the board the port is on, for a port that cannot tell (an FT2232H whose
	// EEPROM is not an lrchip board's); 0: the port's. It must agree with the port's when
	// both are known.
	Board regmap.BoardKind
	// SlotSize overrides the board's slot size in bytes (0: the board's, regmap.FTDIBoards).
	SlotSize int
	// Flash configures the SPI NOR driver (its timeouts); zero: its defaults.
	Flash spinor.Opts
	// ConfigTimeout bounds the wait for CDONE after the release (an FPGA takes up to seconds
	// to load a large bitstream). Default DefaultConfigTimeout.
	ConfigTimeout time.Duration
	// Progress is told how far "write" and "verify" are.
	Progress func(stage string, done, total int)
	// Warn is where the loud words go (nil: nowhere).
	Warn io.Writer
}

// RecoverResult says what Recover did.
type RecoverResult struct {
	Port    string           `json:"port"`
	Board   regmap.BoardKind `json:"board"`
	Flash   string           `json:"flash"` // the part the SPI NOR driver found
	Slot    string           `json:"slot"`
	Version regmap.FWVersion `json:"version"`
	BuildID string           `json:"build_id"`
	Signed  bool             `json:"signed"`
	// Boots is the slot the flash's table boots now; Configured, whether the FPGA raised
	// CDONE once released.
	Boots      string `json:"boots"`
	Configured bool   `json:"configured"`
}

// Recover writes a bundle into a slot of a board's flash through a recovery port, for a
// board whose FPGA is blank or runs firmware that cannot flash itself. It makes the checks
// Flash makes (signature against the trusted keys, board, the protocol major this host
// speaks, size; the golden slot is never written) before the FPGA is touched or anything
// erased; then it holds the FPGA in reset, writes the slot through the SPI NOR driver and
// package flash (header erased first, written last: a power cut leaves the previous
// firmware or golden booting), reads it back, and releases the FPGA, which must configure
// (CDONE). The FPGA is released whatever happens.
func Recover(ctx context.Context, p RecoveryPort, data []byte, o RecoverOpts) (res RecoverResult, err error) {
	res.Port = p.String()
	kind, slotSize, known := p.Board()
	switch {
	case o.Board != 0 && known && o.Board != kind:
		return res, fmt.Errorf("fwupdate: %s is on a %s, not a %s: %w", p, kind, o.Board, ErrRefused)
	case o.Board != 0 && !known:
		kind = o.Board
		for _, b := range regmap.FTDIBoards {
			if b.Board == kind {
				slotSize = b.SlotSize
			}
		}
	case !known:
		return res, fmt.Errorf("fwupdate: %s does not say which board it is on (its EEPROM is not an lrchip board's): name the board kind if you know it: %w", p, ErrRefused)
	}
	if o.SlotSize != 0 {
		slotSize = o.SlotSize
	}
	res.Board = kind
	// The firmware must speak the protocol this host speaks: nothing else can talk to it.
	chk, err := CheckBundle(data, o.Keys, o.AllowUnsigned, &driver.Info{Board: kind, Protocol: regmap.ProtocolVersion})
	if err != nil {
		return res, err
	}
	if chk.Warning != "" && o.Warn != nil {
		fmt.Fprintln(o.Warn, chk.Warning)
	}
	b := chk.Bundle
	res.Version, res.BuildID, res.Signed = b.Version, b.BuildID, chk.Signed
	if o.Slot != flash.Golden && o.Slot != flash.A && o.Slot != flash.B {
		return res, fmt.Errorf("fwupdate: slot %v: only A or B is written: %w", o.Slot, ErrRefused)
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}

	// Nothing was touched so far. From here the FPGA is held, and released on the way out.
	if err := p.HoldReset(true); err != nil {
		return res, fmt.Errorf("fwupdate: holding the FPGA in reset: %w", err)
	}
	released := false
	defer func() {
		if !released {
			if rerr := p.HoldReset(false); rerr != nil {
				err = errors.Join(err, fmt.Errorf("fwupdate: releasing the FPGA: %w", rerr))
			}
		}
	}()
	conn, err := p.SPI(ctx)
	if err != nil {
		return res, fmt.Errorf("fwupdate: %w", err)
	}
	nor, err := spinor.New(conn, &o.Flash)
	if err != nil {
		return res, fmt.Errorf("fwupdate: the flash behind %s: %w", p, err)
	}
	res.Flash = nor.String()
	s, err := flash.NewSlots(nor, flash.Opts{SlotSize: slotSize})
	if err != nil {
		return res, fmt.Errorf("fwupdate: the flash behind %s: %w", p, err)
	}
	if len(data) > s.MaxFirmware() {
		return res, fmt.Errorf("fwupdate: a %d-byte bundle does not fit a slot (%d bytes): %w", len(data), s.MaxFirmware(), ErrRefused)
	}
	target := o.Slot
	if target == flash.Golden {
		target = s.Table().Spare(flash.Golden)
	}
	res.Slot = target.String()
	progress := func(stage string) func(int, int) {
		if o.Progress == nil {
			return nil
		}
		return func(done, total int) { o.Progress(stage, done, total) }
	}
	if err := writeSlot(ctx, s, target, b.Version, data, progress("write")); err != nil {
		return res, fmt.Errorf("fwupdate: writing slot %v: %w", target, err)
	}
	if err := readBack(nor, s.SlotSize(), target, data, progress("verify")); err != nil {
		return res, err
	}
	boot, ok := s.Boot()
	res.Boots = boot.Slot.String()
	if !ok || boot.Slot != target || boot.Header.Version != b.Version {
		return res, fmt.Errorf("fwupdate: verify: the slot table boots slot %v (firmware %s), not slot %v with %s: %w", boot.Slot, boot.Header.Version, target, b.Version, ErrVerify)
	}
	released = true
	if err := p.HoldReset(false); err != nil {
		return res, fmt.Errorf("fwupdate: releasing the FPGA: %w", err)
	}
	if res.Configured, err = waitConfigured(ctx, p, o.ConfigTimeout); err != nil {
		return res, fmt.Errorf("fwupdate: reading CDONE: %w", err)
	}
	if !res.Configured {
		return res, fmt.Errorf("fwupdate: slot %v is written and verified, but the FPGA did not configure (CDONE low): %w", target, ErrVerify)
	}
	return res, nil
}

// waitConfigured polls CDONE until it is high, the timeout passes or ctx ends.
func waitConfigured(ctx context.Context, p RecoveryPort, timeout time.Duration) (bool, error) {
	if timeout <= 0 {
		timeout = DefaultConfigTimeout
	}
	deadline := time.Now().Add(timeout)
	for {
		done, err := p.Configured()
		if err != nil || done || time.Now().After(deadline) {
			return done, err
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}
