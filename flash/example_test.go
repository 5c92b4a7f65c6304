package flash_test

import (
	"fmt"
	"hash/crc32"

	"github.com/lrchip/lrchip/firmware/regmap"
	"github.com/lrchip/lrchip/flash"
	"github.com/lrchip/lrchip/flash/flashtest"
)

// An update writes the spare slot piece by piece, as the board does for FLASH_BEGIN,
// FLASH_DATA and FLASH_END, and the next boot picks it.
func Example() {
	dev, _ := flashtest.NewMem(3*64<<10, 4096) // any flash.Device: the emulator's, an SPI NOR driver
	slots, _ := flash.NewSlots(dev, flash.Opts{})
	_ = flash.WriteGolden(slots, regmap.MakeFWVersion(1, 0, 0), []byte("golden firmware"))

	fw := []byte("firmware 2.0.0, standing in for a bitstream")
	target := slots.Table().Spare(flash.Golden)
	w, err := slots.Begin(target, flash.Firmware{Version: regmap.MakeFWVersion(2, 0, 0), Size: len(fw), CRC32: crc32.ChecksumIEEE(fw)})
	if err != nil {
		fmt.Println(err)
		return
	}
	for off := 0; off < len(fw); off += 16 {
		if _, err := w.WriteAt(fw[off:min(off+16, len(fw))], int64(off)); err != nil {
			fmt.Println(err)
			return
		}
	}
	h, err := w.Commit()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("wrote slot %v, version %v, sequence %d\n", target, h.Version, h.Seq)
	st, _ := slots.Boot()
	fmt.Printf("boots slot %v, version %v\n", st.Slot, st.Header.Version)

	_, err = slots.Write(flash.Golden, regmap.MakeFWVersion(3, 0, 0), fw)
	fmt.Println(err)
	// Output:
	// wrote slot A, version 2.0.0, sequence 1
	// boots slot A, version 2.0.0
	// flash: begin slot golden: the golden slot is write-protected
}
