package ftdi

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"

	"github.com/lrchip/lrchip/devices/spinor"
	"github.com/lrchip/lrchip/emu/board"
	"github.com/lrchip/lrchip/emu/usbdev"
	"github.com/lrchip/lrchip/firmware/regmap"
)

func TestOpenSetsUpMPSSE(t *testing.T) {
	r := newRig(t, nil, usbdev.FTDIOpts{}, nil)
	st := r.chip.MPSSE()
	assert.Equal(t, byte(regmap.FTDIBitmodeMPSSE), st.Bitmode)
	assert.Equal(t, DefaultLatency, st.Latency)
	assert.False(t, st.Div5 || st.ThreePhase || st.Adaptive || st.Loopback, "%+v", st)
	assert.Equal(t, int64(6_000_000), st.SCK(), "DefaultFrequency")
	assert.Zero(t, st.LowDir, "every pin an input until the FPGA is held")
	assert.Equal(t, 2, r.chip.Stats().BadCommands, "the two synchronisation opcodes")
	assert.False(t, r.chip.FPGA().Held)
	kind, size, ok := r.a.Board()
	assert.True(t, ok)
	assert.Equal(t, regmap.BoardEmulator, kind)
	assert.Equal(t, regmap.EmulatorSlotSize, size)
	assert.Contains(t, r.a.String(), `"lrchip emulator", serial LR000001`)
}

func TestOptions(t *testing.T) {
	for _, o := range []Opts{{Latency: time.Microsecond}, {Latency: time.Second}, {Timeout: -1}, {Frequency: -1}} {
		_, err := o.withDefaults()
		require.ErrorIs(t, err, ErrArgs, "%+v", o)
	}
	r := newRig(t, nil, usbdev.FTDIOpts{}, &Opts{Frequency: physic.MegaHertz, Latency: 7 * time.Millisecond})
	assert.Equal(t, 7*time.Millisecond, r.chip.MPSSE().Latency)
	assert.Equal(t, int64(1_000_000), r.chip.MPSSE().SCK())
}

// TestSPINorOverMPSSE runs the SPI NOR driver on the adapter: the JEDEC id of the emulated
// part, then erase, program and read agree with the flash behind the chip's back.
func TestSPINorOverMPSSE(t *testing.T) {
	r := newRig(t, nil, usbdev.FTDIOpts{}, nil)
	c, err := r.a.Connect(0, spi.Mode0, 8)
	require.NoError(t, err)
	_, err = spinor.New(c, nil)
	require.ErrorIs(t, err, ErrReleased, "the FPGA owns the flash until it is held")

	require.NoError(t, r.a.HoldReset(true))
	assert.True(t, r.chip.FPGA().Held)
	nor, err := spinor.New(c, nil)
	require.NoError(t, err)
	assert.Equal(t, regmap.FlashParts[regmap.EmulatedFlash].JEDEC, [3]byte(nor.ID()))
	assert.True(t, nor.HasSFDP())
	assert.Equal(t, r.fl.Part().Size, nor.Size())

	const off = 3 << 20
	data := make([]byte, 3*spinor.SectorSize+100)
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rnd.Uint32())
	}
	require.NoError(t, nor.Erase(off, 4*spinor.SectorSize))
	require.NoError(t, nor.Program(off+5, data))
	back := r.fl.Bytes()[off : off+5+len(data)+1]
	assert.Equal(t, []byte{0xff, 0xff, 0xff, 0xff, 0xff}, back[:5])
	assert.Equal(t, data, back[5:5+len(data)], "what the flash holds")
	assert.Equal(t, byte(0xff), back[len(back)-1])
	got := make([]byte, len(data))
	require.NoError(t, nor.Read(off+5, got), "a read larger than the chip's FIFO")
	assert.Equal(t, data, got)
	assert.False(t, r.chip.MPSSE().Selected, "chip select rose after every transfer")
	assert.Greater(t, r.chip.Stats().Flushes, 0)

	require.NoError(t, r.a.HoldReset(false))
	assert.Zero(t, r.chip.MPSSE().LowDir, "released: every pin an input")
	_, err = spinor.New(c, nil)
	require.ErrorIs(t, err, ErrReleased)
}

