package gendoc

import (
	"fmt"
	"strings"

	"github.com/lrchip/lrchip/firmware/regmap"
)

func regmapBlocks() map[string]string {
	return map[string]string{
		"regmap-ids":       idsTable(),
		"regmap-registers": registersTable(),
		"regmap-fields":    fieldsTables(),
		"regmap-records":   recordsTables(),
		"regmap-ops":       opsTables(),
		"regmap-results":   resultsTable(),
		"regmap-events":    eventsTable(),
		"regmap-flash":     layoutTable(&regmap.SlotHeaderLayout),
		"regmap-setup":     layoutTable(&regmap.HelloLayout) + "\n" + layoutTable(&regmap.HelloReplyLayout),
		"regmap-pcie":      pcieTables(),
		"regmap-usb":       usbDescriptorsTables(),
		"regmap-usb-req":   usbRequestsTables(),
		"regmap-usb-frame": usbFramesTable(),
		"regmap-bus":       busTables(),
		"regmap-ftdi":      ftdiTables(),
	}
}

// cell escapes text for a markdown table cell.
func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func idsTable() string {
	var b strings.Builder
	b.WriteString("| bus | vendor | product/device | what |\n|---|---|---|---|\n")
	fmt.Fprintf(&b, "| USB | 0x%04x | 0x%04x | prototype board (pid.codes, test range) |\n", regmap.USBVendorID, regmap.USBProductID)
	fmt.Fprintf(&b, "| PCIe | 0x%04x | 0x%04x | prototype board |\n", regmap.PCIVendorID, regmap.PCIDeviceID)
	fmt.Fprintf(&b, "| USB | 0x%04x | 0x%04x | a board's recovery port: its FT2232H, manufacturer string %q (§13) |\n", regmap.FTDIVendorID, regmap.FTDIProductID, regmap.FTDIManufacturer)
	b.WriteString("\n| BOARD_ID | board |\n|---|---|\n")
	for _, k := range []regmap.BoardKind{regmap.BoardEmulator, regmap.BoardPCIe, regmap.BoardUSB} {
		fmt.Fprintf(&b, "| %d | %s |\n", k, k)
	}
	return b.String()
}

func registersTable() string {
	var b strings.Builder
	b.WriteString("| offset | register | access | meaning |\n|---|---|---|---|\n")
	for _, r := range regmap.Registers {
		fmt.Fprintf(&b, "| 0x%03X | `%s` | %s | %s |\n", r.Offset, r.Name, r.Access, cell(r.Doc))
	}
	return b.String()
}

func bits(f regmap.Field) string {
	if f.Width == 1 {
		return fmt.Sprint(f.Lsb)
	}
	return fmt.Sprintf("%d..%d", f.Lsb+f.Width-1, f.Lsb)
}

