package spinor

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/conntest"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"
	"periph.io/x/conn/v3/spi/spitest"
)

func zeros(n int) []byte { return make([]byte, n) }

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// identify is what New sends and what a part of this id and SFDP space answers.
func identify(id [3]byte, sfdp []byte) []conntest.IO {
	ops := []conntest.IO{{W: []byte{0x9f, 0, 0, 0}, R: cat([]byte{0}, id[:])}}
	if sfdp == nil {
		return append(ops, conntest.IO{W: cat([]byte{0x5a, 0, 0, 0, 0}, zeros(16)), R: cat(zeros(5), bytes.Repeat([]byte{0xff}, 16))})
	}
	ops = append(ops, conntest.IO{W: cat([]byte{0x5a, 0, 0, 0, 0}, zeros(16)), R: cat(zeros(5), sfdp[:16])})
	return append(ops, conntest.IO{W: cat([]byte{0x5a, 0, 0, 16, 0}, zeros(36)), R: cat(zeros(5), sfdp[16:52])})
}

// connect opens a playback of ops as an spi.Conn.
func connect(t *testing.T, ops []conntest.IO) (spi.Conn, *spitest.Playback) {
	p := &spitest.Playback{Playback: conntest.Playback{Ops: ops, DontPanic: true}}
	c, err := p.Connect(50*physic.MegaHertz, spi.Mode0, 8)
	require.NoError(t, err)
	return c, p
}

var (
	wren    = conntest.IO{W: []byte{0x06}}
	enabled = conntest.IO{W: []byte{0x05, 0}, R: []byte{0, 0x02}}
	busy    = conntest.IO{W: []byte{0x05, 0}, R: []byte{0, 0x03}}
	idle    = conntest.IO{W: []byte{0x05, 0}, R: []byte{0, 0x00}}
	w25q32  = [3]byte{0xef, 0x40, 0x16}
)

func TestIdentify(t *testing.T) {
	for _, tc := range []struct {
		name   string
		id     [3]byte
		sfdp   []byte
		opts   *Opts
		size   int
		sfdpOK bool
		err    error
	}{
		{"SFDP", w25q32, BasicTable(4<<20, false), nil, 4 << 20, true, nil},
		{"SFDP says more than the table", w25q32, BasicTable(8<<20, false), nil, 8 << 20, true, nil},
		{"known part without SFDP", [3]byte{0xc2, 0x20, 0x17}, nil, nil, 8 << 20, false, nil},
		{"unknown part", [3]byte{0x01, 0x02, 0x03}, nil, nil, 0, false, ErrUnknownPart},
		{"unknown part with a size", [3]byte{0x01, 0x02, 0x03}, nil, &Opts{Size: 1 << 20}, 1 << 20, false, nil},
		{"nothing there (ones)", [3]byte{0xff, 0xff, 0xff}, nil, nil, 0, false, ErrNoChip},
		{"nothing there (zeros)", [3]byte{}, nil, nil, 0, false, ErrNoChip},
		{"32 MiB without 4-byte addresses", [3]byte{0x01, 0x02, 0x03}, BasicTable(32<<20, false), nil, 0, false, ErrUnknownPart},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ops := identify(tc.id, tc.sfdp)
			if tc.err == ErrNoChip {
				ops = ops[:1]
			}
			c, p := connect(t, ops)
			d, err := New(c, tc.opts)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.NoError(t, p.Close(), "every expected transfer happened")
			require.Equal(t, tc.size, d.Size())
			require.Equal(t, tc.sfdpOK, d.HasSFDP())
			require.Equal(t, JEDECID(tc.id), d.ID())
			require.Contains(t, d.String(), JEDECID(tc.id).String())
			require.NoError(t, d.Halt())
		})
	}
}

