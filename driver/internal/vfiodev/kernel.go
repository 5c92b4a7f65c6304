package vfiodev

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/lrchip/lrchip/internal/vfio"
	"github.com/lrchip/lrchip/internal/vfiouser"
)

// KernelOpts configures OpenKernel. The zero value gives the documented defaults.
type KernelOpts struct {
	Sysfs string // sysfs mount, default "/sys"
	Dev   string // device directory, default "/dev"
}

// kernelDev is a PCI function bound to vfio-pci, through the group/container API or the
// device cdev with iommufd.
type kernelDev struct {
	what  string
	addr  string
	devFd int // the VFIO device
	// group/container
	groupFd, containerFd int
	// cdev + iommufd
	iommuFd int
	ioasID  uint32

	info vfio.DeviceInfo

	mu       sync.Mutex
	nextIOVA uint64
	ranges   []vfio.IOVARange  // where the IOMMU takes windows (type 1), nil: anywhere
	offsets  map[uint32]uint64 // region offsets in the device descriptor, as Region said
	reqFd    int               // eventfd of the request interrupt: the kernel asks us to let go (removal)
}

// kernelIOVABase is where windows go when the IOMMU says nothing about its ranges: above
// the 32-bit space, away from the MSI window at 0xfee00000.
const kernelIOVABase = 1 << 32

// ioctl issues a VFIO ioctl with a pointer argument.
func ioctl(fd int, req uintptr, arg unsafe.Pointer) (int, error) {
	r, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(arg))
	if e != 0 {
		return int(r), e
	}
	return int(r), nil
}

// ioctlInt issues a VFIO ioctl with an integer argument.
func ioctlInt(fd int, req uintptr, arg uintptr) (int, error) {
	r, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, arg)
	if e != 0 {
		return int(r), e
	}
	return int(r), nil
}

// OpenKernel opens the PCI function at addr (DDDD:BB:DD.F) through VFIO: the device cdev
// where the kernel has one (6.2+, with iommufd), else its IOMMU group and a container. A
// machine that is not set up for it gets an error wrapping ErrSetup that says what to do
// (Diagnose's findings).
func OpenKernel(addr string, opts KernelOpts) (Device, error) {
	if opts.Sysfs == "" {
		opts.Sysfs = "/sys"
	}
	if opts.Dev == "" {
		opts.Dev = "/dev"
	}
	what := "pcie:" + addr
	d, err := Diagnose(opts.Sysfs, opts.Dev, addr)
	if err != nil {
		return nil, err
	}
	k := &kernelDev{what: what, addr: addr, devFd: -1, groupFd: -1, containerFd: -1, iommuFd: -1, reqFd: -1, nextIOVA: kernelIOVABase}
	fail := func(err error) (Device, error) {
		k.Close()
		return nil, err
	}
	if d.CdevPath != "" {
		err = k.openCdev(d)
	} else {
		err = k.openGroup(d)
	}
	if err != nil {
		return fail(err)
	}
	k.info = vfio.DeviceInfo{Argsz: uint32(vfio.DeviceInfoSize)}
	if _, err := ioctl(k.devFd, vfio.IoctlDeviceGetInfo, unsafe.Pointer(&k.info)); err != nil {
		return fail(errorf("%s: VFIO_DEVICE_GET_INFO: %w", what, err))
	}
	// The kernel's request interrupt says the device is being removed (hot unplug, an
	// unbind): the board is gone then.
	if n, err := k.IRQCount(vfio.PCIReqIRQIndex); err == nil && n > 0 {
		fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
		if err != nil {
			return fail(errorf("%s: eventfd: %w", what, err))
		}
		if err := k.SetIRQs(vfio.PCIReqIRQIndex, []int{fd}); err != nil {
			unix.Close(fd) // an older kernel without it: removal shows as all-ones reads alone
		} else {
			k.reqFd = fd
		}
	}
	return k, nil
}

