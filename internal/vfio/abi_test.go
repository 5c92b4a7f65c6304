package vfio

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// guard names a part of the ABI that older headers lack: the C check tests it only where the
// header defines it, and says which parts it could not check.
type guard string

const (
	always  guard = ""
	cdev    guard = "cdev"    // <linux/vfio.h> of kernel 6.6+: VFIO_DEVICE_BIND_IOMMUFD
	iommufd guard = "iommufd" // <linux/iommufd.h>
)

var abiStructs = []struct {
	c string
	v any
	// extensible: an argsz-sized structure that newer kernels grow at the end; the header's
	// may be bigger than ours (argsz tells the kernel which we mean).
	extensible bool
	g          guard
}{
	{"struct vfio_group_status", GroupStatus{}, false, always},
	{"struct vfio_device_info", DeviceInfo{}, true, always},
	{"struct vfio_region_info", RegionInfo{}, false, always},
	{"struct vfio_info_cap_header", InfoCapHeader{}, false, always},
	{"struct vfio_region_info_cap_sparse_mmap", RegionInfoCapSparseMmap{}, false, always},
	{"struct vfio_region_sparse_mmap_area", SparseMmapArea{}, false, always},
	{"struct vfio_irq_info", IRQInfo{}, false, always},
	{"struct vfio_irq_set", IRQSet{}, false, always},
	{"struct vfio_iommu_type1_info", IOMMUType1Info{}, false, always},
	{"struct vfio_iommu_type1_info_cap_iova_range", IOMMUType1InfoCapIOVARange{}, false, always},
	{"struct vfio_iova_range", IOVARange{}, false, always},
	{"struct vfio_iommu_type1_dma_map", DMAMap{}, false, always},
	{"struct vfio_iommu_type1_dma_unmap", DMAUnmap{}, false, always},
	{"struct vfio_device_bind_iommufd", DeviceBindIOMMUFD{}, true, cdev},
	{"struct vfio_device_attach_iommufd_pt", DeviceAttachIOMMUFDPT{}, true, cdev},
	{"struct iommu_destroy", IOMMUDestroyArgs{}, false, iommufd},
	{"struct iommu_ioas_alloc", IOASAlloc{}, false, iommufd},
	{"struct iommu_ioas_map", IOASMap{}, false, iommufd},
	{"struct iommu_ioas_unmap", IOASUnmap{}, false, iommufd},
}