func fieldsTables() string {
	var b strings.Builder
	for _, r := range regmap.Registers {
		if len(r.Fields) == 0 {
			continue
		}
		fmt.Fprintf(&b, "`%s` (0x%03X)\n\n| bits | field | meaning |\n|---|---|---|\n", r.Name, r.Offset)
		for _, f := range r.Fields {
			fmt.Fprintf(&b, "| %s | `%s` | %s |\n", bits(f), f.Name, cell(f.Doc))
		}
		b.WriteString("\n")
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func layoutTable(l *regmap.Layout) string {
	var b strings.Builder
	fmt.Fprintf(&b, "`lrchip_%s`", l.Name)
	if l.Doc != "" {
		fmt.Fprintf(&b, ": %s", l.Doc)
	}
	fmt.Fprintf(&b, " (%d bytes", l.Size)
	if l.Tail != "" {
		fmt.Fprintf(&b, ", then %s", l.Tail)
	}
	b.WriteString(")\n\n")
	if len(l.Fields) > 0 {
		b.WriteString("| offset | field | type | meaning |\n|---|---|---|---|\n")
		for _, f := range l.Fields {
			fmt.Fprintf(&b, "| 0x%02X | `%s` | %s | %s |\n", f.Off, f.Name, f.Type, cell(f.Doc))
		}
	}
	return b.String()
}

func recordsTables() string {
	var b strings.Builder
	b.WriteString("| type | record | rings |\n|---|---|---|\n")
	for _, r := range regmap.RecordTypes {
		fmt.Fprintf(&b, "| 0x%04X | `%s` | %s |\n", r.Type, r.Name, r.Rings)
	}
	for _, r := range regmap.RecordTypes {
		b.WriteString("\n")
		b.WriteString(layoutTable(r.Layout))
	}
	b.WriteString("\n")
	b.WriteString(layoutTable(&regmap.SpikeLayout))
	return b.String()
}

func opsTables() string {
	var b strings.Builder
	b.WriteString("| op | command | quiet | arguments | result | what |\n|---|---|---|---|---|---|\n")
	name := func(l *regmap.Layout) string {
		if l == nil {
			return "—"
		}
		return "`lrchip_" + l.Name + "`"
	}
	for _, o := range regmap.Ops {
		q := ""
		if o.Quiet {
			q = "yes"
		}
		fmt.Fprintf(&b, "| 0x%02X | `%s` | %s | %s | %s | %s |\n", uint16(o.Op), o.Name, q, name(o.Args), name(o.Result), cell(o.Doc))
	}
	seen := map[*regmap.Layout]bool{}
	for _, o := range regmap.Ops {
		for _, l := range []*regmap.Layout{o.Args, o.Result} {
			if l == nil || seen[l] {
				continue
			}
			seen[l] = true
			b.WriteString("\n")
			b.WriteString(layoutTable(l))
		}
	}
	for _, l := range []*regmap.Layout{&regmap.RailLayout, &regmap.SlotLayout} {
		b.WriteString("\n")
		b.WriteString(layoutTable(l))
	}
	return b.String()
}

func resultsTable() string {
	var b strings.Builder
	b.WriteString("| code | result | meaning |\n|---|---|---|\n")
	for _, r := range regmap.Results {
		fmt.Fprintf(&b, "| %d | `%s` | %s |\n", r.Result, r.Name, cell(r.Doc))
	}
	return b.String()
}

func eventsTable() string {
	var b strings.Builder
	b.WriteString("| code | event | meaning |\n|---|---|---|\n")
	for _, e := range regmap.Events {
		fmt.Fprintf(&b, "| %d | `%s` | %s |\n", e.Code, e.Name, cell(e.Doc))
	}
	return b.String()
}

// CHeader renders the C header for the FPGA firmware: every register, bit, code and layout
// of firmware/regmap, with static assertions on every offset.
func CHeader() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p(`/* lrchip_regmap.h: the lrchip board protocol (registers, records, flash layout, ids).
 *
 * GENERATED by "go generate ./firmware/..." from firmware/regmap (Go). DO NOT EDIT.
 * docs/regmap.md explains it. All fields are little-endian. The ring layout itself
 * (header, positions, record header) is runtime/ring's.
 */
#ifndef LRCHIP_REGMAP_H
#define LRCHIP_REGMAP_H

#include <stddef.h>
#include <stdint.h>

`)
	p("/* Bus ids */\n")
	p("#define LRCHIP_USB_VENDOR_ID  0x%04xu\n#define LRCHIP_USB_PRODUCT_ID 0x%04xu\n", regmap.USBVendorID, regmap.USBProductID)
	p("#define LRCHIP_PCI_VENDOR_ID  0x%04xu\n#define LRCHIP_PCI_DEVICE_ID  0x%04xu\n\n", regmap.PCIVendorID, regmap.PCIDeviceID)
	p("/* Versions */\n#define LRCHIP_PROTOCOL_VERSION 0x%08xu /* %s */\n#define LRCHIP_CAP_VERSION %du\n\n", uint32(regmap.ProtocolVersion), regmap.ProtocolVersion, regmap.CapVersion)
	p("/* Board kinds (BOARD_ID) */\n")
	for _, k := range []regmap.BoardKind{regmap.BoardEmulator, regmap.BoardPCIe, regmap.BoardUSB} {
		p("#define LRCHIP_BOARD_%s %du\n", cname(k.String()), k)
	}
	p("\n/* Register file */\n#define LRCHIP_BAR_SIZE %du\n#define LRCHIP_MAGIC 0x%08xu /* \"LRCH\" */\n", regmap.BARSize, regmap.Magic)
	for _, r := range regmap.Registers {
		p("#define LRCHIP_REG_%-22s 0x%03xu /* %s */\n", r.Name, r.Offset, r.Access)
	}
	p("#define LRCHIP_REG_RING_BASE_LO(i) (0x%03xu + (i) * 0x%02xu)\n", regmap.RegRingBase, regmap.RingRegStride)
	p("#define LRCHIP_REG_RING_BASE_HI(i) (0x%03xu + (i) * 0x%02xu)\n", regmap.RegRingBase+4, regmap.RingRegStride)
	p("#define LRCHIP_REG_RING_SIZE(i)    (0x%03xu + (i) * 0x%02xu)\n", regmap.RegRingBase+8, regmap.RingRegStride)
	for _, r := range regmap.Registers {
		if len(r.Fields) == 0 {
			continue
		}
		p("\n/* %s fields */\n", r.Name)
		for _, f := range r.Fields {
			n := r.Name + "_" + f.Name
			if f.Width == 1 {
				p("#define LRCHIP_%-28s (1u << %d)\n", n, f.Lsb)
			} else {
				p("#define LRCHIP_%-28s %d\n#define LRCHIP_%-28s 0x%08xu\n", n+"_SHIFT", f.Lsb, n+"_MASK", f.Mask())
			}
		}
	}
	p("\n/* Rings */\n")
	for i := regmap.Ring(0); i < regmap.NumRings; i++ {
		p("#define LRCHIP_RING_%s %d\n", i, i)
	}
	p("\n/* Record types (the ring record header's type) */\n")
	for _, r := range regmap.RecordTypes {
		p("#define LRCHIP_TYPE_%s 0x%04xu\n", r.Name, r.Type)
	}
	p("\n/* Opcodes */\n")
	for _, o := range regmap.Ops {
		p("#define LRCHIP_OP_%s 0x%02xu\n", o.Name, uint16(o.Op))
	}
	p("#define LRCHIP_CMD_FLAG_QUIET 0x%04xu\n#define LRCHIP_LOAD_FLAG_DRY_RUN 0x%xu\n", regmap.CmdFlagQuiet, regmap.LoadFlagDryRun)
	p("\n/* Completion results */\n")
	for _, r := range regmap.Results {
		p("#define LRCHIP_RESULT_%s %du\n", r.Name, r.Result)
	}
	p("#define LRCHIP_MAX_MESSAGE %du\n", regmap.MaxMessage)
	p("\n/* Events */\n")
	for _, e := range regmap.Events {
		p("#define LRCHIP_EVENT_%s %du\n", e.Name, e.Code)
	}
	p("#define LRCHIP_THROTTLE_THERMAL 0x%xu\n#define LRCHIP_THROTTLE_POWER 0x%xu\n", regmap.ThrottleThermal, regmap.ThrottlePower)
	p("\n/* Power rails */\n")
	for r := regmap.Rail(0); r < regmap.NumRails; r++ {
		p("#define LRCHIP_RAIL_%s %du\n", cname(r.String()), r)
	}
	p("\n/* Flash */\n#define LRCHIP_SLOT_GOLDEN %d\n#define LRCHIP_SLOT_A %d\n#define LRCHIP_SLOT_B %d\n", regmap.SlotGolden, regmap.SlotA, regmap.SlotB)
	p("#define LRCHIP_SLOT_VALID 0x%xu\n#define LRCHIP_SLOT_FLAG_GOLDEN 0x%xu\n#define LRCHIP_SLOT_BOOTED 0x%xu\n", regmap.SlotValid, regmap.SlotFlagGolden, regmap.SlotBooted)
	p("#define LRCHIP_SLOT_MAGIC 0x%08xu\n#define LRCHIP_SLOT_DATA_OFFSET %du\n#define LRCHIP_FLASH_SECTOR_SIZE %du\n", regmap.SlotMagic, regmap.SlotDataOffset, regmap.FlashSectorSize)
	p("\n/* Emulator transport setup */\n#define LRCHIP_HELLO_MAGIC 0x%08xu\n#define LRCHIP_HELLO_REPLY_MAGIC 0x%08xu\n#define LRCHIP_HELLO_QUERY 0x%xu\n#define LRCHIP_SETUP_FDS %d\n",
		regmap.HelloMagic, regmap.HelloReplyMagic, regmap.HelloQuery, regmap.SetupFds)
	for _, s := range []struct {
		n string
		v regmap.SetupStatus
	}{{"OK", regmap.SetupOK}, {"BUSY", regmap.SetupBusy}, {"VERSION", regmap.SetupVersion}, {"ERROR", regmap.SetupError}} {
		p("#define LRCHIP_SETUP_%s %du\n", s.n, s.v)
	}
	b.WriteString(pcieCHeader())
	p("\n/* USB function (docs/regmap.md section 11) */\n")
	p("#define LRCHIP_USB_CONFIG %du\n#define LRCHIP_USB_INTERFACE %du\n#define LRCHIP_USB_EP_OUT 0x%02xu\n#define LRCHIP_USB_EP_IN 0x%02xu\n",
		regmap.USBConfigValue, regmap.USBInterface, regmap.USBEndpointOut, regmap.USBEndpointIn)
	p("#define LRCHIP_USB_MAX_PACKET_HS %du\n#define LRCHIP_USB_MAX_PACKET_SS %du\n", regmap.USBMaxPacketHS, regmap.USBMaxPacketSS)
	p("#define LRCHIP_USB_VENDOR_IN 0x%02xu\n#define LRCHIP_USB_VENDOR_OUT 0x%02xu\n", regmap.USBVendorIn, regmap.USBVendorOut)
	for _, r := range regmap.USBRequests {
		p("#define LRCHIP_USB_REQ_%s 0x%02xu\n", r.Name, uint8(r.Req))
	}
	p("#define LRCHIP_USB_MAX_REG_READ %du\n#define LRCHIP_USB_FRAME_SYNC 0x%02xu\n#define LRCHIP_USB_FRAME_ALIGN %du\n", regmap.USBMaxRegRead, regmap.FrameSync, regmap.FrameAlign)
	p("#define LRCHIP_USB_STR_MANUFACTURER %d\n#define LRCHIP_USB_STR_PRODUCT %d\n#define LRCHIP_USB_STR_SERIAL %d\n", regmap.USBStrManufacturer, regmap.USBStrProduct, regmap.USBStrSerial)
	for _, s := range []regmap.USBSpeed{regmap.USBHighSpeed, regmap.USBSuperSpeed} {
		suffix := "HS"
		if s == regmap.USBSuperSpeed {
			suffix = "SS"
		}
		cBytes(&b, "lrchip_usb_device_desc_"+strings.ToLower(suffix), regmap.USBDeviceDescriptorBytes(s))
		cBytes(&b, "lrchip_usb_config_desc_"+strings.ToLower(suffix), regmap.USBConfigDescriptorBytes(s))
		cBytes(&b, "lrchip_usb_bos_desc_"+strings.ToLower(suffix), regmap.USBBOSDescriptorBytes(s))
	}
	b.WriteString(busCHeader())
	p("\n/* Layouts */\n")
	seen := map[string]bool{}
	var layouts []*regmap.Layout
	for _, r := range regmap.RecordTypes {
		layouts = append(layouts, r.Layout)
	}
	layouts = append(layouts, &regmap.SpikeLayout)
	for _, o := range regmap.Ops {
		layouts = append(layouts, o.Args, o.Result)
	}
	layouts = append(layouts, &regmap.RailLayout, &regmap.SlotLayout, &regmap.SlotHeaderLayout, &regmap.HelloLayout, &regmap.HelloReplyLayout,
		&regmap.USBIdentityLayout, &regmap.USBAttachLayout, &regmap.FrameLayout)
	for _, l := range layouts {
		if l == nil || len(l.Fields) == 0 || seen[l.Name] {
			continue
		}
		seen[l.Name] = true
		cStruct(&b, l)
	}
	p("#endif /* LRCHIP_REGMAP_H */\n")
	return b.String()
}

// cBytes writes a byte array.
func cBytes(b *strings.Builder, name string, v []byte) {
	fmt.Fprintf(b, "static const uint8_t %s[%d] = {", name, len(v))
	for i, c := range v {
		if i%12 == 0 {
			b.WriteString("\n\t")
		} else {
			b.WriteString(" ")
		}
		fmt.Fprintf(b, "0x%02x,", c)
	}
	b.WriteString("\n};\n")
}

func cname(s string) string {
	return strings.ToUpper(strings.NewReplacer("-", "_", " ", "_").Replace(s))
}

var ctypes = map[string]string{"u8": "uint8_t", "u16": "uint16_t", "u32": "uint32_t", "u64": "uint64_t", "i32": "int32_t", "i64": "int64_t"}

func cStruct(b *strings.Builder, l *regmap.Layout) {
	name := "lrchip_" + l.Name
	if l.Doc != "" {
		fmt.Fprintf(b, "\n/* %s", l.Doc)
	} else {
		fmt.Fprintf(b, "\n/* %s", l.Name)
	}
	if l.Tail != "" {
		fmt.Fprintf(b, "; followed by %s", l.Tail)
	}
	b.WriteString(" */\n")
	fmt.Fprintf(b, "typedef struct %s {\n", name)
	for _, f := range l.Fields {
		typ, arr := f.Type, ""
		if i := strings.IndexByte(typ, '['); i >= 0 {
			typ, arr = typ[:i], typ[i:]
		}
		fmt.Fprintf(b, "\t%-8s %s%s; /* 0x%02x: %s */\n", ctypes[typ], f.Name, arr, f.Off, f.Doc)
	}
	fmt.Fprintf(b, "} %s;\n", name)
	fmt.Fprintf(b, "_Static_assert(sizeof(%s) == %d, \"%s size\");\n", name, l.Size, name)
	for _, f := range l.Fields {
		fmt.Fprintf(b, "_Static_assert(offsetof(%s, %s) == %d, \"%s.%s\");\n", name, f.Name, f.Off, name, f.Name)
	}
}

// UdevRules renders udev/70-lrchip.rules from the bus ids.
func UdevRules() string {
	return fmt.Sprintf(`# 70-lrchip.rules: give the %[1]q group access to lrchip boards.
# GENERATED by "go generate ./firmware/..." from firmware/regmap (ids.go, ftdi.go). DO NOT EDIT.
# Install: copy to /etc/udev/rules.d/, "groupadd --system %[1]s", add the lab's users to it,
# then "udevadm control --reload && udevadm trigger".

# USB prototype board (pid.codes 0x%04[2]x, product 0x%04[3]x): the libusb device node.
SUBSYSTEM=="usb", ENV{DEVTYPE}=="usb_device", ATTR{idVendor}=="%04[2]x", ATTR{idProduct}=="%04[3]x", MODE="0660", GROUP="%[1]s", TAG+="uaccess"

# A board's recovery port (lrctl fw recover): its FT2232H (0x%04[6]x:0x%04[7]x), only where the
# EEPROM names the manufacturer %[8]q, so that other FTDI adapters on the machine stay as they
# are. The kernel's ftdi_sio keeps the chip's serial ports; lrctl detaches it from channel A
# alone while it writes the flash and gives it back after.
SUBSYSTEM=="usb", ENV{DEVTYPE}=="usb_device", ATTR{idVendor}=="%04[6]x", ATTR{idProduct}=="%04[7]x", ATTR{manufacturer}=="%[8]s", MODE="0660", GROUP="%[1]s", TAG+="uaccess"

# PCIe board (0x%04[4]x:0x%04[5]x) bound to vfio-pci: its VFIO device node (kernel 6.2+ cdev).
SUBSYSTEM=="vfio-dev", ATTRS{vendor}=="0x%04[4]x", ATTRS{device}=="0x%04[5]x", MODE="0660", GROUP="%[1]s"
# ... and, for the group API, its IOMMU group's node /dev/vfio/N (which has no parent device to
# match: set when the board binds to vfio-pci).
SUBSYSTEM=="pci", ACTION=="bind", DRIVER=="vfio-pci", ATTR{vendor}=="0x%04[4]x", ATTR{device}=="0x%04[5]x", RUN+="/bin/sh -c 'g=$$(basename $$(readlink /sys%%p/iommu_group)); chgrp %[1]s /dev/vfio/$$g && chmod g+rw /dev/vfio/$$g'"
# ... bound to uio_pci_generic (the fallback): the uio node.
SUBSYSTEM=="uio", ATTRS{vendor}=="0x%04[4]x", ATTRS{device}=="0x%04[5]x", MODE="0660", GROUP="%[1]s"
# ... and its sysfs BAR and config files, for the sysfs-mmap fallback.
SUBSYSTEM=="pci", ACTION=="add|bind", ATTR{vendor}=="0x%04[4]x", ATTR{device}=="0x%04[5]x", RUN+="/bin/chgrp %[1]s /sys%%p/config /sys%%p/resource0", RUN+="/bin/chmod g+rw /sys%%p/config /sys%%p/resource0"
`, regmap.UdevGroup, regmap.USBVendorID, regmap.USBProductID, regmap.PCIVendorID, regmap.PCIDeviceID,
		regmap.FTDIVendorID, regmap.FTDIProductID, regmap.FTDIManufacturer)
}

// --- the USB function ---

func usbDescriptorsTables() string {
	var b strings.Builder
	b.WriteString("| endpoint | type | direction | max packet (high / super speed) | carries |\n|---|---|---|---|---|\n")
	fmt.Fprintf(&b, "| 0x00 | control | both | 64 / 512 | standard requests, the vendor requests of §11.2 |\n")
	fmt.Fprintf(&b, "| 0x%02X | bulk | host → board | %d / %d | frames of `CMD` and `SPKIN` records |\n", regmap.USBEndpointOut, regmap.USBMaxPacketHS, regmap.USBMaxPacketSS)
	fmt.Fprintf(&b, "| 0x%02X | bulk | board → host | %d / %d | frames of `CPL` and `OUT` records |\n", regmap.USBEndpointIn, regmap.USBMaxPacketHS, regmap.USBMaxPacketSS)
	descs := append([]*regmap.Descriptor{&regmap.USBDeviceDescriptor}, regmap.USBConfigDescriptors...)
	descs = append(descs, regmap.USBBOSDescriptors...)
	seen := map[*regmap.Descriptor]bool{}
	for _, d := range descs {
		if seen[d] {
			continue
		}
		seen[d] = true
		fmt.Fprintf(&b, "\n%s descriptor", d.Name)
		if d.Doc != "" {
			fmt.Fprintf(&b, ": %s", d.Doc)
		}
		if len(d.Speeds) == 1 {
			fmt.Fprintf(&b, " (%s only)", d.Speeds[0])
		}
		b.WriteString("\n\n| offset | field | size | high speed | super speed | meaning |\n|---|---|---|---|---|---|\n")
		off := 0
		for _, f := range d.Fields {
			hs, ss := descValue(d, f, regmap.USBHighSpeed), descValue(d, f, regmap.USBSuperSpeed)
			fmt.Fprintf(&b, "| %d | `%s` | %d | %s | %s | %s |\n", off, f.Name, f.Size, hs, ss, cell(f.Doc))
			off += f.Size
		}
	}
	b.WriteString("\n| string | index | value |\n|---|---|---|\n")
	fmt.Fprintf(&b, "| languages | 0 | 0x%04X (English, United States) |\n", regmap.USBLangID)
	fmt.Fprintf(&b, "| manufacturer | %d | %s |\n", regmap.USBStrManufacturer, regmap.USBStrings[regmap.USBStrManufacturer])
	fmt.Fprintf(&b, "| product | %d | %s |\n", regmap.USBStrProduct, regmap.USBStrings[regmap.USBStrProduct])
	fmt.Fprintf(&b, "| serial number | %d | the `SERIAL` register in decimal (`usb:%04x:%04x:SERIAL`) |\n", regmap.USBStrSerial, regmap.USBVendorID, regmap.USBProductID)
	return b.String()
}

func descValue(d *regmap.Descriptor, f regmap.DescField, s regmap.USBSpeed) string {
	if !d.At(s) {
		return "—"
	}
	v := f.HS
	if s == regmap.USBSuperSpeed {
		v = f.SS
	}
	switch f.Name {
	case "bLength":
		return fmt.Sprint(d.Size())
	case "wTotalLength":
		if d == &regmap.USBConfigDescriptor {
			return fmt.Sprint(len(regmap.USBConfigDescriptorBytes(s)))
		}
		return fmt.Sprint(len(regmap.USBBOSDescriptorBytes(s)))
	}
	return fmt.Sprintf("0x%0*X", 2*f.Size, v)
}

func usbRequestsTables() string {
	var b strings.Builder
	b.WriteString("| bRequest | request | bmRequestType | wValue | wIndex | wLength | what | stalled when |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range regmap.USBRequests {
		rt := fmt.Sprintf("0x%02X (OUT)", regmap.USBVendorOut)
		if r.In {
			rt = fmt.Sprintf("0x%02X (IN)", regmap.USBVendorIn)
		}
		what := r.Doc
		if r.Data != nil {
			what = "`lrchip_" + r.Data.Name + "`: " + what
		}
		fmt.Fprintf(&b, "| 0x%02X | `%s` | %s | %s | %s | %s | %s | %s |\n", uint8(r.Req), r.Name, rt, r.Value, r.Index, r.Length, cell(what), cell(r.Stalled))
	}
	b.WriteString("\n")
	b.WriteString(layoutTable(&regmap.USBIdentityLayout))
	b.WriteString("\n")
	b.WriteString(layoutTable(&regmap.USBAttachLayout))
	return b.String()
}

func usbFramesTable() string {
	return layoutTable(&regmap.FrameLayout)
}