// openGroup is the group/container API: /dev/vfio/vfio and /dev/vfio/N.
func (k *kernelDev) openGroup(d Diagnosis) error {
	var err error
	if k.containerFd, err = unix.Open(filepath.Join(d.Dev, "vfio/vfio"), unix.O_RDWR|unix.O_CLOEXEC, 0); err != nil {
		return openErr(k.what, filepath.Join(d.Dev, "vfio/vfio"), err, "the vfio module (modprobe vfio-pci)")
	}
	v, err := ioctlInt(k.containerFd, vfio.IoctlGetAPIVersion, 0)
	if err != nil || v != vfio.APIVersion {
		return errorf("%s: VFIO API version %d (%v), this driver speaks %d: %w", k.what, v, err, vfio.APIVersion, ErrSetup)
	}
	if ok, err := ioctlInt(k.containerFd, vfio.IoctlCheckExtension, vfio.Type1v2IOMMU); err != nil || ok <= 0 {
		return errorf("%s: the kernel's VFIO has no type 1 v2 IOMMU (is the IOMMU on? %s): %w", k.what, iommuHint, ErrSetup)
	}
	if k.groupFd, err = unix.Open(d.GroupPath, unix.O_RDWR|unix.O_CLOEXEC, 0); err != nil {
		if errors.Is(err, unix.EBUSY) {
			return errorf("%s: %s is open in another process%s: %w", k.what, d.GroupPath, holderOf(d.GroupPath), ErrBusy)
		}
		return openErr(k.what, d.GroupPath, err, "")
	}
	st := vfio.GroupStatus{Argsz: uint32(vfio.GroupStatusSize)}
	if _, err := ioctl(k.groupFd, vfio.IoctlGroupGetStatus, unsafe.Pointer(&st)); err != nil {
		return errorf("%s: VFIO_GROUP_GET_STATUS: %w", k.what, err)
	}
	if st.Flags&vfio.GroupFlagsViable == 0 {
		return errorf("%s: IOMMU group %s is not viable: %s: %w", k.what, d.Group, d.groupAdvice(), ErrSetup)
	}
	cfd := int32(k.containerFd)
	if _, err := ioctl(k.groupFd, vfio.IoctlGroupSetContainer, unsafe.Pointer(&cfd)); err != nil {
		return errorf("%s: VFIO_GROUP_SET_CONTAINER: %w", k.what, err)
	}
	if _, err := ioctlInt(k.containerFd, vfio.IoctlSetIOMMU, vfio.Type1v2IOMMU); err != nil {
		return errorf("%s: VFIO_SET_IOMMU (type 1 v2): %w", k.what, err)
	}
	k.readIOVARanges()
	name := append([]byte(k.addr), 0)
	fd, err := ioctl(k.groupFd, vfio.IoctlGroupGetDeviceFD, unsafe.Pointer(&name[0]))
	if err != nil {
		if errors.Is(err, unix.EBUSY) {
			return errorf("%s: the device is open in another process%s: %w", k.what, holderOf(d.GroupPath), ErrBusy)
		}
		return errorf("%s: VFIO_GROUP_GET_DEVICE_FD: %w", k.what, err)
	}
	k.devFd = fd
	unix.CloseOnExec(fd)
	return nil
}

