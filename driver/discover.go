package driver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/lrchip/lrchip/firmware/regmap"
)

// Found is a device List found.
type Found struct {
	URI       string `json:"uri"`
	Transport string `json:"transport"`
	Board     string `json:"board"`              // "emulator", "usb-board", "pcie-board"
	Serial    string `json:"serial,omitempty"`   // where known
	Firmware  string `json:"firmware,omitempty"` // where known without opening
	Protocol  string `json:"protocol,omitempty"`
	Size      string `json:"size,omitempty"`   // cores×neurons, where known
	Holder    string `json:"holder,omitempty"` // who has it open, where known
	Path      string `json:"path"`             // socket, USB device node or sysfs directory
	Driver    string `json:"driver,omitempty"` // PCIe: the kernel driver bound to it
	Error     string `json:"error,omitempty"`  // it was found but could not be asked
}

// ListOpts configures List. The zero value gives the documented defaults.
type ListOpts struct {
	RunDir string        // where emulator sockets are, default RunDir()
	Sysfs  string        // sysfs mount, default "/sys"
	Query  time.Duration // how long to wait for an emulator's answer, default 1 s
}

// usbScan lists USB boards. The default reads sysfs; a build with the gousb tag asks libusb.
var usbScan = scanUSBSysfs

// List finds devices: emulators serving in the run directory (answering a query), USB
// boards and PCIe boards by the ids of firmware/regmap. With no boards it returns none.
func List(ctx context.Context, opts ListOpts) ([]Found, error) {
	if opts.RunDir == "" {
		opts.RunDir = RunDir()
	}
	if opts.Sysfs == "" {
		opts.Sysfs = "/sys"
	}
	if opts.Query == 0 {
		opts.Query = time.Second
	}
	usb, err := usbScan(ctx, opts.Sysfs)
	if err != nil {
		return nil, err
	}
	pci, err := scanPCI(opts.Sysfs)
	if err != nil {
		return nil, err
	}
	emus, err := scanEmulators(ctx, opts.RunDir, opts.Query)
	if err != nil {
		return nil, err
	}
	return append(append(usb, pci...), emus...), nil
}

// Boards returns the hardware boards List finds (no emulators).
func Boards(ctx context.Context, opts ListOpts) ([]Found, error) {
	if opts.Sysfs == "" {
		opts.Sysfs = "/sys"
	}
	usb, err := usbScan(ctx, opts.Sysfs)
	if err != nil {
		return nil, err
	}
	pci, err := scanPCI(opts.Sysfs)
	if err != nil {
		return nil, err
	}
	return append(usb, pci...), nil
}

func readAttr(dir, name string) string {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// scanUSBSysfs finds USB boards in sysfs (/sys/bus/usb/devices/*/idVendor, idProduct).
func scanUSBSysfs(ctx context.Context, sysfs string) ([]Found, error) {
	dir := filepath.Join(sysfs, "bus/usb/devices")
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, errorf("list: %w", err)
	}
	var out []Found
	want := [2]string{fmt.Sprintf("%04x", regmap.USBVendorID), fmt.Sprintf("%04x", regmap.USBProductID)}
	for _, e := range ents {
		d := filepath.Join(dir, e.Name())
		if [2]string{strings.ToLower(readAttr(d, "idVendor")), strings.ToLower(readAttr(d, "idProduct"))} != want {
			continue
		}
		f := Found{Transport: TransportUSB, Board: regmap.BoardUSB.String(), Serial: readAttr(d, "serial"), Path: d}
		u := URI{Transport: TransportUSB, VID: regmap.USBVendorID, PID: regmap.USBProductID, Serial: f.Serial}
		f.URI = u.String()
		bus, _ := strconv.Atoi(readAttr(d, "busnum"))
		dev, _ := strconv.Atoi(readAttr(d, "devnum"))
		if bus > 0 && dev > 0 {
			f.Path = fmt.Sprintf("/dev/bus/usb/%03d/%03d", bus, dev)
		}
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].URI < out[j].URI })
	return out, nil
}

// scanPCI finds PCIe boards in sysfs (/sys/bus/pci/devices/*/vendor, device).
func scanPCI(sysfs string) ([]Found, error) {
	dir := filepath.Join(sysfs, "bus/pci/devices")
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, errorf("list: %w", err)
	}
	var out []Found
	for _, e := range ents {
		d := filepath.Join(dir, e.Name())
		if readAttr(d, "vendor") != fmt.Sprintf("0x%04x", regmap.PCIVendorID) || readAttr(d, "device") != fmt.Sprintf("0x%04x", regmap.PCIDeviceID) {
			continue
		}
		u, err := ParseURI("pcie:" + e.Name())
		if err != nil {
			continue
		}
		f := Found{URI: u.String(), Transport: TransportPCIe, Board: regmap.BoardPCIe.String(), Path: d}
		if l, err := os.Readlink(filepath.Join(d, "driver")); err == nil {
			f.Driver = filepath.Base(l)
		}
		f.Error = pcieProblem(sysfs, e.Name())
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].URI < out[j].URI })
	return out, nil
}

// scanEmulators asks every socket in the run directory who it is. Sockets nobody answers on
// (left by a dead server) are skipped.
func scanEmulators(ctx context.Context, dir string, wait time.Duration) ([]Found, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.sock"))
	if err != nil {
		return nil, errorf("list: %w", err)
	}
	sort.Strings(paths)
	var out []Found
	for _, p := range paths {
		u := URI{Transport: TransportEmuUnix, Path: p}
		f := Found{URI: u.String(), Transport: TransportEmuUnix, Board: regmap.BoardEmulator.String(), Path: p}
		r, err := Query(ctx, p, wait)
		if err != nil {
			if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, os.ErrNotExist) {
				continue
			}
			if errors.Is(err, syscall.EPROTOTYPE) { // a stream socket: a vfio-user server
				out = append(out, queryVFIOUser(ctx, p, wait))
				continue
			}
			f.Error = err.Error()
			out = append(out, f)
			continue
		}
		f.Board, f.Serial, f.Firmware, f.Protocol = r.BoardID.String(), strconv.FormatUint(r.Serial, 10), r.FWVersion.String(), r.Version.String()
		f.Size = fmt.Sprintf("%d×%d", r.Cores, r.Neurons)
		if r.Attached {
			f.Holder = "another process"
			if r.HolderPID != 0 {
				f.Holder = fmt.Sprintf("pid %d (%s)", r.HolderPID, r.HolderComm)
			}
		}
		out = append(out, f)
	}
	return out, nil
}

// Query asks the emulator serving on a socket who it is, without attaching.
func Query(ctx context.Context, path string, wait time.Duration) (regmap.HelloReply, error) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var dl net.Dialer
	c, err := dl.DialContext(ctx, "unixpacket", path)
	if err != nil {
		return regmap.HelloReply{}, err
	}
	defer c.Close()
	r, fds, err := exchangeHello(ctx, c.(*net.UnixConn), regmap.Hello{Version: regmap.ProtocolVersion, Flags: regmap.HelloQuery, PID: uint32(os.Getpid())}, "emu:unix:"+path)
	closeFds(fds)
	if err != nil {
		return r, err
	}
	return r, replyError(r, "emu:unix:"+path)
}
