package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/lrchip/lrchip/driver/fwupdate"
	"github.com/lrchip/lrchip/firmware/bundle"
	"github.com/lrchip/lrchip/firmware/regmap"
	"github.com/lrchip/lrchip/flash"
)

func newFwCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "fw",
		Short: "Firmware bundles: make keys, build, sign, verify, inspect; a board's slots: status, flash, boot, rollback, recover",
	}
	cmd.AddCommand(newFwKeygenCmd(), newFwBuildCmd(), newFwSignCmd(), newFwVerifyCmd(), newFwInspectCmd(),
		newFwStatusCmd(), newFwFlashCmd(), newFwBootCmd(), newFwRollbackCmd(), newFwRecoverCmd())
	return cmd
}

func newFwKeygenCmd() *cobra.Command {
	var dir, comment string
	cmd := &cobra.Command{
		Use:   "keygen NAME [--dir DIR] [--comment TEXT]",
		Short: "Make an Ed25519 key pair: NAME.key (private, mode 0600) and NAME.pub (install it in /etc/lrchip/keys)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pub, priv, err := bundle.GenerateKey(rand.Reader)
			if err != nil {
				return err
			}
			base := filepath.Join(dir, args[0])
			if _, err := os.Stat(base + ".key"); err == nil {
				return fmt.Errorf("fw keygen: %s.key exists: not overwriting a key", base)
			}
			if err := os.WriteFile(base+".key", []byte(bundle.FormatPrivateKey(priv)), 0o600); err != nil {
				return err
			}
			if comment == "" {
				comment = args[0]
			}
			if err := os.WriteFile(base+".pub", []byte(bundle.FormatPublicKey(pub, comment)), 0o644); err != nil {
				return err
			}
			id := bundle.KeyID(pub)
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s.key and %s.pub (key id %x)\n", base, base, id)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", ".", "directory for the key files")
	cmd.Flags().StringVar(&comment, "comment", "", "comment in the public key file (default: NAME)")
	return cmd
}

func parseBoard(s string) (regmap.BoardKind, error) {
	for _, k := range []regmap.BoardKind{regmap.BoardEmulator, regmap.BoardPCIe, regmap.BoardUSB} {
		if s == k.String() {
			return k, nil
		}
	}
	if n, err := strconv.ParseUint(s, 10, 32); err == nil && n > 0 {
		return regmap.BoardKind(n), nil
	}
	return 0, fmt.Errorf("board %q: want emulator, pcie-board, usb-board or a BOARD_ID number", s)
}

func parseProtocol(s string) (regmap.Version, error) {
	var a, b uint16
	if n, err := fmt.Sscanf(s, "%d.%d", &a, &b); err != nil || n != 2 || fmt.Sprintf("%d.%d", a, b) != s {
		return 0, fmt.Errorf("protocol %q: want MAJOR.MINOR", s)
	}
	return regmap.MakeVersion(a, b), nil
}