// readIOVARanges asks the type 1 IOMMU where windows may go (VFIO_IOMMU_GET_INFO's IOVA
// range capability), so that the windows avoid reserved ranges.
func (k *kernelDev) readIOVARanges() {
	buf := make([]byte, 4096)
	info := (*vfio.IOMMUType1Info)(unsafe.Pointer(&buf[0]))
	info.Argsz = uint32(len(buf))
	if _, err := ioctl(k.containerFd, vfio.IoctlIOMMUGetInfo, unsafe.Pointer(&buf[0])); err != nil {
		return
	}
	if info.Flags&vfio.IOMMUInfoCaps == 0 || info.Argsz > uint32(len(buf)) {
		return
	}
	for off, n := info.CapOffset, 0; off != 0 && n < 16; n++ {
		if int(off)+vfio.InfoCapHeaderSize > len(buf) {
			return
		}
		var h vfio.InfoCapHeader
		vfio.Decode(buf[off:], &h)
		if h.ID == vfio.IOMMUType1InfoCapIOVARangeID && int(off)+16 <= len(buf) {
			var c vfio.IOMMUType1InfoCapIOVARange
			vfio.Decode(buf[off:], &c)
			for i := 0; i < int(c.NrIOVAs); i++ {
				o := int(off) + 16 + i*vfio.IOVARangeSize
				if o+vfio.IOVARangeSize > len(buf) {
					break
				}
				var r vfio.IOVARange
				vfio.Decode(buf[o:], &r)
				k.ranges = append(k.ranges, r)
			}
		}
		off = h.Next
	}
}

// openCdev is the device cdev with iommufd: /dev/vfio/devices/vfioN and /dev/iommu.
func (k *kernelDev) openCdev(d Diagnosis) error {
	var err error
	if k.devFd, err = unix.Open(d.CdevPath, unix.O_RDWR|unix.O_CLOEXEC, 0); err != nil {
		if errors.Is(err, unix.EBUSY) {
			return errorf("%s: %s is open in another process%s: %w", k.what, d.CdevPath, holderOf(d.CdevPath), ErrBusy)
		}
		return openErr(k.what, d.CdevPath, err, "")
	}
	iommu := filepath.Join(d.Dev, "iommu")
	if k.iommuFd, err = unix.Open(iommu, unix.O_RDWR|unix.O_CLOEXEC, 0); err != nil {
		return openErr(k.what, iommu, err, "iommufd (CONFIG_IOMMUFD)")
	}
	bind := vfio.DeviceBindIOMMUFD{Argsz: uint32(unsafe.Sizeof(vfio.DeviceBindIOMMUFD{})), IOMMUFD: int32(k.iommuFd)}
	if _, err := ioctl(k.devFd, vfio.IoctlDeviceBindIOMMUFD, unsafe.Pointer(&bind)); err != nil {
		return errorf("%s: VFIO_DEVICE_BIND_IOMMUFD: %w", k.what, err)
	}
	alloc := vfio.IOASAlloc{Size: uint32(unsafe.Sizeof(vfio.IOASAlloc{}))}
	if _, err := ioctl(k.iommuFd, vfio.IoctlIOMMUIOASAlloc, unsafe.Pointer(&alloc)); err != nil {
		return errorf("%s: IOMMU_IOAS_ALLOC: %w", k.what, err)
	}
	k.ioasID = alloc.OutIOASID
	attach := vfio.DeviceAttachIOMMUFDPT{Argsz: uint32(unsafe.Sizeof(vfio.DeviceAttachIOMMUFDPT{})), PtID: k.ioasID}
	if _, err := ioctl(k.devFd, vfio.IoctlDeviceAttachIOMMUFDPT, unsafe.Pointer(&attach)); err != nil {
		return errorf("%s: VFIO_DEVICE_ATTACH_IOMMUFD_PT: %w", k.what, err)
	}
	return nil
}

// openErr explains a failed open of a VFIO node.
func openErr(what, path string, err error, missing string) error {
	switch {
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return errorf("%s: no permission to open %s: %s: %w", what, path, permissionHint, ErrSetup)
	case errors.Is(err, unix.ENOENT) && missing != "":
		return errorf("%s: %s does not exist: load %s: %w", what, path, missing, ErrSetup)
	case errors.Is(err, unix.ENOENT):
		return errorf("%s: %s does not exist (the device is not bound to vfio-pci?): %w", what, path, ErrSetup)
	}
	return errorf("%s: opening %s: %w", what, path, err)
}

func (k *kernelDev) String() string        { return k.what }
func (k *kernelDev) Info() vfio.DeviceInfo { return k.info }

