package vfiodev

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// fakeSys builds a sysfs and /dev tree for the tests: PCI functions with their ids, driver
// and IOMMU group links, the group directories, and the VFIO nodes.
type fakeSys struct {
	t        *testing.T
	sys, dev string
}

func newFakeSys(t *testing.T) *fakeSys {
	root := t.TempDir()
	f := &fakeSys{t: t, sys: filepath.Join(root, "sys"), dev: filepath.Join(root, "dev")}
	for _, d := range []string{"bus/pci/devices", "bus/pci/drivers", "kernel/iommu_groups"} {
		require.NoError(t, os.MkdirAll(filepath.Join(f.sys, d), 0o755))
	}
	require.NoError(t, os.MkdirAll(filepath.Join(f.dev, "vfio"), 0o755))
	return f
}

// function adds a PCI function; driver "" leaves it unbound, group "" without an IOMMU group.
func (f *fakeSys) function(addr, vendor, device, driver, group string) {
	d := filepath.Join(f.sys, "bus/pci/devices", addr)
	require.NoError(f.t, os.MkdirAll(d, 0o755))
	require.NoError(f.t, os.WriteFile(filepath.Join(d, "vendor"), []byte(vendor+"\n"), 0o644))
	require.NoError(f.t, os.WriteFile(filepath.Join(d, "device"), []byte(device+"\n"), 0o644))
	if driver != "" {
		dd := filepath.Join(f.sys, "bus/pci/drivers", driver)
		require.NoError(f.t, os.MkdirAll(dd, 0o755))
		require.NoError(f.t, os.Symlink(dd, filepath.Join(d, "driver")))
	}
	if group != "" {
		g := filepath.Join(f.sys, "kernel/iommu_groups", group, "devices")
		require.NoError(f.t, os.MkdirAll(g, 0o755))
		require.NoError(f.t, os.Symlink(d, filepath.Join(g, addr)))
		require.NoError(f.t, os.Symlink(filepath.Dir(g), filepath.Join(d, "iommu_group")))
	}
}

