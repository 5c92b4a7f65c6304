package flash

// Device is a NOR flash: Erase sets whole sectors to 0xFF, Program can only clear bits
// (each byte becomes old AND new, so programming over data that was not erased corrupts
// it), Read returns what is there. Offsets and lengths are bytes from the start of the
// device. Implementations return an error, never panic, for a range outside the device or
// an unaligned erase, and bound their own waits (an SPI NOR driver polls its status with a
// timeout).
//
// The emulated board's flash model implements it, and so does a host-side SPI NOR driver.
type Device interface {
	// Erase erases [off, off+n); off and n are multiples of the sector size.
	Erase(off, n int) error
	// Program programs b at off.
	Program(off int, b []byte) error
	// Read reads len(b) bytes at off.
	Read(off int, b []byte) error
	// Geometry describes the device.
	Geometry() Geometry
}

// Geometry is the shape of a Device.
type Geometry struct {
	Size       int // bytes
	SectorSize int // the erase unit, bytes (a power of two)
}