// Region implements Device: VFIO_DEVICE_GET_REGION_INFO, again with room for the
// capabilities when it has some.
func (k *kernelDev) Region(index uint32) (RegionInfo, error) {
	buf := make([]byte, vfio.RegionInfoSize)
	for try := 0; try < 2; try++ {
		ri := (*vfio.RegionInfo)(unsafe.Pointer(&buf[0]))
		ri.Argsz, ri.Index = uint32(len(buf)), index
		if _, err := ioctl(k.devFd, vfio.IoctlDeviceGetRegionInfo, unsafe.Pointer(&buf[0])); err != nil {
			return RegionInfo{}, errorf("%s: VFIO_DEVICE_GET_REGION_INFO %d: %w", k.what, index, err)
		}
		if ri.Argsz > uint32(len(buf)) && ri.Argsz <= 1<<16 {
			buf = make([]byte, ri.Argsz)
			continue
		}
		break
	}
	// The kernel's answer is what vfio-user carries: one decoder for both.
	ri, err := vfiouser.DecodeRegionInfo(buf[:min(len(buf), int((*vfio.RegionInfo)(unsafe.Pointer(&buf[0])).Argsz))], index)
	if err != nil {
		return RegionInfo{}, errorf("%s: region %d: %v: %w", k.what, index, err, ErrProtocol)
	}
	return RegionInfo{Index: index, Flags: ri.Flags, Size: ri.Size, Offset: ri.Offset, Sparse: ri.Sparse, fd: -1}, nil
}