func (f *fakeSys) node(rel string) {
	p := filepath.Join(f.dev, rel)
	require.NoError(f.t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(f.t, os.WriteFile(p, nil, 0o600))
}

const board = "0000:01:00.0"

func TestDiagnose(t *testing.T) {
	for _, tc := range []struct {
		name     string
		setup    func(f *fakeSys)
		denied   bool
		want     []string // in the error, in this order
		sentinel error
		check    func(t *testing.T, d Diagnosis)
	}{
		{name: "no such function", setup: func(f *fakeSys) {}, want: []string{"no PCI function 0000:01:00.0", "lspci -D"}, sentinel: ErrNotFound},
		{name: "another device", setup: func(f *fakeSys) { f.function(board, "0x8086", "0x1234", "e1000e", "3") },
			want: []string{"is 8086:1234, not an lrchip board (10ee:4c52)"}, sentinel: ErrNotFound},
		{name: "IOMMU off", setup: func(f *fakeSys) { f.function(board, "0x10ee", "0x4c52", "", "") },
			want: []string{"has no IOMMU group", "intel_iommu=on", "amd_iommu=on"}, sentinel: ErrSetup},
		{name: "unbound", setup: func(f *fakeSys) { f.function(board, "0x10ee", "0x4c52", "", "7") },
			want:     []string{"bound to no driver, not bound to vfio-pci", "sudo modprobe vfio-pci", "echo vfio-pci | sudo tee /sys/bus/pci/devices/0000:01:00.0/driver_override", "echo 0000:01:00.0 | sudo tee /sys/bus/pci/drivers_probe"},
			sentinel: ErrSetup, check: func(t *testing.T, d Diagnosis) { require.Empty(t, d.Driver) }},
		{name: "bound elsewhere", setup: func(f *fakeSys) { f.function(board, "0x10ee", "0x4c52", "xdma", "7") },
			want: []string{"bound to xdma, not bound to vfio-pci", "driver_override", "echo 0000:01:00.0 | sudo tee /sys/bus/pci/devices/0000:01:00.0/driver/unbind", "drivers_probe"}, sentinel: ErrSetup},
		{name: "group shared", setup: func(f *fakeSys) {
			f.function(board, "0x10ee", "0x4c52", "vfio-pci", "7")
			f.function("0000:01:00.1", "0x10ee", "0x9999", "snd_hda_intel", "7")
			f.function("0000:00:01.0", "0x8086", "0x1901", "pcieport", "7") // a bridge: allowed
		}, want: []string{"IOMMU group 7 is not viable", "0000:01:00.1 (bound to snd_hda_intel)", "bind those to vfio-pci"}, sentinel: ErrSetup,
			check: func(t *testing.T, d Diagnosis) { require.Len(t, d.Members, 3) }},
		{name: "no node", setup: func(f *fakeSys) { f.function(board, "0x10ee", "0x4c52", "vfio-pci", "7") },
			want: []string{"vfio/7 nor a VFIO device cdev exists", "modprobe vfio-pci"}, sentinel: ErrSetup},
		{name: "no permission", setup: func(f *fakeSys) { f.function(board, "0x10ee", "0x4c52", "vfio-pci", "7"); f.node("vfio/7") },
			denied: true, want: []string{"no permission to open", "vfio/7", "udev/70-lrchip.rules", "usermod -aG lrchip"}, sentinel: ErrSetup},
		{name: "group ready", setup: func(f *fakeSys) {
			f.function(board, "0x10ee", "0x4c52", "vfio-pci", "7")
			f.function("0000:01:00.1", "0x10ee", "0x9999", "vfio-pci", "7")
			f.node("vfio/7")
		}, check: func(t *testing.T, d Diagnosis) {
			require.Equal(t, "7", d.Group)
			require.Equal(t, "vfio-pci", d.Driver)
			require.Empty(t, d.CdevPath)
			require.Equal(t, "vfio/7", d.GroupPath[len(d.Dev)+1:])
		}},
		{name: "no-IOMMU mode", setup: func(f *fakeSys) { f.function(board, "0x10ee", "0x4c52", "vfio-pci", "7"); f.node("vfio/noiommu-7") },
			check: func(t *testing.T, d Diagnosis) { require.Equal(t, "vfio/noiommu-7", d.GroupPath[len(d.Dev)+1:]) }},
		{name: "cdev", setup: func(f *fakeSys) {
			f.function(board, "0x10ee", "0x4c52", "vfio-pci", "7")
			require.NoError(t, os.MkdirAll(filepath.Join(f.sys, "bus/pci/devices", board, "vfio-dev/vfio3"), 0o755))
			f.node("vfio/devices/vfio3")
			f.node("iommu")
		}, check: func(t *testing.T, d Diagnosis) { require.Equal(t, "vfio/devices/vfio3", d.CdevPath[len(d.Dev)+1:]) }},
		{name: "cdev without iommufd uses the group", setup: func(f *fakeSys) {
			f.function(board, "0x10ee", "0x4c52", "vfio-pci", "7")
			require.NoError(t, os.MkdirAll(filepath.Join(f.sys, "bus/pci/devices", board, "vfio-dev/vfio3"), 0o755))
			f.node("vfio/devices/vfio3")
			f.node("vfio/7")
		}, check: func(t *testing.T, d Diagnosis) { require.Empty(t, d.CdevPath) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeSys(t)
			tc.setup(f)
			if tc.denied {
				old := access
				access = func(string) error { return unix.EACCES }
				defer func() { access = old }()
			}
			d, err := Diagnose(f.sys, f.dev, board)
			if tc.want == nil {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
				require.True(t, errors.Is(err, tc.sentinel), "%v", err)
				if errors.Is(err, ErrSetup) {
					require.NotEmpty(t, d.Problem)
				}
				msg, at := err.Error(), 0
				for _, w := range tc.want {
					i := indexFrom(msg, w, at)
					require.GreaterOrEqual(t, i, 0, "%q not in (or out of order in) %q", w, msg)
					at = i
				}
			}
			if tc.check != nil {
				tc.check(t, d)
			}
		})
	}
}

func indexFrom(s, sub string, from int) int {
	for i := from; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

// TestOpenKernelSaysWhatIsWrong goes through OpenKernel, which diagnoses before it opens
// anything.
func TestOpenKernelSaysWhatIsWrong(t *testing.T) {
	f := newFakeSys(t)
	f.function(board, "0x10ee", "0x4c52", "xdma", "7")
	_, err := OpenKernel(board, KernelOpts{Sysfs: f.sys, Dev: f.dev})
	require.ErrorIs(t, err, ErrSetup)
	require.ErrorContains(t, err, "driver_override")
}