var abiConsts = []struct {
	c string
	v uint64
	g guard
}{
	{"VFIO_GET_API_VERSION", IoctlGetAPIVersion, always},
	{"VFIO_CHECK_EXTENSION", IoctlCheckExtension, always},
	{"VFIO_SET_IOMMU", IoctlSetIOMMU, always},
	{"VFIO_GROUP_GET_STATUS", IoctlGroupGetStatus, always},
	{"VFIO_GROUP_SET_CONTAINER", IoctlGroupSetContainer, always},
	{"VFIO_GROUP_UNSET_CONTAINER", IoctlGroupUnsetContainer, always},
	{"VFIO_GROUP_GET_DEVICE_FD", IoctlGroupGetDeviceFD, always},
	{"VFIO_DEVICE_GET_INFO", IoctlDeviceGetInfo, always},
	{"VFIO_DEVICE_GET_REGION_INFO", IoctlDeviceGetRegionInfo, always},
	{"VFIO_DEVICE_GET_IRQ_INFO", IoctlDeviceGetIRQInfo, always},
	{"VFIO_DEVICE_SET_IRQS", IoctlDeviceSetIRQs, always},
	{"VFIO_DEVICE_RESET", IoctlDeviceReset, always},
	{"VFIO_IOMMU_GET_INFO", IoctlIOMMUGetInfo, always},
	{"VFIO_IOMMU_MAP_DMA", IoctlIOMMUMapDMA, always},
	{"VFIO_IOMMU_UNMAP_DMA", IoctlIOMMUUnmapDMA, always},
	{"VFIO_API_VERSION", APIVersion, always},
	{"VFIO_TYPE1v2_IOMMU", Type1v2IOMMU, always},
	{"VFIO_NOIOMMU_IOMMU", NoIOMMU, always},
	{"VFIO_GROUP_FLAGS_VIABLE", GroupFlagsViable, always},
	{"VFIO_GROUP_FLAGS_CONTAINER_SET", GroupFlagsContainerSet, always},
	{"VFIO_DEVICE_FLAGS_RESET", DeviceFlagsReset, always},
	{"VFIO_DEVICE_FLAGS_PCI", DeviceFlagsPCI, always},
	{"VFIO_DEVICE_FLAGS_CAPS", DeviceFlagsCaps, always},
	{"VFIO_REGION_INFO_FLAG_READ", RegionInfoFlagRead, always},
	{"VFIO_REGION_INFO_FLAG_WRITE", RegionInfoFlagWrite, always},
	{"VFIO_REGION_INFO_FLAG_MMAP", RegionInfoFlagMmap, always},
	{"VFIO_REGION_INFO_FLAG_CAPS", RegionInfoFlagCaps, always},
	{"VFIO_REGION_INFO_CAP_SPARSE_MMAP", RegionInfoCapSparseMmapID, always},
	{"VFIO_REGION_INFO_CAP_TYPE", RegionInfoCapTypeID, always},
	{"VFIO_PCI_BAR0_REGION_INDEX", PCIBAR0RegionIndex, always},
	{"VFIO_PCI_BAR2_REGION_INDEX", PCIBAR2RegionIndex, always},
	{"VFIO_PCI_BAR5_REGION_INDEX", PCIBAR5RegionIndex, always},
	{"VFIO_PCI_ROM_REGION_INDEX", PCIROMRegionIndex, always},
	{"VFIO_PCI_CONFIG_REGION_INDEX", PCIConfigRegionIndex, always},
	{"VFIO_PCI_VGA_REGION_INDEX", PCIVGARegionIndex, always},
	{"VFIO_PCI_NUM_REGIONS", PCINumRegions, always},
	{"VFIO_PCI_INTX_IRQ_INDEX", PCIINTxIRQIndex, always},
	{"VFIO_PCI_MSI_IRQ_INDEX", PCIMSIIRQIndex, always},
	{"VFIO_PCI_MSIX_IRQ_INDEX", PCIMSIXIRQIndex, always},
	{"VFIO_PCI_ERR_IRQ_INDEX", PCIErrIRQIndex, always},
	{"VFIO_PCI_REQ_IRQ_INDEX", PCIReqIRQIndex, always},
	{"VFIO_PCI_NUM_IRQS", PCINumIRQs, always},
	{"VFIO_IRQ_INFO_EVENTFD", IRQInfoEventfd, always},
	{"VFIO_IRQ_INFO_MASKABLE", IRQInfoMaskable, always},
	{"VFIO_IRQ_INFO_AUTOMASKED", IRQInfoAutomasked, always},
	{"VFIO_IRQ_INFO_NORESIZE", IRQInfoNoresize, always},
	{"VFIO_IRQ_SET_DATA_NONE", IRQSetDataNone, always},
	{"VFIO_IRQ_SET_DATA_BOOL", IRQSetDataBool, always},
	{"VFIO_IRQ_SET_DATA_EVENTFD", IRQSetDataEventfd, always},
	{"VFIO_IRQ_SET_ACTION_MASK", IRQSetActionMask, always},
	{"VFIO_IRQ_SET_ACTION_UNMASK", IRQSetActionUnmask, always},
	{"VFIO_IRQ_SET_ACTION_TRIGGER", IRQSetActionTrigger, always},
	{"VFIO_IRQ_SET_DATA_TYPE_MASK", IRQSetDataTypeMask, always},
	{"VFIO_IRQ_SET_ACTION_TYPE_MASK", IRQSetActionTypeMask, always},
	{"VFIO_DMA_MAP_FLAG_READ", DMAMapFlagRead, always},
	{"VFIO_DMA_MAP_FLAG_WRITE", DMAMapFlagWrite, always},
	{"VFIO_IOMMU_INFO_PGSIZES", IOMMUInfoPgsizes, always},
	{"VFIO_IOMMU_INFO_CAPS", IOMMUInfoCaps, always},
	{"VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE", IOMMUType1InfoCapIOVARangeID, always},
	{"VFIO_DEVICE_BIND_IOMMUFD", IoctlDeviceBindIOMMUFD, cdev},
	{"VFIO_DEVICE_ATTACH_IOMMUFD_PT", IoctlDeviceAttachIOMMUFDPT, cdev},
	{"VFIO_DEVICE_DETACH_IOMMUFD_PT", IoctlDeviceDetachIOMMUFDPT, cdev},
	{"IOMMU_DESTROY", IoctlIOMMUDestroy, iommufd},
	{"IOMMU_IOAS_ALLOC", IoctlIOMMUIOASAlloc, iommufd},
	{"IOMMU_IOAS_MAP", IoctlIOMMUIOASMap, iommufd},
	{"IOMMU_IOAS_UNMAP", IoctlIOMMUIOASUnmap, iommufd},
	{"IOMMU_IOAS_MAP_FIXED_IOVA", IOASMapFixedIOVA, iommufd},
	{"IOMMU_IOAS_MAP_WRITEABLE", IOASMapWriteable, iommufd},
	{"IOMMU_IOAS_MAP_READABLE", IOASMapReadable, iommufd},
}