func newFwBuildCmd() *cobra.Command {
	var boardName, proto, version, buildID, bitstream, softcore, out string
	cmd := &cobra.Command{
		Use:   "build --bitstream FILE [--softcore FILE] --version X.Y.Z [--board KIND] [--protocol M.N] [--build-id ID] -o BUNDLE",
		Short: "Build an (unsigned) firmware bundle from a bitstream and soft-core firmware",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, err := parseBoard(boardName)
			if err != nil {
				return err
			}
			pv, err := parseProtocol(proto)
			if err != nil {
				return err
			}
			v, err := regmap.ParseFWVersion(version)
			if err != nil {
				return err
			}
			b := &bundle.Bundle{Header: bundle.Header{Board: kind, Protocol: pv, Version: v, BuildID: buildID, Created: time.Now().UTC()}}
			if b.Bitstream, err = readLimited(bitstream); err != nil {
				return err
			}
			if softcore != "" {
				if b.Softcore, err = readLimited(softcore); err != nil {
					return err
				}
			}
			data, err := b.MarshalBinary()
			if err != nil {
				return err
			}
			if err := os.WriteFile(out, data, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %s firmware %s for %s, %d bytes, unsigned (lrctl fw sign)\n", out, buildID, v, kind, len(data))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&boardName, "board", "emulator", "board kind it is for (emulator, pcie-board, usb-board)")
	f.StringVar(&proto, "protocol", regmap.ProtocolVersion.String(), "protocol version the firmware speaks")
	f.StringVar(&version, "version", "", "firmware version MAJOR.MINOR.PATCH")
	f.StringVar(&buildID, "build-id", "", "build id (at most 32 bytes)")
	f.StringVar(&bitstream, "bitstream", "", "FPGA bitstream file")
	f.StringVar(&softcore, "softcore", "", "soft-core firmware file")
	f.StringVarP(&out, "output", "o", "", "bundle to write")
	for _, n := range []string{"version", "bitstream", "output"} {
		cmd.MarkFlagRequired(n)
	}
	return cmd
}

// readLimited reads a file of at most bundle.MaxSize bytes.
func readLimited(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > bundle.MaxSize {
		return nil, fmt.Errorf("%s: %d bytes, more than a bundle holds (%d)", path, st.Size(), bundle.MaxSize)
	}
	return os.ReadFile(path)
}

func readBundle(path string) ([]byte, *bundle.Bundle, error) {
	data, err := readLimited(path)
	if err != nil {
		return nil, nil, err
	}
	b, err := bundle.Decode(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return data, b, nil
}

func newFwSignCmd() *cobra.Command {
	var key, out string
	cmd := &cobra.Command{
		Use:   "sign BUNDLE --key NAME.key [-o OUT]",
		Short: "Sign a bundle with a private key (in place unless -o)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, b, err := readBundle(args[0])
			if err != nil {
				return err
			}
			kb, err := os.ReadFile(key)
			if err != nil {
				return err
			}
			priv, err := bundle.ParsePrivateKey(kb)
			if err != nil {
				return fmt.Errorf("%s: %w", key, err)
			}
			if err := b.Sign(priv); err != nil {
				return err
			}
			data, err := b.MarshalBinary()
			if err != nil {
				return err
			}
			if out == "" {
				out = args[0]
			}
			if err := os.WriteFile(out, data, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "signed %s with key %x\n", out, b.Signature.KeyID)
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "private key file (from lrctl fw keygen)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "signed bundle to write (default: in place)")
	cmd.MarkFlagRequired("key")
	return cmd
}

// trustFlags are the trusted keys.
type trustFlags struct {
	keys          []string
	allowUnsigned bool
}

func (t *trustFlags) register(cmd *cobra.Command, unsigned bool) {
	cmd.Flags().StringArrayVar(&t.keys, "key", nil, "trusted public key file or directory of *.pub (repeatable; default "+fwupdate.DefaultKeyDir+")")
	if unsigned {
		cmd.Flags().BoolVar(&t.allowUnsigned, "allow-unsigned", false, "flash an unsigned bundle (lab builds only; said loudly)")
	}
}

func (t *trustFlags) load() ([]fwupdate.Key, error) { return fwupdate.LoadKeys(t.keys...) }

func newFwVerifyCmd() *cobra.Command {
	var t trustFlags
	cmd := &cobra.Command{
		Use:   "verify BUNDLE [--key PUB]...",
		Short: "Check a bundle's form, digest and signature against the trusted keys",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := readLimited(args[0])
			if err != nil {
				return err
			}
			keys, err := t.load()
			if err != nil {
				return err
			}
			c, err := fwupdate.CheckBundle(data, keys, false, nil)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: good signature by %s; firmware %s for %s\n", args[0], c.SignedBy, c.Bundle.Version, c.Bundle.Board)
			return nil
		},
	}
	t.register(cmd, false)
	return cmd
}

func newFwInspectCmd() *cobra.Command {
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "inspect BUNDLE [--json]",
		Short: "Show what a bundle holds (no signature check: fw verify)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, b, err := readBundle(args[0])
			if err != nil {
				return err
			}
			d := b.Digest()
			type view struct {
				bundle.Header
				Size      int    `json:"size"`
				Bitstream int    `json:"bitstream_bytes"`
				Softcore  int    `json:"softcore_bytes"`
				SHA256    string `json:"payload_sha256"`
				KeyID     string `json:"key_id,omitempty"`
			}
			v := view{Header: b.Header, Size: len(data), Bitstream: len(b.Bitstream), Softcore: len(b.Softcore), SHA256: fmt.Sprintf("%x", d)}
			if b.Signature != nil {
				v.KeyID = fmt.Sprintf("%x", b.Signature.KeyID)
			}
			out := cmd.OutOrStdout()
			if jsonOut {
				return printJSON(out, v)
			}
			signed := "unsigned"
			if v.KeyID != "" {
				signed = "signed by key " + v.KeyID
			}
			table(out, [][]string{
				{"board", b.Board.String()}, {"protocol", b.Protocol.String()}, {"firmware", b.Version.String()},
				{"build id", b.BuildID}, {"created", b.Created.Format(time.RFC3339)},
				{"bitstream", fmt.Sprintf("%d bytes", len(b.Bitstream))}, {"soft core", fmt.Sprintf("%d bytes", len(b.Softcore))},
				{"sha-256", v.SHA256}, {"signature", signed}, {"size", fmt.Sprintf("%d bytes", len(data))},
			})
			return nil
		},
	}
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print JSON")
	return cmd
}

func newFwStatusCmd() *cobra.Command {
	var f deviceFlags
	cmd := &cobra.Command{
		Use:   "status [--device URI] [--json]",
		Short: "Show a board's firmware slots, versions, sequence numbers, which one booted and why",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := f.open(cmd)
			if err != nil {
				return err
			}
			defer d.Close()
			st, err := fwupdate.ReadStatus(ctxOf(cmd), d)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if f.jsonOut {
				return printJSON(out, st)
			}
			printStatus(out, st)
			return nil
		},
	}
	f.register(cmd)
	return cmd
}

