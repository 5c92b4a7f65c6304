package vfiodev

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/lrchip/lrchip/firmware/regmap"
)

// Diagnosis is what sysfs and /dev say about a PCI function and VFIO.
type Diagnosis struct {
	Addr      string   // DDDD:BB:DD.F
	Dir       string   // its sysfs directory
	Vendor    uint16   // from sysfs
	Device    uint16   // from sysfs
	Driver    string   // the kernel driver bound to it, "" for none
	Group     string   // its IOMMU group ("" without an IOMMU)
	GroupPath string   // /dev/vfio/N (or /dev/vfio/noiommu-N)
	CdevPath  string   // /dev/vfio/devices/vfioN where the kernel has the device cdev and iommufd
	Members   []Member // the devices of its IOMMU group
	Dev       string   // the device directory
	Problem   string   // what stops it being opened, in a few words ("" for nothing)
}

// Member is a device of an IOMMU group and the driver bound to it.
type Member struct {
	Addr, Driver string
}

// Hints that several diagnoses share.
const (
	iommuHint      = "the IOMMU is off: add intel_iommu=on iommu=pt (Intel) or amd_iommu=on iommu=pt (AMD) to the kernel command line, enable VT-d or AMD-Vi in the firmware setup, and reboot"
	permissionHint = "install the udev rules (sudo cp udev/70-lrchip.rules /etc/udev/rules.d/ && sudo udevadm control --reload && sudo udevadm trigger), join the lrchip group (sudo usermod -aG lrchip $USER, then log in again), or run as root"
)

// access checks that this process may read and write a device node (a variable so that the
// tests, which run as root, can see what a user would).
var access = func(path string) error { return unix.Access(path, unix.R_OK|unix.W_OK) }

// driversAllowed are the drivers that may hold the other devices of a group without making
// it unusable for VFIO (the kernel's rule: VFIO's own, pci-stub, and the PCIe port driver of
// bridges).
var driversAllowed = map[string]bool{"vfio-pci": true, "pci-stub": true, "pcieport": true, "": true}

