package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/lrchip/lrchip/emu/board"
	"github.com/lrchip/lrchip/emu/usbdev"
	"github.com/lrchip/lrchip/firmware/regmap"
)

// serveUSB serves an emulated USB board (lrctl emu serve --usb), with its FT2232H if ftdi,
// until ctx ends.
func serveUSB(ctx context.Context, w io.Writer, opts board.Opts, speed, envFile string, ftdi bool) error {
	var sp regmap.USBSpeed
	switch speed {
	case "super":
		sp = regmap.USBSuperSpeed
	case "high":
		sp = regmap.USBHighSpeed
	default:
		return fmt.Errorf("emu serve: --speed %q: want high or super", speed)
	}
	tb, err := usbdev.NewTestbed()
	if err != nil {
		return fmt.Errorf("emu serve --usb: %w", err)
	}
	defer tb.Close()
	opts.Kind = regmap.BoardUSB
	if ftdi {
		if opts.Flash, err = recoveryFlash(); err != nil {
			return err
		}
	}
	b, err := board.New(opts)
	if err != nil {
		return err
	}
	defer b.Close()
	f, err := usbdev.New(b, usbdev.Opts{Speed: sp})
	if err != nil {
		return err
	}
	defer f.Close()
	if err := tb.Plug(f); err != nil {
		return err
	}
	env := tb.Env("")
	fmt.Fprintf(w, "serving %s as usb:%04x:%04x:%s (%s, %s)\n", b, regmap.USBVendorID, regmap.USBProductID, f.Serial(), f.DevNode(), sp)
	if ftdi {
		chip, err := plugFTDI(w, tb, b, b.Identity().Serial)
		if err != nil {
			return err
		}
		defer func() {
			tb.Remove(chip)
			chip.Close()
		}()
	}
	fmt.Fprintf(w, "clients run with: env %s COMMAND\n", strings.Join(env, " "))
	if envFile != "" {
		var s strings.Builder
		for _, e := range env {
			k, v, _ := strings.Cut(e, "=")
			fmt.Fprintf(&s, "export %s='%s'\n", k, v)
		}
		// Written whole, then renamed: a script waiting for the file never reads half of it.
		tmp := filepath.Join(filepath.Dir(envFile), "."+filepath.Base(envFile)+".tmp")
		if err := os.WriteFile(tmp, []byte(s.String()), 0o644); err != nil {
			return err
		}
		if err := os.Rename(tmp, envFile); err != nil {
			return err
		}
		defer os.Remove(envFile)
	}
	<-ctx.Done()
	tb.Remove(f)
	return nil
}