// TestMemoryLayoutIsTheWireLayout: an ioctl gets a pointer to the Go value, vfio-user gets
// its binary encoding; they must be the same bytes.
func TestMemoryLayoutIsTheWireLayout(t *testing.T) {
	for _, s := range abiStructs {
		typ := reflect.TypeOf(s.v)
		require.Equal(t, int(typ.Size()), binary.Size(s.v), "%s: Go padding the encoding does not have", s.c)
		require.Zero(t, typ.Size()%uintptr(typ.Align()), s.c)
	}
}

// abiProgram is a C program that includes the system's headers and asserts, with the numbers
// Go has, every size, offset and constant: it does not compile if one differs. Run, it says
// which guarded parts the headers had.
func abiProgram() string {
	var b strings.Builder
	b.WriteString("#include <stddef.h>\n#include <stdio.h>\n#include <linux/vfio.h>\n")
	b.WriteString("#if defined(__has_include)\n#if __has_include(<linux/iommufd.h>)\n#include <linux/iommufd.h>\n#define LRCHIP_HAVE_IOMMUFD 1\n#endif\n#endif\n")
	open := func(g guard) {
		switch g {
		case cdev:
			b.WriteString("#ifdef VFIO_DEVICE_BIND_IOMMUFD\n")
		case iommufd:
			b.WriteString("#ifdef LRCHIP_HAVE_IOMMUFD\n")
		}
	}
	end := func(g guard) {
		if g != always {
			b.WriteString("#endif\n")
		}
	}
	for _, s := range abiStructs {
		open(s.g)
		typ := reflect.TypeOf(s.v)
		if s.extensible {
			fmt.Fprintf(&b, "_Static_assert(sizeof(%s) >= %d, \"%s: size\");\n", s.c, typ.Size(), s.c)
		} else {
			fmt.Fprintf(&b, "_Static_assert(sizeof(%s) == %d, \"%s: size\");\n", s.c, typ.Size(), s.c)
		}
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			c := f.Tag.Get("c")
			if c == "" {
				continue // padding the header leaves implicit
			}
			fmt.Fprintf(&b, "_Static_assert(offsetof(%s, %s) == %d, \"%s.%s: offset\");\n", s.c, c, f.Offset, s.c, c)
			fmt.Fprintf(&b, "_Static_assert(sizeof(((%s *)0)->%s) == %d, \"%s.%s: size\");\n", s.c, c, f.Type.Size(), s.c, c)
		}
		end(s.g)
	}
	for _, c := range abiConsts {
		open(c.g)
		fmt.Fprintf(&b, "_Static_assert((unsigned long long)(%s) == %dULL, \"%s\");\n", c.c, c.v, c.c)
		end(c.g)
	}
	b.WriteString("int main(void) {\n\tputs(\"vfio\");\n")
	b.WriteString("#ifdef VFIO_DEVICE_BIND_IOMMUFD\n\tputs(\"cdev\");\n#endif\n")
	b.WriteString("#ifdef LRCHIP_HAVE_IOMMUFD\n\tputs(\"iommufd\");\n#endif\n")
	b.WriteString("\treturn 0;\n}\n")
	return b.String()
}