// TestTransfers checks the connection's transfers against the flash model: sizes around the
// FIFO and the clock command's limits, KeepCS packets, read-only and write-only transfers,
// modes and speeds.
func TestTransfers(t *testing.T) {
	r := newRig(t, nil, usbdev.FTDIOpts{}, nil)
	require.NoError(t, r.a.HoldReset(true))
	flashData := r.fl.Bytes()
	read := func(c spi.Conn, off, n int) []byte {
		w := make([]byte, 4+n)
		w[0], w[1], w[2], w[3] = regmap.SPINorRead, byte(off>>16), byte(off>>8), byte(off)
		rd := make([]byte, len(w))
		require.NoError(t, c.Tx(w, rd), "read %d at %d", n, off)
		return rd[4:]
	}
	c, err := r.a.Connect(0, spi.Mode0, 8)
	require.NoError(t, err)
	assert.Equal(t, conn.Full, c.Duplex())
	assert.Equal(t, MaxTxSize, c.(conn.Limits).MaxTxSize())
	for _, n := range []int{1, 100, regmap.FTDIBufferSize - 4, regmap.FTDIBufferSize - 3, regmap.FTDIBufferSize, 3*regmap.FTDIBufferSize + 17, MaxTxSize - 4} {
		require.Equal(t, flashData[0:n], read(c, 0, n), "%d bytes", n)
	}
	require.ErrorIs(t, c.Tx(make([]byte, MaxTxSize+1), nil), ErrArgs)

	// One transaction in three packets: the opcode and address, then two reads.
	p := []spi.Packet{{W: []byte{regmap.SPINorRead, 0, 0, 16}, KeepCS: true}, {R: make([]byte, 5000), KeepCS: true}, {R: make([]byte, 3)}}
	require.NoError(t, c.TxPackets(p))
	assert.Equal(t, flashData[16:5016], p[1].R)
	assert.Equal(t, flashData[5016:5019], p[2].R)
	assert.False(t, r.chip.MPSSE().Selected)
	require.ErrorIs(t, c.TxPackets([]spi.Packet{{W: []byte{1}, BitsPerWord: 9}}), ErrArgs)

	// Write-only and a status read: WRITE ENABLE sets WEL.
	require.NoError(t, c.Tx([]byte{regmap.SPINorWREN}, nil))
	st := make([]byte, 2)
	require.NoError(t, c.Tx([]byte{regmap.SPINorRDSR, 0}, st))
	assert.Equal(t, byte(regmap.SPINorStatusWEL), st[1])
	require.NoError(t, c.Tx([]byte{regmap.SPINorWRDI}, nil))

	// Mode 3 idles the clock high; a slower device sets the divisor.
	c3, err := r.a.Connect(physic.MegaHertz, spi.Mode3, 8)
	require.NoError(t, err)
	require.Equal(t, flashData[100:200], read(c3, 100, 100))
	st3 := r.chip.MPSSE()
	assert.NotZero(t, st3.LowValue&regmap.FTDIPinSCK, "mode 3: SCK idles high")
	assert.Equal(t, int64(1_000_000), st3.SCK())
	require.Equal(t, flashData[0:10], read(c, 0, 10), "back to mode 0")
	assert.Zero(t, r.chip.MPSSE().LowValue&regmap.FTDIPinSCK)
	assert.Contains(t, c3.String(), "1000 kHz")

	for _, bad := range []struct {
		mode spi.Mode
		bits int
	}{{spi.Mode1, 8}, {spi.Mode2, 8}, {spi.Mode0 | spi.LSBFirst, 8}, {spi.Mode0 | spi.HalfDuplex, 8}, {spi.Mode0, 16}} {
		_, err := r.a.Connect(0, bad.mode, bad.bits)
		require.ErrorIs(t, err, ErrArgs, "%v, %d bits", bad.mode, bad.bits)
	}
	require.ErrorIs(t, r.a.LimitSpeed(0), ErrArgs)
	require.NoError(t, r.a.LimitSpeed(2*physic.MegaHertz))
	c2, err := r.a.Connect(0, spi.Mode0, 8)
	require.NoError(t, err)
	require.Equal(t, flashData[:4], read(c2, 0, 4))
	assert.Equal(t, int64(2_000_000), r.chip.MPSSE().SCK())
}