func printStatus(out interface{ Write([]byte) (int, error) }, st fwupdate.Status) {
	rows := [][]string{{"SLOT", "VALID", "VERSION", "SEQ", "SIZE", "BUILD", "", "WHY"}}
	for _, s := range st.Slots {
		mark := ""
		if s.Booted {
			mark = "booted"
		}
		if s.Next && !s.Booted {
			mark = "next boot"
		}
		valid, v, seq, size := "no", "", "", ""
		if s.Valid {
			valid, v, seq, size = "yes", s.Version.String(), fmt.Sprint(s.Seq), fmt.Sprint(s.Size)
		}
		build := ""
		if s.Bundle != nil {
			build = s.Bundle.BuildID
		}
		rows = append(rows, []string{s.Slot, valid, v, seq, size, build, mark, s.Why})
	}
	table(out, rows)
	fmt.Fprintf(out, "booted %s (firmware %s): %s\n", st.Booted, st.Firmware, st.Reason)
}

func parseSlot(s string) (flash.Slot, error) {
	switch strings.ToUpper(s) {
	case "A":
		return flash.A, nil
	case "B":
		return flash.B, nil
	case "GOLDEN":
		return flash.Golden, fmt.Errorf("slot golden: it is never written")
	}
	return 0, fmt.Errorf("slot %q: want A or B", s)
}

