package spinor_test

import (
	"fmt"

	"periph.io/x/conn/v3/conntest"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"
	"periph.io/x/conn/v3/spi/spitest"

	"github.com/lrchip/lrchip/devices/spinor"
)

// A part is identified by its JEDEC id and SFDP table; here a recorded W25Q32 answers.
func Example() {
	sfdp := spinor.BasicTable(4<<20, false)
	port := &spitest.Playback{Playback: conntest.Playback{DontPanic: true, Ops: []conntest.IO{
		{W: []byte{0x9f, 0, 0, 0}, R: []byte{0, 0xef, 0x40, 0x16}},
		{W: append([]byte{0x5a, 0, 0, 0, 0}, make([]byte, 16)...), R: append(make([]byte, 5), sfdp[:16]...)},
		{W: append([]byte{0x5a, 0, 0, 16, 0}, make([]byte, 36)...), R: append(make([]byte, 5), sfdp[16:52]...)},
	}}}
	c, _ := port.Connect(50*physic.MegaHertz, spi.Mode0, 8)
	d, err := spinor.New(c, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(d.ID(), d.Size()>>20, "MiB, SFDP:", d.HasSFDP(), d.Geometry().SectorSize)
	// Output: EF 40 16 4 MiB, SFDP: true 4096
}