// strictEnv, set to 1 (CI does), makes a missing C compiler or <linux/vfio.h> a failure
// instead of a skip.
const strictEnv = "LRCHIP_VFIO_ABI_STRICT"

// TestABIMatchesLinuxHeaders compiles and runs abiProgram with the system's C compiler
// against the system's kernel headers (Debian: linux-libc-dev). The cdev and iommufd parts
// are checked where the headers have them (kernel 6.6+ headers; Debian 12's 6.1 lacks them)
// and the test says so where they are not.
func TestABIMatchesLinuxHeaders(t *testing.T) {
	strict := os.Getenv(strictEnv) == "1"
	skip := func(format string, args ...any) {
		if strict {
			t.Fatalf(format, args...)
		}
		t.Skipf(format, args...)
	}
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "cc"
	}
	path, err := exec.LookPath(cc)
	if err != nil {
		skip("no C compiler (%s): install gcc and linux-libc-dev to check the VFIO ABI", cc)
	}
	dir := t.TempDir()
	src, bin := filepath.Join(dir, "abi.c"), filepath.Join(dir, "abi")
	require.NoError(t, os.WriteFile(src, []byte(abiProgram()), 0o644))
	out, err := exec.Command(path, "-std=gnu11", "-Wall", "-Werror", "-o", bin, src).CombinedOutput()
	if err != nil && strings.Contains(string(out), "linux/vfio.h") && strings.Contains(string(out), "No such file") {
		skip("no <linux/vfio.h>: install linux-libc-dev to check the VFIO ABI")
	}
	require.NoError(t, err, "the VFIO definitions of internal/vfio differ from the system's headers:\n%s", out)
	out, err = exec.Command(bin).Output()
	require.NoError(t, err)
	had := map[string]bool{}
	for _, l := range strings.Fields(string(out)) {
		had[l] = true
	}
	require.True(t, had["vfio"])
	for _, g := range []guard{cdev, iommufd} {
		if had[string(g)] {
			t.Logf("%s definitions checked against the system's headers", g)
		} else {
			t.Logf("%s definitions NOT checked: the system's kernel headers predate them", g)
		}
	}
}

// TestABIProgramCatchesADifference makes sure the check fails when a number is wrong.
func TestABIProgramCatchesADifference(t *testing.T) {
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler")
	}
	if _, err := os.Stat("/usr/include/linux/vfio.h"); err != nil {
		t.Skip("no <linux/vfio.h>")
	}
	src := strings.Replace(abiProgram(), fmt.Sprintf("(VFIO_DEVICE_RESET) == %dULL", IoctlDeviceReset), fmt.Sprintf("(VFIO_DEVICE_RESET) == %dULL", IoctlDeviceReset+1), 1)
	require.NotEqual(t, abiProgram(), src)
	f := filepath.Join(t.TempDir(), "abi.c")
	require.NoError(t, os.WriteFile(f, []byte(src), 0o644))
	out, err := exec.Command(cc, "-std=gnu11", "-fsyntax-only", f).CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), "VFIO_DEVICE_RESET")
}

func TestEncodeDecode(t *testing.T) {
	ri := RegionInfo{Argsz: 32, Flags: RegionInfoFlagRead | RegionInfoFlagMmap, Index: 7, Size: 256, Offset: 1 << 40}
	b := Encode(nil, &ri)
	require.Len(t, b, RegionInfoSize)
	require.Equal(t, []byte{32, 0, 0, 0, 5, 0, 0, 0, 7, 0, 0, 0}, b[:12])
	var got RegionInfo
	require.NoError(t, Decode(b, &got))
	require.Equal(t, ri, got)
	require.Error(t, Decode(b[:31], &got))
}