// Diagnose looks at the PCI function addr in sysfs and at its VFIO nodes in dev. It returns
// what it found and, when the function cannot be opened through VFIO as things stand, an
// error that says why and what to run (wrapping ErrSetup; ErrNotFound for no such device).
func Diagnose(sysfs, dev, addr string) (Diagnosis, error) {
	what := "pcie:" + addr
	d := Diagnosis{Addr: addr, Dir: filepath.Join(sysfs, "bus/pci/devices", addr), Dev: dev}
	if _, err := os.Stat(d.Dir); err != nil {
		return d, errorf("%s: no PCI function %s (lspci -D lists them): %w", what, addr, ErrNotFound)
	}
	fmt.Sscanf(readAttr(d.Dir, "vendor"), "0x%x", &d.Vendor)
	fmt.Sscanf(readAttr(d.Dir, "device"), "0x%x", &d.Device)
	if d.Vendor != regmap.PCIVendorID || d.Device != regmap.PCIDeviceID {
		return d, errorf("%s is %04x:%04x, not an lrchip board (%04x:%04x): %w", what, d.Vendor, d.Device, regmap.PCIVendorID, regmap.PCIDeviceID, ErrNotFound)
	}
	if l, err := os.Readlink(filepath.Join(d.Dir, "driver")); err == nil {
		d.Driver = filepath.Base(l)
	}
	if l, err := os.Readlink(filepath.Join(d.Dir, "iommu_group")); err == nil {
		d.Group = filepath.Base(l)
		members, _ := os.ReadDir(filepath.Join(sysfs, "kernel/iommu_groups", d.Group, "devices"))
		for _, m := range members {
			mem := Member{Addr: m.Name()}
			if l, err := os.Readlink(filepath.Join(sysfs, "bus/pci/devices", m.Name(), "driver")); err == nil {
				mem.Driver = filepath.Base(l)
			}
			d.Members = append(d.Members, mem)
		}
		sort.Slice(d.Members, func(i, j int) bool { return d.Members[i].Addr < d.Members[j].Addr })
	}
	if d.Group == "" {
		d.Problem = "no IOMMU group (the IOMMU is off)"
		return d, errorf("%s has no IOMMU group: %s: %w", what, iommuHint, ErrSetup)
	}
	if d.Driver != "vfio-pci" {
		d.Problem = "not bound to vfio-pci (" + boundTo(d.Driver) + ")"
		return d, errorf("%s is %s, not bound to vfio-pci; bind it with:\n%s%w", what, boundTo(d.Driver), d.bindCommands(sysfs), ErrSetup)
	}
	if bad := d.blockers(); len(bad) > 0 {
		d.Problem = fmt.Sprintf("IOMMU group %s is shared with %s", d.Group, bad[0].Addr)
		return d, errorf("%s: IOMMU group %s is not viable: %s: %w", what, d.Group, d.groupAdvice(), ErrSetup)
	}
	// The device cdev (6.2+) with iommufd where the kernel has both and this process may
	// open both (the udev rules open the device nodes to the lrchip group, not /dev/iommu);
	// else the group.
	if cdevs, _ := os.ReadDir(filepath.Join(d.Dir, "vfio-dev")); len(cdevs) == 1 {
		p := filepath.Join(dev, "vfio/devices", cdevs[0].Name())
		iommu := filepath.Join(dev, "iommu")
		if exists(p) && exists(iommu) && access(iommu) == nil {
			d.CdevPath = p
		}
	}
	d.GroupPath = filepath.Join(dev, "vfio", d.Group)
	if _, err := os.Stat(d.GroupPath); err != nil {
		if p := filepath.Join(dev, "vfio", "noiommu-"+d.Group); exists(p) {
			d.GroupPath = p // no-IOMMU mode: VFIO without DMA protection
		} else if d.CdevPath == "" {
			d.Problem = "no VFIO device node (vfio-pci not loaded?)"
			return d, errorf("%s: neither %s nor a VFIO device cdev exists (is the vfio-pci module loaded? sudo modprobe vfio-pci): %w", what, d.GroupPath, ErrSetup)
		}
	}
	node := d.CdevPath
	if node == "" {
		node = d.GroupPath
	}
	if err := access(node); err != nil {
		if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
			d.Problem = "no permission on " + node
			return d, errorf("%s: no permission to open %s: %s: %w", what, node, permissionHint, ErrSetup)
		}
		d.Problem = fmt.Sprintf("%s: %v", node, err)
		return d, errorf("%s: %s: %v: %w", what, node, err, ErrSetup)
	}
	return d, nil
}

func boundTo(driver string) string {
	if driver == "" {
		return "bound to no driver"
	}
	return "bound to " + driver
}

// bindCommands are the commands that hand the function to vfio-pci.
func (d Diagnosis) bindCommands(sysfs string) string {
	var b strings.Builder
	b.WriteString("  sudo modprobe vfio-pci\n")
	fmt.Fprintf(&b, "  echo vfio-pci | sudo tee %s\n", filepath.Join("/sys/bus/pci/devices", d.Addr, "driver_override"))
	if d.Driver != "" {
		fmt.Fprintf(&b, "  echo %s | sudo tee %s\n", d.Addr, filepath.Join("/sys/bus/pci/devices", d.Addr, "driver/unbind"))
	}
	fmt.Fprintf(&b, "  echo %s | sudo tee /sys/bus/pci/drivers_probe\n", d.Addr)
	return b.String()
}

// blockers are the other devices of the group bound to a driver that keeps VFIO off it.
func (d Diagnosis) blockers() []Member {
	var bad []Member
	for _, m := range d.Members {
		if m.Addr != d.Addr && !driversAllowed[m.Driver] {
			bad = append(bad, m)
		}
	}
	return bad
}

// groupAdvice names the devices that share the group and what to do about them.
func (d Diagnosis) groupAdvice() string {
	bad := d.blockers()
	if len(bad) == 0 {
		return "the kernel says so, though every device of the group is free (a device not yet released?)"
	}
	var names []string
	for _, m := range bad {
		names = append(names, fmt.Sprintf("%s (bound to %s)", m.Addr, m.Driver))
	}
	return fmt.Sprintf("it shares the group with %s; bind those to vfio-pci as well (or unbind them), or move the board to a slot with a group of its own", strings.Join(names, ", "))
}

func readAttr(dir, name string) string {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
