// Package register makes "emu:" openable through the driver: importing it registers the
// driver transport that serves an emulated board (emu/board, the board model around the
// emulator's chip) in this process, so that driver.Open(ctx, "emu:", ...) — lrctl info,
// sensors, validate, load — reaches it through the same protocol core and shared-memory link
// as an emulator process (emu:unix:). The device-level "emu:" (the chip model run directly,
// for network/run, runtime/sched and conformance) is registered by package emu itself.
//
// Front ends import it for its side effect:
//
//	import _ "github.com/lrchip/lrchip/emu/register"
package register

import (
	"context"
	"fmt"

	"github.com/lrchip/lrchip/driver"
	"github.com/lrchip/lrchip/emu/board"
)

func init() {
	driver.RegisterTransport(driver.TransportEmu, func(ctx context.Context, u driver.URI, opts driver.Opts) (driver.Link, error) {
		return Dial(ctx, board.Opts{Size: opts.Size}, opts)
	})
}

// Dial makes a board with bopts and links a driver to it in this process: what the driver's
// emu: transport does, for tests and tools that need a board configured otherwise (its
// flash, power model, versions). Closing the link stops and closes the board.
func Dial(ctx context.Context, bopts board.Opts, opts driver.Opts) (driver.Link, error) {
	b, err := board.New(bopts)
	if err != nil {
		return nil, fmt.Errorf("emu: %w", err)
	}
	return Attach(ctx, b, opts, func() { b.Close() })
}

// Attach links a driver to an existing board in this process. onClose runs after the link
// closes and the board's service has stopped.
func Attach(ctx context.Context, b *board.Board, opts driver.Opts, onClose func()) (driver.Link, error) {
	conn, stop, err := b.Pipe()
	if err != nil {
		if onClose != nil {
			onClose()
		}
		return nil, fmt.Errorf("emu: %w", err)
	}
	l, err := driver.DialShm(ctx, conn, opts, driver.TransportEmu+":", func() {
		stop()
		if onClose != nil {
			onClose()
		}
	})
	if err != nil {
		conn.Close()
		stop()
		if onClose != nil {
			onClose()
		}
		return nil, err
	}
	return l, nil
}
