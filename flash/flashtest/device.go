package flashtest

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/flash"
)

// TestDevice checks that a Device behaves as a NOR flash: a new device reads 0xFF, Erase
// sets whole sectors (and only them) to 0xFF, Program can only clear bits, and an
// unaligned erase or a range outside the device is an error that changes nothing.
// newDev returns a new, erased device each time it is called; its size must be at least
// three sectors.
func TestDevice(t *testing.T, newDev func(t *testing.T) flash.Device) {
	t.Run("geometry", func(t *testing.T) {
		g := newDev(t).Geometry()
		require.Positive(t, g.SectorSize)
		require.Zero(t, g.SectorSize&(g.SectorSize-1), "sector size %d is a power of two", g.SectorSize)
		require.Zero(t, g.Size%g.SectorSize, "size %d is whole sectors", g.Size)
		require.GreaterOrEqual(t, g.Size, 3*g.SectorSize)
	})
	t.Run("erased", func(t *testing.T) {
		d := newDev(t)
		g := d.Geometry()
		for _, off := range []int{0, g.Size - g.SectorSize} {
			b := make([]byte, g.SectorSize)
			require.NoError(t, d.Read(off, b))
			require.Equal(t, bytes.Repeat([]byte{0xff}, len(b)), b, "a new device reads 0xFF at %d", off)
		}
	})
	t.Run("program only clears bits", func(t *testing.T) {
		d := newDev(t)
		rng := rand.New(rand.NewPCG(1, 2))
		first, second := make([]byte, 512), make([]byte, 512)
		for i := range first {
			first[i], second[i] = byte(rng.Uint32()), byte(rng.Uint32())
		}
		copy(first, []byte{0x0f, 0x00, 0xff, 0xaa})
		copy(second, []byte{0xf3, 0xff, 0x00, 0x55})
		off := d.Geometry().SectorSize - 100 // across a sector boundary
		require.NoError(t, d.Program(off, first))
		got := make([]byte, len(first))
		require.NoError(t, d.Read(off, got))
		require.Equal(t, first, got)
		require.NoError(t, d.Program(off, second))
		require.NoError(t, d.Read(off, got))
		for i := range got {
			require.Equal(t, first[i]&second[i], got[i], "byte %d: %#02x then %#02x programs to their AND", i, first[i], second[i])
		}
	})
	t.Run("erase sets its sectors only", func(t *testing.T) {
		d := newDev(t)
		sec := d.Geometry().SectorSize
		zeros := make([]byte, 3*sec)
		require.NoError(t, d.Program(0, zeros))
		require.NoError(t, d.Erase(sec, sec))
		got := make([]byte, 3*sec)
		require.NoError(t, d.Read(0, got))
		require.Equal(t, zeros[:sec], got[:sec], "the sector before is kept")
		require.Equal(t, bytes.Repeat([]byte{0xff}, sec), got[sec:2*sec], "the erased sector reads 0xFF")
		require.Equal(t, zeros[:sec], got[2*sec:], "the sector after is kept")
		// A programmed, then erased, then programmed sector holds the new bytes exactly.
		pat := bytes.Repeat([]byte{0x5a, 0xc3}, sec/2)
		require.NoError(t, d.Program(sec, pat))
		require.NoError(t, d.Read(sec, got[:sec]))
		require.Equal(t, pat, got[:sec])
	})
	t.Run("bad ranges change nothing", func(t *testing.T) {
		d := newDev(t)
		g := d.Geometry()
		sec := g.SectorSize
		zeros := make([]byte, 2*sec)
		require.NoError(t, d.Program(0, zeros))
		for name, err := range map[string]error{
			"unaligned erase offset": d.Erase(1, sec),
			"unaligned erase length": d.Erase(0, sec+1),
			"erase past the end":     d.Erase(g.Size-sec, 2*sec),
			"erase before the start": d.Erase(-sec, sec),
			"program past the end":   d.Program(g.Size-1, []byte{0, 0}),
			"program before start":   d.Program(-1, []byte{0}),
			"read past the end":      d.Read(g.Size-1, make([]byte, 2)),
			"read before the start":  d.Read(-1, make([]byte, 1)),
		} {
			require.Error(t, err, name)
		}
		got := make([]byte, 2*sec)
		require.NoError(t, d.Read(0, got))
		require.Equal(t, zeros, got, "nothing changed")
		last := make([]byte, 1)
		require.NoError(t, d.Read(g.Size-1, last))
		require.Equal(t, []byte{0xff}, last, "nothing changed at the end")
		require.NoError(t, d.Read(g.Size, nil), "an empty read at the end is fine")
	})
}
