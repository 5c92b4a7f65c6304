package gendoc

import (
	"fmt"
	"strings"

	"github.com/lrchip/lrchip/firmware/regmap"
)

// ftdiTables renders the recovery port (docs/regmap.md §13).
func ftdiTables() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("| EEPROM product string (manufacturer %q) | board | slot size |\n|---|---|---|\n", regmap.FTDIManufacturer)
	for _, x := range regmap.FTDIBoards {
		size := "the flash's size / 3, rounded down to a sector (package flash's default)"
		if x.SlotSize != 0 {
			size = fmt.Sprintf("%d KiB", x.SlotSize>>10)
		}
		p("| %s | %s | %s |\n", x.Product, x.Board, size)
	}
	p("\n| endpoint | interface | direction | max packet | carries |\n|---|---|---|---|---|\n")
	p("| 0x00 | — | both | 64 | the vendor requests below, standard requests |\n")
	p("| 0x%02X | %d (channel A) | chip → host | %d | MPSSE's answers, %d status bytes first in every packet |\n", regmap.FTDIEndpointAIn, regmap.FTDIInterfaceA, regmap.FTDIMaxPacket, regmap.FTDIStatusSize)
	p("| 0x%02X | %d (channel A) | host → chip | %d | MPSSE commands |\n", regmap.FTDIEndpointAOut, regmap.FTDIInterfaceA, regmap.FTDIMaxPacket)
	p("| 0x%02X | %d (channel B) | chip → host | %d | the board's UART (ftdi_sio's) |\n", regmap.FTDIEndpointBIn, regmap.FTDIInterfaceB, regmap.FTDIMaxPacket)
	p("| 0x%02X | %d (channel B) | host → chip | %d | the board's UART |\n", regmap.FTDIEndpointBOut, regmap.FTDIInterfaceB, regmap.FTDIMaxPacket)

	p("\n| ADBUS bit | pin | wired to | while the FPGA is held |\n|---|---|---|---|\n")
	for _, pin := range []struct {
		mask      byte
		name, to  string
		whileHeld string
	}{
		{regmap.FTDIPinSCK, "ADBUS0", "flash SCK", "output: idles low (mode 0) or high (mode 3)"},
		{regmap.FTDIPinMOSI, "ADBUS1", "flash DI", "output"},
		{regmap.FTDIPinMISO, "ADBUS2", "flash DO", "input"},
		{regmap.FTDIPinCS, "ADBUS4", "flash CS#", "output: low for a transaction"},
		{regmap.FTDIPinCDONE, "ADBUS6", "FPGA CDONE", "input: high once the FPGA configured"},
		{regmap.FTDIPinCRESET, "ADBUS7", "FPGA CRESET_B (pulled up)", "output, low: the FPGA in reset"},
	} {
		p("| 0x%02X | %s | %s | %s |\n", pin.mask, pin.name, pin.to, pin.whileHeld)
	}

	p("\n| bRequest | request | bmRequestType | wValue | data | what |\n|---|---|---|---|---|---|\n")
	for _, r := range []struct {
		req       regmap.FTDIRequest
		name      string
		in        bool
		val, data string
		doc       string
	}{
		{regmap.FTDIReqReset, "RESET", false, fmt.Sprintf("%d SIO, %d or %d purge a FIFO", regmap.FTDIResetSIO, regmap.FTDIPurge1, regmap.FTDIPurge2), "—",
			"reset the channel, or empty one of its FIFOs (the host purges both)"},
		{regmap.FTDIReqSetLatency, "SET_LATENCY_TIMER", false, "1 to 255 ms", "—", fmt.Sprintf("how long a partial packet waits (%d ms after reset)", regmap.FTDIDefaultLatency)},
		{regmap.FTDIReqGetLatency, "GET_LATENCY_TIMER", true, "0", "1 byte", "the latency timer"},
		{regmap.FTDIReqSetBitmode, "SET_BITMODE", false, fmt.Sprintf("mode << 8 \\| pin mask: 0x%02X the UART, 0x%02X MPSSE", regmap.FTDIBitmodeReset, regmap.FTDIBitmodeMPSSE), "—",
			"the channel's function; MPSSE starts with every pin an input"},
		{regmap.FTDIReqReadPins, "READ_PINS", true, "0", "1 byte", "ADBUS7..0 now"},
	} {
		rt := fmt.Sprintf("0x%02X", regmap.USBVendorOut)
		if r.in {
			rt = fmt.Sprintf("0x%02X", regmap.USBVendorIn)
		}
		p("| 0x%02X | `%s` | %s | %s | %s | %s |\n", uint8(r.req), r.name, rt, r.val, r.data, r.doc)
	}

	p("\n| opcode | command | arguments | answer | what |\n|---|---|---|---|---|\n")
	for _, o := range regmap.MPSSEOps {
		args := "—"
		switch {
		case o.Clock && o.Writes:
			args = "length − 1 (u16), then length bytes"
		case o.Clock:
			args = "length − 1 (u16)"
		case o.Args > 0:
			args = fmt.Sprintf("%d bytes", o.Args)
		}
		ans := "—"
		switch {
		case o.Clock && o.Reads > 0:
			ans = "length bytes"
		case o.Reads > 0:
			ans = fmt.Sprintf("%d byte", o.Reads)
		}
		p("| 0x%02X | `%s` | %s | %s | %s |\n", o.Op, o.Name, args, ans, cell(o.Doc))
	}
	p("| other | — | — | 0x%02X, the opcode | an opcode outside the subset: the host synchronises with 0xAA and 0xAB |\n", regmap.MPSSEBadCommand)

	for _, d := range append([]*regmap.Descriptor{&regmap.FTDIDeviceDescriptor}, regmap.FTDIConfigDescriptors[:2]...) {
		p("\n%s descriptor\n\n| offset | field | size | value | meaning |\n|---|---|---|---|---|\n", d.Name)
		off := 0
		for _, f := range d.Fields {
			v := fmt.Sprintf("0x%0*X", 2*f.Size, f.HS)
			switch f.Name {
			case "bLength":
				v = fmt.Sprint(d.Size())
			case "wTotalLength":
				v = fmt.Sprint(len(regmap.FTDIConfigDescriptorBytes()))
			}
			p("| %d | `%s` | %d | %s | %s |\n", off, f.Name, f.Size, v, cell(f.Doc))
			off += f.Size
		}
	}
	p("\nInterface 1 (channel B) repeats interface 0 with endpoints 0x%02X and 0x%02X; every endpoint is bulk, %d bytes.\n",
		regmap.FTDIEndpointBIn, regmap.FTDIEndpointBOut, regmap.FTDIMaxPacket)
	return b.String()
}