// TestResetAndDone follows the FPGA through its pins: configured at power-on from golden,
// CDONE low while held, configured again once released.
func TestResetAndDone(t *testing.T) {
	r := newRig(t, nil, usbdev.FTDIOpts{}, nil)
	done, err := r.a.Configured()
	require.NoError(t, err)
	assert.True(t, done, "golden is valid")
	require.NoError(t, r.a.HoldReset(true))
	done, err = r.a.Configured()
	require.NoError(t, err)
	assert.False(t, done, "CDONE is low in reset")
	require.NoError(t, r.a.HoldReset(false))
	done, err = r.a.Configured()
	require.NoError(t, err)
	assert.True(t, done)
	assert.Equal(t, 2, r.chip.FPGA().Boots)

	// A blank board: nothing valid on the flash, CDONE stays low.
	fl, err := board.NewFlash(0)
	require.NoError(t, err)
	blank := newRig(t, fl, usbdev.FTDIOpts{Serial: "BLANK"}, nil)
	done, err = blank.a.Configured()
	require.NoError(t, err)
	assert.False(t, done)

	require.NoError(t, r.a.Close())
	assert.True(t, r.port.closed)
	assert.Zero(t, r.chip.MPSSE().Bitmode, "closed: the channel back to its UART")
	require.ErrorIs(t, r.a.HoldReset(true), ErrClosed)
	_, err = r.a.Configured()
	require.ErrorIs(t, err, ErrClosed)
	require.NoError(t, r.a.Close(), "twice")
}

func TestFaults(t *testing.T) {
	t.Run("gone", func(t *testing.T) {
		r := newRig(t, nil, usbdev.FTDIOpts{}, nil)
		require.NoError(t, r.a.HoldReset(true))
		c, err := r.a.Connect(0, spi.Mode0, 8)
		require.NoError(t, err)
		r.chip.Unplug()
		require.ErrorIs(t, c.Tx([]byte{regmap.SPINorRDSR, 0}, make([]byte, 2)), ErrGone)
	})
	t.Run("no answer", func(t *testing.T) {
		// Asking for an answer the engine never gives: status packets until the timeout.
		r := newRig(t, nil, usbdev.FTDIOpts{}, &Opts{Timeout: 50 * time.Millisecond})
		require.NoError(t, r.a.enter())
		_, err := r.a.exchange(context.Background(), []byte{regmap.MPSSESendImmediate}, 1)
		r.a.mu.Unlock()
		require.ErrorIs(t, err, ErrTimeout)
		assert.Greater(t, r.chip.Stats().StatusPackets, 0, "the latency timer's packets came meanwhile")
	})
	t.Run("stray bytes", func(t *testing.T) {
		r := newRig(t, nil, usbdev.FTDIOpts{}, nil)
		require.NoError(t, r.a.enter())
		_, err := r.a.exchange(context.Background(), []byte{regmap.MPSSEGetLow, regmap.MPSSEGetLow, regmap.MPSSESendImmediate}, 1)
		r.a.mu.Unlock()
		require.ErrorIs(t, err, ErrProtocol)
	})
	t.Run("no sync", func(t *testing.T) {
		b, err := board.New(board.Opts{})
		require.NoError(t, err)
		defer b.Close()
		chip, err := usbdev.NewFTDI(b.Flash(), usbdev.FTDIOpts{})
		require.NoError(t, err)
		defer chip.Close()
		p := &emuPort{f: chip, corrupt: func(b []byte) {
			for i := range b {
				b[i] ^= 0x01
			}
		}}
		o, _ := (*Opts)(nil).withDefaults()
		_, err = newAdapter(context.Background(), p, Identity{}, "usb:0403:6010", o)
		require.ErrorIs(t, err, ErrProtocol)
		assert.Contains(t, err.Error(), "bad opcode 0xaa")
	})
	t.Run("not ours", func(t *testing.T) {
		b, err := board.New(board.Opts{})
		require.NoError(t, err)
		defer b.Close()
		chip, err := usbdev.NewFTDI(b.Flash(), usbdev.FTDIOpts{})
		require.NoError(t, err)
		defer chip.Close()
		o, _ := (*Opts)(nil).withDefaults()
		a, err := newAdapter(context.Background(), &emuPort{f: chip}, Identity{Manufacturer: "FTDI", Product: "Dual RS232-HS"}, "usb:0403:6010", o)
		require.NoError(t, err)
		defer a.Close()
		_, _, ok := a.Board()
		assert.False(t, ok, "a plain FT2232H says no board")
	})
}

