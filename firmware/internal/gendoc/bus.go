package gendoc

import (
	"fmt"
	"strings"

	"github.com/lrchip/lrchip/firmware/regmap"
)

// busTables renders the parts on the board's buses (docs/regmap.md §12).
func busTables() string {
	var b strings.Builder
	b.WriteString("| SPI NOR part | JEDEC id | size | SFDP | 4-byte opcodes |\n|---|---|---|---|---|\n")
	for i, p := range regmap.FlashParts {
		name := p.Name
		if i == regmap.EmulatedFlash {
			name += " (the emulated board's)"
		}
		fmt.Fprintf(&b, "| %s | %02X %02X %02X | %d MiB | %s | %s |\n", name, p.JEDEC[0], p.JEDEC[1], p.JEDEC[2], p.Size>>20, yes(p.SFDP), yes(p.FourByte))
	}
	b.WriteString("\n| opcode | SPI NOR command |\n|---|---|\n")
	for _, o := range []struct {
		op   int
		what string
	}{
		{regmap.SPINorReadID, "read JEDEC id (3 bytes)"}, {regmap.SPINorReadSFDP, "read SFDP: 3 address bytes, 1 dummy byte"},
		{regmap.SPINorRDSR, "read status: bit 0 WIP (write in progress), bit 1 WEL (write enabled)"},
		{regmap.SPINorWREN, "write enable"}, {regmap.SPINorWRDI, "write disable"},
		{regmap.SPINorRead, "read (3-byte address, 4 in 4-byte mode)"}, {regmap.SPINorFastRead, "fast read: address, 1 dummy byte"},
		{regmap.SPINorPP, "page program: at most 256 bytes, wrapping within the page; only clears bits"},
		{regmap.SPINorSE, "erase the 4 KiB sector: every byte 0xFF"},
		{regmap.SPINorEN4B, "enter 4-byte address mode"}, {regmap.SPINorEX4B, "exit 4-byte address mode"},
		{regmap.SPINorRead4B, "read, 4-byte address"}, {regmap.SPINorPP4B, "page program, 4-byte address"}, {regmap.SPINorSE4B, "sector erase, 4-byte address"},
		{regmap.SPINorResetEn, "reset enable"}, {regmap.SPINorReset, "reset (after reset enable): 3-byte mode, write disabled"},
	} {
		fmt.Fprintf(&b, "| 0x%02X | %s |\n", o.op, o.what)
	}
	b.WriteString("\n| I²C address | part | what | shunt | max current |\n|---|---|---|---|---|\n")
	for _, s := range regmap.SensorParts {
		what, shunt, imax := "die temperature", "—", "—"
		if s.Part == "INA226" {
			what = "power monitor, rail " + s.Rail.String()
			shunt, imax = fmt.Sprintf("%g mΩ", s.ShuntMilliohm), fmt.Sprintf("%g A", s.MaxCurrentMA/1000)
		}
		fmt.Fprintf(&b, "| 0x%02X | %s | %s | %s | %s |\n", s.Addr, s.Part, what, shunt, imax)
	}
	return b.String()
}

func yes(v bool) string {
	if v {
		return "yes"
	}
	return "no"
}

// busCHeader renders the bus part of the C header.
func busCHeader() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("\n/* Buses (docs/regmap.md section 12) */\n")
	p("#define LRCHIP_SPI_FLAG_KEEP_CS 0x%xu\n#define LRCHIP_SPI_FLAG_READ 0x%xu\n", regmap.SPIFlagKeepCS, regmap.SPIFlagRead)
	p("#define LRCHIP_SPI_BUS_FLASH %d\n#define LRCHIP_I2C_BUS_SENSE %d\n", regmap.SPIBusFlash, regmap.I2CBusSense)
	p("#define LRCHIP_MAX_SPI_XFER %du\n#define LRCHIP_MAX_I2C_XFER %du\n", regmap.MaxSPIXfer, regmap.MaxI2CXfer)
	for _, s := range regmap.SensorParts {
		p("#define LRCHIP_I2C_ADDR_%s_%s 0x%02xu\n", s.Part, cname(s.Name), s.Addr)
	}
	return b.String()
}