// MapRegion implements Device: mmap of the device at the region's offset; writes through
// it are MMIO.
func (k *kernelDev) MapRegion(r RegionInfo) ([]byte, bool, error) {
	if !r.Mappable() {
		return nil, false, errorf("%s: region %d cannot be mapped", k.what, r.Index)
	}
	mem, err := unix.Mmap(k.devFd, int64(r.Offset), int(r.Size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, false, errorf("%s: mapping region %d: %w", k.what, r.Index, err)
	}
	return mem, true, nil
}

// regionOffset is where region index is in the device descriptor, asked once.
func (k *kernelDev) regionOffset(index uint32) (uint64, error) {
	k.mu.Lock()
	off, ok := k.offsets[index]
	k.mu.Unlock()
	if ok {
		return off, nil
	}
	r, err := k.Region(index)
	if err != nil {
		return 0, err
	}
	k.mu.Lock()
	if k.offsets == nil {
		k.offsets = map[uint32]uint64{}
	}
	k.offsets[index] = r.Offset
	k.mu.Unlock()
	return r.Offset, nil
}

// ReadRegion implements Device: pread on the device.
func (k *kernelDev) ReadRegion(index uint32, off uint64, b []byte) error {
	base, err := k.regionOffset(index)
	if err != nil {
		return err
	}
	n, err := unix.Pread(k.devFd, b, int64(base+off))
	if err != nil || n != len(b) {
		return errorf("%s: reading %d bytes of region %d at %#x: %d, %v", k.what, len(b), index, off, n, err)
	}
	return nil
}

// WriteRegion implements Device: pwrite on the device (MMIO writes are posted anyway).
func (k *kernelDev) WriteRegion(index uint32, off uint64, b []byte, posted bool) error {
	base, err := k.regionOffset(index)
	if err != nil {
		return err
	}
	n, err := unix.Pwrite(k.devFd, b, int64(base+off))
	if err != nil || n != len(b) {
		return errorf("%s: writing %d bytes of region %d at %#x: %d, %v", k.what, len(b), index, off, n, err)
	}
	return nil
}

// Flush implements Device: pwrite returns once the kernel has done the MMIO write, and MMIO
// reads never pass MMIO writes on PCIe.
func (k *kernelDev) Flush() error { return nil }

// IRQCount implements Device.
func (k *kernelDev) IRQCount(index uint32) (uint32, error) {
	ii := vfio.IRQInfo{Argsz: uint32(vfio.IRQInfoSize), Index: index}
	if _, err := ioctl(k.devFd, vfio.IoctlDeviceGetIRQInfo, unsafe.Pointer(&ii)); err != nil {
		return 0, errorf("%s: VFIO_DEVICE_GET_IRQ_INFO %d: %w", k.what, index, err)
	}
	if ii.Count > 0 && ii.Flags&vfio.IRQInfoEventfd == 0 {
		return 0, errorf("%s: interrupt index %d cannot signal eventfds", k.what, index)
	}
	return ii.Count, nil
}

// SetIRQs implements Device: a vfio_irq_set followed by the eventfds.
func (k *kernelDev) SetIRQs(index uint32, fds []int) error {
	buf := make([]byte, vfio.IRQSetSize+4*len(fds))
	s := (*vfio.IRQSet)(unsafe.Pointer(&buf[0]))
	*s = vfio.IRQSet{Argsz: uint32(len(buf)), Flags: vfio.IRQSetDataEventfd | vfio.IRQSetActionTrigger, Index: index, Count: uint32(len(fds))}
	if len(fds) == 0 {
		s.Flags = vfio.IRQSetDataNone | vfio.IRQSetActionTrigger
	}
	for i, fd := range fds {
		*(*int32)(unsafe.Pointer(&buf[vfio.IRQSetSize+4*i])) = int32(fd)
	}
	if _, err := ioctl(k.devFd, vfio.IoctlDeviceSetIRQs, unsafe.Pointer(&buf[0])); err != nil {
		return errorf("%s: VFIO_DEVICE_SET_IRQS index %d: %w", k.what, index, err)
	}
	return nil
}

// chooseIOVA places a window of n bytes: after the last one, inside an IOVA range the
// IOMMU allows.
func (k *kernelDev) chooseIOVA(n uint64) (uint64, error) {
	const gap = 1 << 21
	start := (k.nextIOVA + gap - 1) &^ (gap - 1)
	if k.ranges == nil {
		return start, nil
	}
	for _, r := range k.ranges {
		s := max(start, (r.Start+gap-1)&^(gap-1))
		if s+n-1 <= r.End && s+n > s {
			return s, nil
		}
	}
	return 0, errorf("%s: no IOVA range of the IOMMU holds %d more bytes", k.what, n)
}

// MapDMA implements Device: VFIO_IOMMU_MAP_DMA (container) or IOMMU_IOAS_MAP (iommufd) of
// the window's memory, which the kernel pins.
func (k *kernelDev) MapDMA(w *DMA) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(w.Mem) == 0 || uint64(len(w.Mem)) < w.Size {
		return errorf("%s: window %s has no memory", k.what, w)
	}
	if w.IOVA == 0 {
		iova, err := k.chooseIOVA(w.Size)
		if err != nil {
			return err
		}
		w.IOVA = iova
	}
	vaddr := uint64(uintptr(unsafe.Pointer(&w.Mem[0])))
	var err error
	if k.iommuFd >= 0 {
		m := vfio.IOASMap{Size: uint32(unsafe.Sizeof(vfio.IOASMap{})), Flags: vfio.IOASMapFixedIOVA | vfio.IOASMapReadable, IOASID: k.ioasID, UserVA: vaddr, Length: w.Size, IOVA: w.IOVA}
		if w.Write {
			m.Flags |= vfio.IOASMapWriteable
		}
		_, err = ioctl(k.iommuFd, vfio.IoctlIOMMUIOASMap, unsafe.Pointer(&m))
	} else {
		m := vfio.DMAMap{Argsz: uint32(vfio.DMAMapSize), Flags: vfio.DMAMapFlagRead, Vaddr: vaddr, IOVA: w.IOVA, Size: w.Size}
		if w.Write {
			m.Flags |= vfio.DMAMapFlagWrite
		}
		_, err = ioctl(k.containerFd, vfio.IoctlIOMMUMapDMA, unsafe.Pointer(&m))
	}
	if err != nil {
		if errors.Is(err, unix.ENOMEM) {
			return errorf("%s: mapping %s for DMA: the memory cannot be pinned: raise the locked-memory limit (ulimit -l, or LimitMEMLOCK= for a service) to at least %d KiB, or ask for smaller rings and bulk window: %w", k.what, w, w.Size/1024, ErrSetup)
		}
		return errorf("%s: mapping %s for DMA: %w", k.what, w, err)
	}
	k.nextIOVA = w.IOVA + w.Size
	return nil
}

