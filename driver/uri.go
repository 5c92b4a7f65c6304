package driver

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Transport names.
const (
	TransportEmu     = "emu"      // in-process emulator
	TransportEmuUnix = "emu:unix" // emulator process on a Unix socket
	TransportUSB     = "usb"
	TransportPCIe    = "pcie"
	// TransportVFIOUser is a board's PCIe function served over vfio-user (the emulated board
	// of lrctl emu serve --vfio-user), opened with the VFIO link as pcie: is.
	TransportVFIOUser = "vfio-user"
)

// URI is a parsed device name.
type URI struct {
	Transport string
	Path      string // emu:unix:, vfio-user: the socket
	VID, PID  uint16 // usb
	Serial    string // usb, optional
	Addr      string // pcie: DDDD:BB:DD.F
}

var pciAddr = regexp.MustCompile(`^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$`)

// ParseURI parses a device URI (see the package documentation).
func ParseURI(s string) (URI, error) {
	bad := func(why string) (URI, error) {
		return URI{}, errorf("device %q: %s (want emu:, emu:unix:PATH, usb:VID:PID[:SERIAL], pcie:DDDD:BB:DD.F or vfio-user:PATH): %w", s, why, ErrNotFound)
	}
	switch {
	case s == "emu:" || s == "emu":
		return URI{Transport: TransportEmu}, nil
	case strings.HasPrefix(s, "emu:unix:"):
		p := strings.TrimPrefix(s, "emu:unix:")
		if p == "" {
			return bad("no socket path")
		}
		return URI{Transport: TransportEmuUnix, Path: p}, nil
	case strings.HasPrefix(s, "vfio-user:"):
		p := strings.TrimPrefix(s, "vfio-user:")
		if p == "" {
			return bad("no socket path")
		}
		return URI{Transport: TransportVFIOUser, Path: p}, nil
	case strings.HasPrefix(s, "usb:"):
		f := strings.Split(strings.TrimPrefix(s, "usb:"), ":")
		if len(f) < 2 || len(f) > 3 {
			return bad("want usb:VID:PID[:SERIAL]")
		}
		vid, err1 := strconv.ParseUint(f[0], 16, 16)
		pid, err2 := strconv.ParseUint(f[1], 16, 16)
		if err1 != nil || err2 != nil {
			return bad("VID and PID are 4 hex digits")
		}
		u := URI{Transport: TransportUSB, VID: uint16(vid), PID: uint16(pid)}
		if len(f) == 3 {
			if f[2] == "" {
				return bad("empty serial")
			}
			u.Serial = f[2]
		}
		return u, nil
	case strings.HasPrefix(s, "pcie:"):
		a := strings.ToLower(strings.TrimPrefix(s, "pcie:"))
		if !pciAddr.MatchString(a) {
			return bad("want a PCI address DDDD:BB:DD.F")
		}
		return URI{Transport: TransportPCIe, Addr: a}, nil
	}
	return bad("unknown transport")
}

func (u URI) String() string {
	switch u.Transport {
	case TransportEmu:
		return "emu:"
	case TransportEmuUnix:
		return "emu:unix:" + u.Path
	case TransportUSB:
		s := fmt.Sprintf("usb:%04x:%04x", u.VID, u.PID)
		if u.Serial != "" {
			s += ":" + u.Serial
		}
		return s
	case TransportPCIe:
		return "pcie:" + u.Addr
	case TransportVFIOUser:
		return "vfio-user:" + u.Path
	}
	return "?"
}

// RunDirEnv names the environment variable that overrides RunDir.
const RunDirEnv = "LRCHIP_RUN_DIR"

// RunDir returns the directory where emulator processes put their sockets (NAME.sock) and
// where device locks live: $LRCHIP_RUN_DIR, else $XDG_RUNTIME_DIR/lrchip, else /run/lrchip
// where this user may write there (a system set up for the lab), else lrchip-UID in the
// temporary directory (a login without XDG_RUNTIME_DIR: a container, cron, sudo).
func RunDir() string { return runDir(os.Getenv, writableDir) }

func runDir(getenv func(string) string, writable func(string) bool) string {
	if d := getenv(RunDirEnv); d != "" {
		return d
	}
	if d := getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "lrchip")
	}
	if writable("/run/lrchip") {
		return "/run/lrchip"
	}
	return filepath.Join(os.TempDir(), "lrchip-"+strconv.Itoa(os.Getuid()))
}
