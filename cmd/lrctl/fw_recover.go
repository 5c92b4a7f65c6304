package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"periph.io/x/conn/v3/physic"

	"github.com/lrchip/lrchip/driver/ftdi"
	"github.com/lrchip/lrchip/driver/fwupdate"
	"github.com/lrchip/lrchip/firmware/regmap"
)

func newFwRecoverCmd() *cobra.Command {
	var t trustFlags
	var uri, slot, boardName string
	var slotSize int
	var speed int64
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "recover --ftdi usb:VID:PID[:SERIAL] BUNDLE [--slot A|B] [--key PUB]... [--allow-unsigned] [--board KIND] [--slot-size BYTES] [--speed HZ] [--json]",
		Short: "Write a bundle into a slot through the board's FT2232H, for a board whose FPGA is blank",
		Long: `For a board whose FPGA is blank or runs firmware that cannot flash itself: writes the
bundle into a slot of its configuration flash through the FTDI FT2232H on the board's USB cable
(docs/regmap.md §13; the lab build, -tags gousb), as openFPGALoader does, with the SPI NOR driver
and the slot code of fw flash. It makes fw flash's checks first — form and digest, the signature
against the trusted keys (/etc/lrchip/keys or --key), that the bundle is for the board the
FT2232H is on (its EEPROM says which; --board when it does not) and speaks this host's protocol
major, that it fits a slot — and refuses before the FPGA is touched or anything erased. Then it
holds the FPGA in reset, writes the slot the flash's table would not boot (or --slot; golden
never), reads it back and compares it, and lets the FPGA go: it must configure from the new slot
(CDONE). A power cut leaves the previous firmware (or golden) booting. The kernel's ftdi_sio is
detached from the chip's channel A only, and gets it back after.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := readLimited(args[0])
			if err != nil {
				return err
			}
			o := fwupdate.RecoverOpts{AllowUnsigned: t.allowUnsigned, SlotSize: slotSize, Warn: cmd.ErrOrStderr()}
			if slot != "" {
				if o.Slot, err = parseSlot(slot); err != nil {
					return err
				}
			}
			if boardName != "" {
				if o.Board, err = parseBoard(boardName); err != nil {
					return err
				}
			}
			if slotSize < 0 {
				return fmt.Errorf("fw recover: --slot-size %d", slotSize)
			}
			if o.Keys, err = t.load(); err != nil && !(t.allowUnsigned && errors.Is(err, fwupdate.ErrNoKeys)) {
				return err
			}
			if t.allowUnsigned {
				fmt.Fprintln(cmd.ErrOrStderr(), "WARNING: --allow-unsigned: an unsigned bundle will be written; use it for lab builds only")
			}
			// The bundle's form and signature first: a bad one never reaches the board.
			if _, err := fwupdate.CheckBundle(data, o.Keys, t.allowUnsigned, nil); err != nil {
				return err
			}
			a, err := ftdi.Open(ctxOf(cmd), uri, &ftdi.Opts{Frequency: physic.Frequency(speed) * physic.Hertz})
			if err != nil {
				return err
			}
			defer a.Close()
			var finish func()
			o.Progress, finish = progressTo(cmd.ErrOrStderr())
			res, err := fwupdate.Recover(ctxOf(cmd), a, data, o)
			finish()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if jsonOut {
				return printJSON(out, res)
			}
			fmt.Fprintf(out, "recovered %s: firmware %s (%s) written into slot %s through %s, read back and verified; the FPGA configured from slot %s\n",
				res.Board, res.Version, res.BuildID, res.Slot, res.Port, res.Boots)
			return nil
		},
	}
	t.register(cmd, true)
	f := cmd.Flags()
	f.StringVar(&uri, "ftdi", "", fmt.Sprintf("the board's FT2232H, usb:VID:PID[:SERIAL] (usb:%04x:%04x:SERIAL)", regmap.FTDIVendorID, regmap.FTDIProductID))
	f.StringVar(&slot, "slot", "", "slot to write, A or B (default: the one the flash's table would not boot)")
	f.StringVar(&boardName, "board", "", "the board kind, when the FT2232H's EEPROM does not say (emulator, pcie-board, usb-board)")
	f.IntVar(&slotSize, "slot-size", 0, "bytes per flash slot (default: the board's, docs/regmap.md §13)")
	f.Int64Var(&speed, "speed", int64(ftdi.DefaultFrequency/physic.Hertz), "most SPI clock, Hz")
	f.BoolVar(&jsonOut, "json", false, "print JSON")
	cmd.MarkFlagRequired("ftdi")
	return cmd
}

// progressTo draws a progress bar per stage on w; finish ends the last one.
func progressTo(w io.Writer) (progress func(stage string, done, total int), finish func()) {
	var bar *progressbar.ProgressBar
	cur := ""
	progress = func(stage string, done, total int) {
		if bar == nil || stage != cur {
			cur = stage
			if bar != nil {
				bar.Finish()
			}
			bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(stage),
				progressbar.OptionShowBytes(true), progressbar.OptionSetWidth(30), progressbar.OptionThrottle(100*time.Millisecond))
		}
		bar.Set(done)
	}
	finish = func() {
		if bar != nil {
			bar.Finish()
			fmt.Fprintln(w)
		}
	}
	return progress, finish
}