// UnmapDMA implements Device.
func (k *kernelDev) UnmapDMA(w *DMA) error {
	var err error
	if k.iommuFd >= 0 {
		u := vfio.IOASUnmap{Size: uint32(unsafe.Sizeof(vfio.IOASUnmap{})), IOASID: k.ioasID, IOVA: w.IOVA, Length: w.Size}
		_, err = ioctl(k.iommuFd, vfio.IoctlIOMMUIOASUnmap, unsafe.Pointer(&u))
	} else {
		u := vfio.DMAUnmap{Argsz: uint32(vfio.DMAUnmapSize), IOVA: w.IOVA, Size: w.Size}
		_, err = ioctl(k.containerFd, vfio.IoctlIOMMUUnmapDMA, unsafe.Pointer(&u))
	}
	if err != nil {
		return errorf("%s: unmapping %s: %w", k.what, w, err)
	}
	return nil
}

// Reset implements Device.
func (k *kernelDev) Reset() error {
	if k.info.Flags&vfio.DeviceFlagsReset == 0 {
		return errorf("%s: the function cannot be reset (no FLR)", k.what)
	}
	if _, err := ioctlInt(k.devFd, vfio.IoctlDeviceReset, 0); err != nil {
		return errorf("%s: VFIO_DEVICE_RESET: %w", k.what, err)
	}
	return nil
}

// GoneFd implements Device: the request interrupt.
func (k *kernelDev) GoneFd() int { return k.reqFd }

// Gone implements Device: the kernel asked for the device back (the board is being
// removed). A board that fell off the bus without it shows as all-ones reads, which the link
// checks.
func (k *kernelDev) Gone() error {
	if k.reqFd < 0 {
		return nil
	}
	p := []unix.PollFd{{Fd: int32(k.reqFd), Events: unix.POLLIN}}
	if n, _ := unix.Poll(p, 0); n > 0 && p[0].Revents&unix.POLLIN != 0 {
		return errorf("%s: the kernel asked for the device back (it is being removed): %w", k.what, ErrGone)
	}
	return nil
}

// Close implements Device.
func (k *kernelDev) Close() error {
	if k.devFd >= 0 {
		if k.reqFd >= 0 {
			k.SetIRQs(vfio.PCIReqIRQIndex, nil)
		}
		unix.Close(k.devFd) // the kernel resets the function and releases it
		k.devFd = -1
	}
	for _, fd := range []*int{&k.groupFd, &k.containerFd, &k.iommuFd, &k.reqFd} {
		if *fd >= 0 {
			unix.Close(*fd)
			*fd = -1
		}
	}
	return nil
}

// holderOf names the processes that have path open, from /proc (best effort: only those
// this user may look at).
func holderOf(path string) string {
	procs, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	seen := map[string]bool{}
	var who []string
	for _, p := range procs {
		if l, err := os.Readlink(p); err == nil && l == path {
			pid := filepath.Base(filepath.Dir(filepath.Dir(p)))
			if seen[pid] || pid == fmt.Sprint(os.Getpid()) {
				continue
			}
			seen[pid] = true
			comm, _ := os.ReadFile("/proc/" + pid + "/comm")
			who = append(who, fmt.Sprintf("pid %s (%s)", pid, trimNL(string(comm))))
		}
	}
	if len(who) == 0 {
		return ""
	}
	return ": " + join(who)
}

func trimNL(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == ' ') {
		s = s[:len(s)-1]
	}
	return s
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ", "
		}
		out += x
	}
	return out
}