func newFwFlashCmd() *cobra.Command {
	var f deviceFlags
	var t trustFlags
	var slot, via string
	var noReboot bool
	cmd := &cobra.Command{
		Use:   "flash BUNDLE [--device URI] [--slot A|B] [--key PUB]... [--allow-unsigned] [--via board|spi] [--no-reboot]",
		Short: "Write a signed bundle into the inactive slot, read it back, and boot it",
		Long: `Checks the bundle first — its form and digest, its signature against the trusted keys
(/etc/lrchip/keys or --key), that it is for this kind of board and a protocol major this host
speaks, that it fits a slot — and refuses before anything is erased. Then it writes the slot
the board is not running (or --slot), reads it back and compares it, and reboots the board into
it; the slot becomes the one that boots only once its header is written, after the board has
verified its firmware. The golden slot is never written. --via spi writes from the host through
the SPI NOR driver on the board's SPI bus instead of the board's FLASH commands.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := readLimited(args[0])
			if err != nil {
				return err
			}
			o := fwupdate.Opts{AllowUnsigned: t.allowUnsigned, Via: fwupdate.Via(via), NoReboot: noReboot, Warn: cmd.ErrOrStderr()}
			if slot != "" {
				if o.Slot, err = parseSlot(slot); err != nil {
					return err
				}
			}
			if o.Keys, err = t.load(); err != nil && !(t.allowUnsigned && errors.Is(err, fwupdate.ErrNoKeys)) {
				return err
			}
			if t.allowUnsigned {
				fmt.Fprintln(cmd.ErrOrStderr(), "WARNING: --allow-unsigned: an unsigned bundle will be flashed; use it for lab builds only")
			}
			d, err := f.open(cmd)
			if err != nil {
				return err
			}
			defer d.Close()
			var bar *progressbar.ProgressBar
			cur := ""
			o.Progress = func(stage string, done, total int) {
				if bar == nil || stage != cur {
					cur = stage
					if bar != nil {
						bar.Finish()
					}
					bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(cmd.ErrOrStderr()), progressbar.OptionSetDescription(stage),
						progressbar.OptionShowBytes(true), progressbar.OptionSetWidth(30), progressbar.OptionThrottle(100*time.Millisecond))
				}
				bar.Set(done)
			}
			res, err := fwupdate.Flash(ctxOf(cmd), d, data, o)
			if bar != nil {
				bar.Finish()
				fmt.Fprintln(cmd.ErrOrStderr())
			}
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if f.jsonOut {
				return printJSON(out, res)
			}
			fmt.Fprintf(out, "flashed firmware %s (%s) into slot %s, read back and verified", res.Version, res.BuildID, res.Slot)
			if res.Booted != "" {
				fmt.Fprintf(out, "; booted slot %s", res.Booted)
			}
			fmt.Fprintln(out)
			return nil
		},
	}
	f.register(cmd)
	t.register(cmd, true)
	cmd.Flags().StringVar(&slot, "slot", "", "slot to write, A or B (default: the one not running)")
	cmd.Flags().StringVar(&via, "via", "board", "who writes the slot: board (its FLASH commands) or spi (this host, over the board's SPI bus)")
	cmd.Flags().BoolVar(&noReboot, "no-reboot", false, "write and verify, but do not reboot")
	return cmd
}

func newFwBootCmd() *cobra.Command {
	var f deviceFlags
	cmd := &cobra.Command{
		Use:   "boot A|B [--device URI]",
		Short: "Make a valid slot the one that boots, and reboot into it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := parseSlot(args[0])
			if err != nil {
				return err
			}
			d, err := f.open(cmd)
			if err != nil {
				return err
			}
			defer d.Close()
			info, err := fwupdate.Boot(ctxOf(cmd), d, s)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "booted slot %s, firmware %s\n", flash.Slot(info.FirmwareSlot), info.Firmware)
			return nil
		},
	}
	f.register(cmd)
	return cmd
}

func newFwRollbackCmd() *cobra.Command {
	var f deviceFlags
	var toGolden bool
	cmd := &cobra.Command{
		Use:   "rollback [--to-golden] [--device URI]",
		Short: "Boot the other valid slot (the firmware before this one)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := f.open(cmd)
			if err != nil {
				return err
			}
			defer d.Close()
			info, err := fwupdate.Rollback(ctxOf(cmd), d, toGolden)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "booted slot %s, firmware %s\n", flash.Slot(info.FirmwareSlot), info.Firmware)
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&toGolden, "to-golden", false, "when no other slot is valid, invalidate this one so that the golden image boots")
	return cmd
}
