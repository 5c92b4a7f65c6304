package main

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/driver"
	"github.com/lrchip/lrchip/emu/board"
	"github.com/lrchip/lrchip/emu/pcie"
)

func newEmuCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "emu",
		Short: "Run the emulated board",
	}
	cmd.AddCommand(newEmuServeCmd())
	return cmd
}

func newEmuServeCmd() *cobra.Command {
	var socket, size, vfioUser, speed, envFile string
	var serial uint64
	var usb, ftdi bool
	cmd := &cobra.Command{
		Use:   "serve [--socket PATH | --vfio-user PATH | --usb [--speed high|super] [--env FILE] [--ftdi]] [--size CORESxNEURONS] [--serial N]",
		Short: "Serve an emulated board on a Unix socket until interrupted",
		Long: `Runs the emulated board as its own process, the stand-in for a board in another address
space: hosts attach with the device URI emu:unix:PATH and talk to it through shared memory (its
register file and rings, passed over the socket) as they would to a board. It serves one host at a
time; the board's state (network, timestep, flash) stays between hosts. The socket defaults to
emu0.sock (emu1.sock, ... if taken) in the run directory ($LRCHIP_RUN_DIR, else
$XDG_RUNTIME_DIR/lrchip, else /run/lrchip), where lrctl list finds it.

With --vfio-user PATH it serves the board as its PCIe function over vfio-user instead (QEMU's
protocol for a PCI device in another process): hosts open it as vfio-user:PATH, through the
same driver code as a PCIe board on VFIO (docs/regmap.md §10).

With --usb it serves the board as an emulated USB board instead (lab build only): the board's
USB function (docs/regmap.md §11) on a umockdev testbed, which processes see when they run with
the environment it prints (UMOCKDEV_DIR, and LD_PRELOAD=libumockdev-preload.so.0) and open through
libusb as usb:1209:0001:SERIAL. scripts/with-usb-emu.sh does all of it. With --ftdi the board's
FT2232H is there too, in front of its flash (lrctl fw recover, docs/regmap.md §13).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var opts board.Opts
			if size != "" {
				s, err := chip.ParseSize(size)
				if err != nil {
					return err
				}
				opts.Size = s
			}
			opts.Serial = serial
			if ftdi && !usb {
				return fmt.Errorf("emu serve: --ftdi goes with --usb")
			}
			if usb {
				return serveUSB(ctxOf(cmd), cmd.OutOrStdout(), opts, speed, envFile, ftdi)
			}
			path := socket
			if vfioUser != "" {
				path = vfioUser
			}
			if path == "" {
				var err error
				if path, err = freeSocket(driver.RunDir()); err != nil {
					return err
				}
			}
			if !cmd.Flags().Changed("serial") {
				opts.Serial = serialFor(path) // each emulator its own serial
			}
			b, err := board.New(opts)
			if err != nil {
				return err
			}
			defer b.Close()
			if vfioUser != "" {
				return serveVFIOUser(cmd, b, vfioUser)
			}
			ln, err := board.Listen(path)
			if err != nil {
				return err
			}
			// Leave nothing behind: the socket goes with the listener, the hosts' lock here.
			defer os.Remove(driver.LockPath(path))
			fmt.Fprintf(cmd.OutOrStdout(), "serving %s on emu:unix:%s\n", b, path)
			return b.ServeUnix(ctxOf(cmd), ln)
		},
	}
	cmd.Flags().StringVar(&socket, "socket", "", "socket path (default: emuN.sock in the run directory)")
	cmd.Flags().StringVar(&vfioUser, "vfio-user", "", "serve the PCIe function over vfio-user on this socket")
	cmd.Flags().BoolVar(&usb, "usb", false, "serve an emulated USB board on a umockdev testbed (lab build)")
	cmd.Flags().StringVar(&speed, "speed", "super", "with --usb: the USB speed, high or super")
	cmd.Flags().StringVar(&envFile, "env", "", "with --usb: write the clients' environment to this file (shell exports) once the board is plugged in")
	cmd.Flags().BoolVar(&ftdi, "ftdi", false, "with --usb: plug the board's FT2232H too (its recovery port, lrctl fw recover)")
	cmd.MarkFlagsMutuallyExclusive("socket", "vfio-user", "usb")
	cmd.Flags().StringVar(&size, "size", "", "chip size CORESxNEURONS (default 8x1024, the prototype)")
	cmd.Flags().Uint64Var(&serial, "serial", 0, "serial number (default: N+1 for emuN.sock, else from the socket's path)")
	return cmd
}

// freeSocket returns the first emuN.sock in dir that no live server answers on.
func freeSocket(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	for i := 0; i < 100; i++ {
		p := filepath.Join(dir, "emu"+strconv.Itoa(i)+".sock")
		if _, err := os.Lstat(p); err != nil {
			return p, nil
		}
		if _, err := driver.Query(context.Background(), p, 200*time.Millisecond); err != nil {
			return p, nil // a stale socket: Listen replaces it
		}
	}
	return "", fmt.Errorf("emu serve: no free emuN.sock in %s", dir)
}

// serveVFIOUser serves b as a PCIe function over vfio-user until interrupted.
func serveVFIOUser(cmd *cobra.Command, b *board.Board, path string) error {
	ln, err := pcie.Listen(path)
	if err != nil {
		return err
	}
	srv := pcie.New(b, pcie.Opts{Log: func(format string, args ...any) {
		fmt.Fprintf(cmd.ErrOrStderr(), "emu serve: "+format+"\n", args...)
	}})
	fmt.Fprintf(cmd.OutOrStdout(), "serving %s on vfio-user:%s\n", b, path)
	return srv.Serve(ctxOf(cmd), ln)
}

// serialFor gives each emulator a serial of its own: N+1 for the run directory's emuN.sock
// (which no two live emulators share), else a number made from the socket's path.
func serialFor(path string) uint64 {
	base := filepath.Base(path)
	if n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(base, "emu"), ".sock"), 10, 32); err == nil &&
		strings.HasPrefix(base, "emu") && strings.HasSuffix(base, ".sock") {
		return n + 1
	}
	h := fnv.New32a()
	h.Write([]byte(path))
	return 1000 + uint64(h.Sum32())
}