func TestOpenArgs(t *testing.T) {
	for _, uri := range []string{"emu:", "usb:0403", "pcie:0000:01:00.0", ""} {
		_, err := Open(context.Background(), uri, nil)
		require.ErrorIs(t, err, ErrArgs, uri)
	}
	_, err := Open(context.Background(), "usb:0403:6010", &Opts{Latency: time.Hour})
	require.ErrorIs(t, err, ErrArgs)
}

func TestStripStatus(t *testing.T) {
	pk := func(data ...byte) []byte {
		return append([]byte{regmap.FTDIModemStatus, regmap.FTDILineStatus}, data...)
	}
	full := pk(bytes.Repeat([]byte{7}, 8-2)...)
	for _, tc := range []struct {
		name string
		raw  []byte
		want []byte
		err  bool
	}{
		{"nothing", nil, []byte{}, false},
		{"status only", pk(), []byte{}, false},
		{"short", pk(1, 2, 3), []byte{1, 2, 3}, false},
		{"full then short", append(append([]byte{}, full...), pk(9)...), append(bytes.Repeat([]byte{7}, 6), 9), false},
		{"full then status", append(append([]byte{}, full...), pk()...), bytes.Repeat([]byte{7}, 6), false},
		{"a byte alone", append(append([]byte{}, full...), 0x32), nil, true},
	} {
		got, err := stripStatus(tc.raw, 8)
		if tc.err {
			require.ErrorIs(t, err, ErrProtocol, tc.name)
			continue
		}
		require.NoError(t, err, tc.name)
		assert.Equal(t, tc.want, got, tc.name)
	}
	_, err := stripStatus(nil, 2)
	require.ErrorIs(t, err, ErrArgs)
}

func TestRawSize(t *testing.T) {
	for _, tc := range []struct{ n, want int }{{0, 0}, {1, 3}, {510, 512}, {511, 515}, {1020, 1024}, {4096, 8*512 + 2 + 16}} {
		assert.Equal(t, tc.want, rawSize(tc.n, 512), "%d bytes", tc.n)
	}
}

// FuzzStripStatus: any transfer decodes without a panic, into no more than it held, and a
// transfer built from data decodes to that data.
func FuzzStripStatus(f *testing.F) {
	f.Add([]byte{0x32, 0x60, 1, 2, 3}, 8)
	f.Add([]byte{0x32}, 512)
	f.Add(bytes.Repeat([]byte{0x32, 0x60, 5}, 400), 512)
	f.Add([]byte{}, 64)
	f.Fuzz(func(t *testing.T, raw []byte, mp int) {
		if mp > 1<<16 || mp < -1<<16 {
			return
		}
		out, err := stripStatus(raw, mp)
		if err != nil {
			require.True(t, errors.Is(err, ErrProtocol) || errors.Is(err, ErrArgs))
			return
		}
		require.LessOrEqual(t, len(out), len(raw))
		// Built back into packets of mp bytes, the data decodes to itself.
		var again []byte
		p := payload(mp)
		for i := 0; i < len(out); i += p {
			again = append(again, regmap.FTDIModemStatus, regmap.FTDILineStatus)
			again = append(again, out[i:min(i+p, len(out))]...)
		}
		require.Len(t, again, rawSize(len(out), mp))
		back, err := stripStatus(again, mp)
		require.NoError(t, err)
		require.Equal(t, out, back)
	})
}