func TestReadProgramErase(t *testing.T) {
	data := make([]byte, 300)
	for i := range data {
		data[i] = byte(i * 7)
	}
	ops := identify(w25q32, BasicTable(4<<20, false))
	ops = append(ops,
		// Read 10 bytes at 0x123456.
		conntest.IO{W: cat([]byte{0x03, 0x12, 0x34, 0x56}, zeros(10)), R: cat(zeros(4), []byte("0123456789"))},
		// Program 300 bytes at 0x1F0: 16 to the page end, 256, then 28.
		wren, enabled, conntest.IO{W: cat([]byte{0x02, 0x00, 0x01, 0xf0}, data[:16])}, busy, busy, idle,
		wren, enabled, conntest.IO{W: cat([]byte{0x02, 0x00, 0x02, 0x00}, data[16:272])}, idle,
		wren, enabled, conntest.IO{W: cat([]byte{0x02, 0x00, 0x03, 0x00}, data[272:])}, idle,
		// Erase two sectors at 4096.
		wren, enabled, conntest.IO{W: []byte{0x20, 0x00, 0x10, 0x00}}, busy, idle,
		wren, enabled, conntest.IO{W: []byte{0x20, 0x00, 0x20, 0x00}}, idle,
	)
	c, p := connect(t, ops)
	d, err := New(c, nil)
	require.NoError(t, err)
	b := make([]byte, 10)
	require.NoError(t, d.Read(0x123456, b))
	require.Equal(t, "0123456789", string(b))
	require.NoError(t, d.Program(0x1f0, data))
	require.NoError(t, d.Erase(4096, 8192))
	require.NoError(t, p.Close())
}

func TestReadInPieces(t *testing.T) {
	ops := append(identify(w25q32, BasicTable(4<<20, false)),
		conntest.IO{W: cat([]byte{0x03, 0, 0, 0}, zeros(12)), R: cat(zeros(4), bytes.Repeat([]byte{1}, 12))},
		conntest.IO{W: cat([]byte{0x03, 0, 0, 12}, zeros(8)), R: cat(zeros(4), bytes.Repeat([]byte{2}, 8))},
	)
	c, p := connect(t, ops)
	d, err := New(c, &Opts{MaxTx: 16})
	require.NoError(t, err)
	b := make([]byte, 20)
	require.NoError(t, d.Read(0, b))
	require.Equal(t, cat(bytes.Repeat([]byte{1}, 12), bytes.Repeat([]byte{2}, 8)), b)
	require.NoError(t, p.Close())
}

func TestFourByteAddresses(t *testing.T) {
	ops := append(identify([3]byte{0x20, 0xba, 0x19}, BasicTable(32<<20, true)),
		conntest.IO{W: cat([]byte{0x13, 0x01, 0x23, 0x45, 0x67}, zeros(2)), R: cat(zeros(5), []byte{9, 8})},
		wren, enabled, conntest.IO{W: []byte{0x12, 0x01, 0xff, 0xff, 0xff, 0xaa}}, idle,
		wren, enabled, conntest.IO{W: []byte{0x21, 0x01, 0x00, 0x00, 0x00}}, idle,
	)
	c, p := connect(t, ops)
	d, err := New(c, nil)
	require.NoError(t, err)
	require.Equal(t, 32<<20, d.Size())
	b := make([]byte, 2)
	require.NoError(t, d.Read(0x1234567, b))
	require.Equal(t, []byte{9, 8}, b)
	require.NoError(t, d.Program(0x1ffffff, []byte{0xaa}))
	require.NoError(t, d.Erase(0x1000000, 4096))
	require.NoError(t, p.Close())
}

func TestRefusals(t *testing.T) {
	c, _ := connect(t, append(identify(w25q32, BasicTable(4<<20, false)),
		wren, conntest.IO{W: []byte{0x05, 0}, R: []byte{0, 0x00}}, // WEL never set
	))
	d, err := New(c, nil)
	require.NoError(t, err)
	require.ErrorIs(t, d.Program(0, []byte{1}), ErrWriteEnable)
	for name, err := range map[string]error{
		"read past the end":   d.Read(4<<20-1, make([]byte, 2)),
		"program before":      d.Program(-1, []byte{1}),
		"erase unaligned":     d.Erase(100, 4096),
		"erase short":         d.Erase(0, 100),
		"erase past the end":  d.Erase(4<<20, 4096),
		"read negative range": d.Read(-5, nil),
	} {
		require.ErrorIs(t, err, ErrRange, name)
	}
}

// stuck is a flash whose WIP never clears: it sets WEL after WREN and answers every status
// read with WIP.
type stuck struct{ polls int }

