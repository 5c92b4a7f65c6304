package gendoc

import (
	"fmt"
	"strings"

	"github.com/lrchip/lrchip/firmware/regmap"
)

// pcieTables renders the PCIe function: what each part is, then the MSI-X vectors.
func pcieTables() string {
	var b strings.Builder
	b.WriteString("| part | what |\n|---|---|\n")
	for _, d := range regmap.PCIeDoc {
		fmt.Fprintf(&b, "| %s | %s |\n", cell(d.Term), cell(d.Doc))
	}
	b.WriteString("\n| MSI-X vector | name | IRQ_STATUS causes | what |\n|---|---|---|---|\n")
	for _, v := range regmap.MSIXVectors {
		var causes []string
		for _, f := range irqFields() {
			if v.Causes&f.Mask() != 0 {
				causes = append(causes, "`"+f.Name+"`")
			}
		}
		fmt.Fprintf(&b, "| %d | `%s` | %s | %s |\n", v.Vector, v.Name, strings.Join(causes, ", "), cell(v.Doc))
	}
	return b.String()
}

func irqFields() []regmap.Field {
	r, _ := regmap.RegisterAt(regmap.RegIRQStatus)
	return r.Fields
}

// pcieCHeader renders the PCIe part of the C header.
func pcieCHeader() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("\n/* PCIe function (docs/regmap.md §10) */\n")
	p("#define LRCHIP_PCI_BAR_REGS %d\n#define LRCHIP_PCI_BAR_MSIX %d\n#define LRCHIP_PCI_BAR_MSIX_SIZE %du\n", regmap.PCIBarRegs, regmap.PCIBarMSIX, regmap.PCIBarMSIXSize)
	p("#define LRCHIP_MSIX_TABLE_OFFSET 0x%03xu\n#define LRCHIP_MSIX_PBA_OFFSET 0x%03xu\n", regmap.MSIXTableOffset, regmap.MSIXPBAOffset)
	p("#define LRCHIP_PCI_CONFIG_SIZE %du\n#define LRCHIP_PCI_REVISION 0x%02xu\n#define LRCHIP_PCI_CLASS 0x%06xu\n#define LRCHIP_MSIX_CAP_OFFSET 0x%02xu\n", regmap.PCIConfigSize, regmap.PCIRevision, regmap.PCIClass, regmap.MSIXCapOffset)
	p("#define LRCHIP_NUM_MSIX_VECTORS %d\n", regmap.NumMSIXVectors)
	for _, v := range regmap.MSIXVectors {
		p("#define LRCHIP_MSIX_VECTOR_%s %d /* IRQ_STATUS causes 0x%xu */\n", v.Name, v.Vector, v.Causes)
	}
	p("#define LRCHIP_DMA_ALIGN %du\n#define LRCHIP_MIN_RING_CAPACITY %du\n#define LRCHIP_ALL_ONES 0x%08xu\n", regmap.DMAAlign, regmap.MinRingCapacity, regmap.AllOnes)
	return b.String()
}
