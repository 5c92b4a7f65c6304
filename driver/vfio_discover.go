package driver

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/lrchip/lrchip/driver/internal/vfiodev"
	"github.com/lrchip/lrchip/firmware/regmap"
	"github.com/lrchip/lrchip/internal/vfio"
)

// queryVFIOUser asks a vfio-user server in the run directory who it is: the configuration
// space (is it our board's function?) and the identity registers, read with REGION_READ
// without attaching, then it disconnects. A server that serves another host says so (EBUSY);
// the lock file beside the socket names the holder.
func queryVFIOUser(ctx context.Context, path string, wait time.Duration) Found {
	u := URI{Transport: TransportVFIOUser, Path: path}
	f := Found{URI: u.String(), Transport: TransportVFIOUser, Board: regmap.BoardPCIe.String(), Path: path}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	dev, err := vfiodev.DialUser(ctx, path, vfiodev.UserOpts{Timeout: wait})
	if err != nil {
		if errors.Is(err, vfiodev.ErrBusy) {
			f.Holder = holderFromLock(path + ".lock")
			return f
		}
		f.Error = vfioError(err).Error()
		return f
	}
	defer dev.Close()
	var id [4]byte
	var regs [regmap.RegCapPayload + 4]byte
	if err := dev.ReadRegion(vfio.PCIConfigRegionIndex, regmap.PCIConfigVendor, id[:]); err != nil {
		f.Error = vfioError(err).Error()
		return f
	}
	if v, d := binary.LittleEndian.Uint16(id[:]), binary.LittleEndian.Uint16(id[2:]); v != regmap.PCIVendorID || d != regmap.PCIDeviceID {
		f.Error = fmt.Sprintf("a %04x:%04x PCI function, not an lrchip board", v, d)
		return f
	}
	if err := dev.ReadRegion(regmap.PCIBarRegs, 0, regs[:]); err != nil {
		f.Error = vfioError(err).Error()
		return f
	}
	r := func(off uint32) uint32 { return binary.LittleEndian.Uint32(regs[off:]) }
	if r(regmap.RegMagic) != regmap.Magic {
		f.Error = fmt.Sprintf("register file magic %#08x, want %#08x", r(regmap.RegMagic), regmap.Magic)
		return f
	}
	f.Board = regmap.BoardKind(r(regmap.RegBoardID)).String()
	f.Serial = strconv.FormatUint(uint64(r(regmap.RegSerialHi))<<32|uint64(r(regmap.RegSerialLo)), 10)
	f.Firmware = regmap.FWVersion(r(regmap.RegFWVersion)).String()
	f.Protocol = regmap.Version(r(regmap.RegProtoVersion)).String()
	f.Size = fmt.Sprintf("%d×%d", r(regmap.RegCapCores), r(regmap.RegCapNeurons))
	return f
}

// holderFromLock names the process holding a device's lock file, from the pid it wrote
// there.
func holderFromLock(path string) string {
	b, err := os.ReadFile(path)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return "another process"
	}
	comm, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return fmt.Sprintf("pid %d", pid)
	}
	return fmt.Sprintf("pid %d (%s)", pid, strings.TrimSpace(string(comm)))
}

// pcieProblem is what stops the PCIe board at addr from being opened through VFIO, in a few
// words with where to read more, "" for nothing (lrctl list shows it).
func pcieProblem(sysfs, addr string) string {
	d, err := vfiodev.Diagnose(sysfs, "/dev", addr)
	if err == nil || d.Problem == "" {
		return ""
	}
	return d.Problem + "; lrctl info --device pcie:" + addr + " says what to run"
}