func (s *stuck) String() string               { return "stuck" }
func (s *stuck) Duplex() conn.Duplex          { return conn.Full }
func (s *stuck) TxPackets([]spi.Packet) error { return nil }
func (s *stuck) Tx(w, r []byte) error {
	switch {
	case w[0] == 0x9f:
		copy(r[1:], w25q32[:])
	case w[0] == 0x05 && len(r) == 2:
		s.polls++
		r[1] = 0x03
		if s.polls == 1 {
			r[1] = 0x02 // the check after WREN
		}
	}
	return nil
}

// slowHost is a flash that finishes a program at once, polled by a host that was slow: its
// first status poll after the program starts before the deadline and ends after it, seeing
// WIP.
type slowHost struct {
	stuck
	sleep time.Duration
}

func (s *slowHost) Tx(w, r []byte) error {
	if w[0] == 0x05 && len(r) == 2 {
		s.polls++
		r[1] = 0x02 // WEL after WREN; WIP clear after the program...
		if s.polls == 2 {
			time.Sleep(s.sleep) // ...but the first poll after it is slow and sees it set
			r[1] = 0x01
		}
		return nil
	}
	return s.stuck.Tx(w, r)
}

func TestSlowPollDoesNotTimeOut(t *testing.T) {
	s := &slowHost{sleep: 20 * time.Millisecond}
	d, err := New(s, &Opts{ProgramTimeout: 5 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, d.Program(0, []byte{1, 2, 3}), "a poll begun after the deadline sees WIP clear")
	require.Equal(t, 3, s.polls)
}

func TestWIPNeverClears(t *testing.T) {
	s := &stuck{}
	d, err := New(s, &Opts{EraseTimeout: 5 * time.Millisecond})
	require.NoError(t, err)
	require.Equal(t, 4<<20, d.Size(), "known by its id")
	err = d.Erase(0, 4096)
	require.ErrorIs(t, err, ErrTimeout)
	require.Contains(t, err.Error(), "erase at 0")
	require.Greater(t, s.polls, 2)
}

func TestSFDPRefusals(t *testing.T) {
	good := BasicTable(4<<20, false)
	for name, mutate := range map[string]func(b []byte){
		"major revision":   func(b []byte) { b[5] = 2 },
		"first table id":   func(b []byte) { b[8] = 0x84 },
		"short table":      func(b []byte) { b[11] = 1 },
		"no 4K erase":      func(b []byte) { b[16] = 0 },
		"erase opcode":     func(b []byte) { b[17] = 0xd8 },
		"address reserved": func(b []byte) { b[18] |= 6 },
		"density":          func(b []byte) { b[20], b[21], b[22], b[23] = 0x05, 0, 0, 0x80 },
		"density bits":     func(b []byte) { b[20], b[21], b[22], b[23] = 0x10, 0, 0, 0 },
	} {
		b := append([]byte(nil), good...)
		mutate(b)
		_, err := readSFDP(func(off, n int) ([]byte, error) {
			if off+n > len(b) {
				return make([]byte, n), nil
			}
			return b[off : off+n], nil
		})
		require.ErrorIs(t, err, ErrSFDP, name)
	}
}

func TestBasicTableRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		size  int
		addr4 bool
	}{{4 << 20, false}, {32 << 20, true}, {1 << 30, true}, {64 << 10, false}} {
		b := BasicTable(tc.size, tc.addr4)
		p, err := readSFDP(func(off, n int) ([]byte, error) { return b[off : off+n], nil })
		require.NoError(t, err)
		require.Equal(t, sfdpParams{size: tc.size, addr4: tc.addr4}, p)
	}
}

// FuzzSFDP decodes arbitrary SFDP spaces: no panic, and a decoded size is whole sectors.
func FuzzSFDP(f *testing.F) {
	f.Add(BasicTable(4<<20, false))
	f.Add(BasicTable(32<<20, true))
	f.Add([]byte("SFDP"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := readSFDP(func(off, n int) ([]byte, error) {
			out := make([]byte, n)
			if off < len(b) {
				copy(out, b[off:])
			}
			return out, nil
		})
		if err == nil {
			require.Zero(t, p.size%SectorSize)
			require.Positive(t, p.size)
		}
	})
}
