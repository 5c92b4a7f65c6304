package isa_test

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/firmware/isa"
)

// lifProgram is a leaky integrate-and-fire neuron: every field of the format is used.
func lifProgram() *isa.Program {
	u, v := isa.S0, isa.S0+1
	du, dv, vth := isa.C0, isa.C0+1, isa.C0+2
	return &isa.Program{
		Name:   "lif",
		State:  []string{"u", "v"},
		Params: []string{"bias"},
		Consts: []string{"du", "dv", "vth"},
		Code: []isa.Instr{
			{Op: isa.OpMulZ, Rd: u, Ra: u, Rb: du, Imm: 12},
			{Op: isa.OpAdd, Rd: u, Ra: u, Rb: isa.A},
			{Op: isa.OpMulZ, Rd: v, Ra: v, Rb: dv, Imm: 12},
			{Op: isa.OpAdd, Rd: v, Ra: v, Rb: u},
			{Op: isa.OpAdd, Rd: v, Ra: v, Rb: isa.P0},
			{Op: isa.OpSgt, Rd: isa.R0, Ra: v, Rb: vth},
			{Op: isa.OpSpk, Ra: isa.R0},
			{Op: isa.OpSel, Rd: v, Ra: isa.R0, Rb: isa.Imm, Rc: v},
		},
	}
}

// branchProgram uses uniform temporaries, branches and negative immediates.
func branchProgram() *isa.Program {
	return &isa.Program{
		State: []string{"acc"},
		Code: []isa.Instr{
			{Op: isa.OpAnd, Rd: isa.K0, Ra: isa.T, Rb: isa.Imm, Imm: 1},
			{Op: isa.OpBeq, Rd: 1, Ra: isa.K0, Rb: isa.Imm},
			{Op: isa.OpAdd, Rd: isa.S0, Ra: isa.S0, Rb: isa.Imm, Imm: -5},
			{Op: isa.OpSpkG, Ra: isa.A, Rb: isa.S0},
			{Op: isa.OpJmp, Rd: 0},
		},
	}
}

func minimalProgram() *isa.Program {
	return &isa.Program{Code: []isa.Instr{{Op: isa.OpSpk, Ra: isa.A}}}
}

func maxProgram() *isa.Program {
	p := &isa.Program{Name: strings.Repeat("n", isa.MaxNameLen)}
	for i := range isa.NumState {
		p.State = append(p.State, "state_"+strings.Repeat("x", 200+i))
	}
	for i := range isa.NumParam {
		p.Params = append(p.Params, "P"+string(rune('a'+i)))
	}
	for i := range isa.NumConst {
		p.Consts = append(p.Consts, "C"+string(rune('a'+i)))
	}
	for i := range isa.MaxInstrs {
		p.Code = append(p.Code, isa.Instr{Op: isa.OpAdd, Rd: isa.S0 + isa.Reg(i%isa.NumState), Ra: isa.C0 + 15, Rb: isa.Imm, Imm: int32(i) - 32})
	}
	return p
}

func validPrograms() map[string]*isa.Program {
	return map[string]*isa.Program{"lif": lifProgram(), "branch": branchProgram(), "minimal": minimalProgram(), "max": maxProgram()}
}

func TestBinaryRoundTrip(t *testing.T) {
	for name, p := range validPrograms() {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, p.Validate())
			b, err := p.MarshalBinary()
			require.NoError(t, err)
			assert.Equal(t, "LRNP", string(b[:4]))
			assert.Zero(t, (len(b)-4)%8, "code must be 8-aligned and end the blob before the CRC")

			q, err := isa.UnmarshalProgram(b)
			require.NoError(t, err)
			assert.Equal(t, p, q)

			var r isa.Program
			require.NoError(t, r.UnmarshalBinary(b))
			assert.Equal(t, p, &r)

			b2, err := q.MarshalBinary()
			require.NoError(t, err)
			assert.Equal(t, b, b2)

			prefix := []byte("xyz")
			b3, err := p.AppendBinary(prefix)
			require.NoError(t, err)
			assert.Equal(t, append([]byte("xyz"), b...), b3)
		})
	}
}

// TestBinaryLayout pins the layout byte for byte.
func TestBinaryLayout(t *testing.T) {
	p := &isa.Program{Name: "n", State: []string{"u"}, Consts: []string{"k_"}, Code: []isa.Instr{{Op: isa.OpMov, Rd: isa.S0, Ra: isa.C0}}}
	b, err := p.MarshalBinary()
	require.NoError(t, err)
	want := []byte{
		'L', 'R', 'N', 'P', 1, 0, 0, 0, // magic, version 1, flags 0
		1, 1, 0, 1, 7, 0, 0, 0, // ninstr, nstate, nparam, nconst, names length 7
		1, 'n', 1, 'u', 2, 'k', '_', 0, // names block, 1 byte of padding
		0, 0, 0, 0, 0, 0x80, 0x01, 0x01, // mov s0, c0
	}
	want = binary.LittleEndian.AppendUint32(want, crc32.ChecksumIEEE(want))
	assert.Equal(t, want, b)
}

func TestMarshalInvalid(t *testing.T) {
	for name, p := range map[string]*isa.Program{
		"no code":       {},
		"bad name":      {State: []string{"1u"}, Code: lifProgram().Code[:1]},
		"reserved name": {State: []string{"s1"}, Code: []isa.Instr{{Op: isa.OpSpk, Ra: isa.A}}},
		"dup name":      {State: []string{"x"}, Consts: []string{"x"}, Code: []isa.Instr{{Op: isa.OpSpk, Ra: isa.A}}},
		"long name":     {Name: strings.Repeat("x", 256), Code: []isa.Instr{{Op: isa.OpSpk, Ra: isa.A}}},
		"bad program":   {Name: "a b", Code: []isa.Instr{{Op: isa.OpSpk, Ra: isa.A}}},
		"bad instr":     {Code: []isa.Instr{{Op: isa.OpMov, Rd: isa.A, Ra: isa.A}}},
	} {
		t.Run(name, func(t *testing.T) {
			b, err := p.MarshalBinary()
			require.ErrorIs(t, err, isa.ErrInvalid)
			assert.Nil(t, b)
			assert.True(t, strings.HasPrefix(err.Error(), "isa: marshal program: "), err.Error())
		})
	}
}

// nameBlock length-prefixes names.
func nameBlock(names ...string) []byte {
	var b []byte
	for _, n := range names {
		b = append(append(b, byte(len(n))), n...)
	}
	return b
}

// raw builds a blob from parts: header counts (ninstr, nstate, nparam, nconst), a names block
// (padded with zeros) and instruction words, with the right names length and CRC.
func raw(counts [4]byte, names []byte, words ...isa.Word) []byte {
	b := []byte("LRNP\x01\x00\x00\x00")
	b = append(b, counts[:]...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(names)))
	b = append(b, names...)
	for len(b)%8 != 0 {
		b = append(b, 0)
	}
	for _, w := range words {
		b = binary.LittleEndian.AppendUint64(b, uint64(w))
	}
	return binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
}

// patch returns a copy of b with bytes written at off and, unless off is in the CRC, the CRC
// recomputed.
func patch(b []byte, off int, bytes ...byte) []byte {
	c := append([]byte(nil), b...)
	copy(c[off:], bytes)
	if off < len(c)-4 {
		binary.LittleEndian.PutUint32(c[len(c)-4:], crc32.ChecksumIEEE(c[:len(c)-4]))
	}
	return c
}

func fixCRC(b []byte) []byte {
	if len(b) >= 4 {
		binary.LittleEndian.PutUint32(b[len(b)-4:], crc32.ChecksumIEEE(b[:len(b)-4]))
	}
	return b
}

func TestUnmarshalRejects(t *testing.T) {
	spk := isa.Instr{Op: isa.OpSpk, Ra: isa.A}.Encode()
	good := raw([4]byte{1, 1, 0, 0}, nameBlock("", "u"), spk) // L = 3, 5 bytes of padding at 19
	_, err := isa.UnmarshalProgram(good)
	require.NoError(t, err)
	lif, err := lifProgram().MarshalBinary()
	require.NoError(t, err)

	for _, tc := range []struct {
		name string
		b    []byte
		err  error
		msg  string // a substring of the message
	}{
		{"empty", nil, isa.ErrFormat, `offset 0 (magic): got "", want "LRNP"`},
		{"short magic", []byte("LRN"), isa.ErrFormat, `offset 0 (magic)`},
		{"bad magic", patch(good, 0, 'l'), isa.ErrFormat, `offset 0 (magic): got "lRNP"`},
		{"short header", good[:12], isa.ErrFormat, "offset 12 (header): truncated: 12 bytes, need at least 20"},
		{"version", patch(good, 4, 2), isa.ErrFormat, "offset 4 (version): unsupported version 2, want 1"},
		{"version high byte", patch(good, 5, 1), isa.ErrFormat, "offset 4 (version): unsupported version 257"},
		{"flags", patch(good, 6, 1), isa.ErrFormat, "offset 6 (flags): 0x0001, want 0"},
		{"flags high", patch(good, 7, 0x80), isa.ErrFormat, "offset 6 (flags): 0x8000"},
		{"ninstr", patch(good, 8, 65), isa.ErrFormat, "offset 8 (ninstr): 65 exceeds the limit 64"},
		{"nstate", patch(good, 9, 9), isa.ErrFormat, "offset 9 (nstate): 9 exceeds the limit 8"},
		{"nparam", patch(good, 10, 255), isa.ErrFormat, "offset 10 (nparam): 255 exceeds the limit 8"},
		{"nconst", patch(good, 11, 17), isa.ErrFormat, "offset 11 (nconst): 17 exceeds the limit 16"},
		{"names length huge", patch(good, 12, 0xFF, 0xFF, 0xFF, 0xFF), isa.ErrFormat, "offset 12 (names length): blob is 36 bytes, but names length 4294967295 and ninstr 1 make 4294967324"},
		{"names length padded away", patch(good, 12, 9), isa.ErrFormat, "offset 12 (names length)"},
		{"ninstr too many for blob", patch(good, 8, 2), isa.ErrFormat, "offset 12 (names length): blob is 36 bytes, but names length 3 and ninstr 2 make 44"},
		{"trailing byte", fixCRC(append(append([]byte(nil), good...), 0)), isa.ErrFormat, "offset 12 (names length)"},
		{"truncated", fixCRC(append([]byte(nil), good[:len(good)-1]...)), isa.ErrFormat, "offset 12 (names length)"},
		{"crc", patch(good, len(good)-1, good[len(good)-1]^1), isa.ErrChecksum, "offset 32 (crc): stored 0x"},
		{"payload bit flip", func() []byte { c := append([]byte(nil), lif...); c[20] ^= 4; return c }(), isa.ErrChecksum, "(crc)"},
		{"name overruns block", raw([4]byte{1, 1, 0, 0}, append(nameBlock(""), 5, 'u'), spk), isa.ErrFormat, "offset 17 (state name 0): 5-byte name overruns the names block, which ends at offset 19"},
		{"block ends early", raw([4]byte{1, 2, 0, 0}, nameBlock("", "u"), spk), isa.ErrFormat, "offset 19 (state name 1): names block ends at offset 19"},
		{"no program name", raw([4]byte{1, 0, 0, 0}, nil, spk), isa.ErrFormat, "offset 16 (program name): names block ends"},
		{"const overruns", raw([4]byte{1, 0, 1, 1}, nameBlock("", "p", "c")[:4], spk), isa.ErrFormat, "offset 19 (const name 0): 1-byte name overruns the names block, which ends at offset 20"},
		{"leftover names", raw([4]byte{1, 1, 0, 0}, nameBlock("", "u", "v"), spk), isa.ErrFormat, "offset 19 (names): 2 bytes left over"},
		{"padding", patch(good, 23, 1), isa.ErrFormat, "offset 23 (padding): nonzero byte 0x01"},
		{"bad name", raw([4]byte{1, 1, 0, 0}, nameBlock("", "9u"), spk), isa.ErrInvalid, `offset 16 (names): invalid neuron program: state name 0 "9u" is not an identifier`},
		{"non-ascii name", raw([4]byte{1, 1, 0, 0}, nameBlock("", "ü"), spk), isa.ErrInvalid, `state name 0 "ü" is not an identifier`},
		{"empty name", raw([4]byte{1, 0, 1, 0}, nameBlock("", ""), spk), isa.ErrInvalid, `param name 0 "" is not an identifier`},
		{"bad program name", raw([4]byte{1, 0, 0, 0}, nameBlock("x-y"), spk), isa.ErrInvalid, `program name "x-y" is not an identifier`},
		{"reserved name", raw([4]byte{1, 0, 0, 1}, nameBlock("", "k0"), spk), isa.ErrInvalid, `const name 0 "k0" is reserved`},
		{"reserved a", raw([4]byte{1, 1, 0, 0}, nameBlock("", "a"), spk), isa.ErrInvalid, `state name 0 "a" is reserved`},
		{"duplicate name", raw([4]byte{1, 1, 1, 0}, nameBlock("", "x", "x"), spk), isa.ErrInvalid, `param name 0 "x" duplicates state name 0`},
		{"no instructions", raw([4]byte{0, 0, 0, 0}, nameBlock("")), isa.ErrInvalid, "invalid neuron program: no instructions"},
		{"zero word", raw([4]byte{1, 0, 0, 0}, nameBlock(""), 0), isa.ErrInvalid, "offset 24: instruction 0: unknown opcode 0x00"},
		{"unused field", raw([4]byte{2, 0, 0, 0}, nameBlock(""), spk, spk|1<<isa.RcShift), isa.ErrInvalid, "offset 32: instruction 1: spk: rc field must be zero, is 0x01"},
		{"undeclared state", raw([4]byte{1, 0, 0, 0}, nameBlock(""), isa.Instr{Op: isa.OpSpk, Ra: isa.S0}.Encode()), isa.ErrInvalid, "s0 not declared"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := isa.UnmarshalProgram(tc.b)
			require.Error(t, err)
			assert.Nil(t, p)
			assert.ErrorIs(t, err, tc.err)
			assert.Contains(t, err.Error(), tc.msg)
			assert.True(t, strings.HasPrefix(err.Error(), "isa: unmarshal program: "), err.Error())
			for _, other := range []error{isa.ErrFormat, isa.ErrChecksum, isa.ErrInvalid} {
				if other != tc.err {
					assert.NotErrorIs(t, err, other)
				}
			}

			q := lifProgram()
			require.Error(t, q.UnmarshalBinary(tc.b))
			assert.Equal(t, lifProgram(), q, "a failed UnmarshalBinary must leave the program unchanged")
		})
	}
}

func TestUnmarshalInstrError(t *testing.T) {
	b := raw([4]byte{1, 0, 0, 0}, nameBlock(""), isa.Instr{Op: isa.OpMov, Rd: isa.P0, Ra: isa.A}.Encode())
	_, err := isa.UnmarshalProgram(b)
	var ie *isa.InstrError
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, 0, ie.PC)
}

func FuzzUnmarshalProgram(f *testing.F) {
	for _, p := range validPrograms() {
		b, err := p.MarshalBinary()
		require.NoError(f, err)
		f.Add(b, false)
		f.Add(b, true)
	}
	f.Add([]byte("LRNP"), true)
	f.Add(raw([4]byte{1, 1, 0, 0}, nameBlock("", "u", "v"), isa.Instr{Op: isa.OpSpk, Ra: isa.A}.Encode()), false)
	f.Fuzz(func(t *testing.T, b []byte, withCRC bool) {
		if withCRC {
			// Let the fuzzer explore past the checksum.
			b = fixCRC(append([]byte(nil), b...))
		}
		p, err := isa.UnmarshalProgram(b)
		if err != nil {
			require.Nil(t, p)
			if !errors.Is(err, isa.ErrFormat) && !errors.Is(err, isa.ErrChecksum) && !errors.Is(err, isa.ErrInvalid) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		require.NoError(t, p.Validate())
		require.NoError(t, p.CheckNames())
		out, err := p.MarshalBinary()
		require.NoError(t, err)
		require.Equal(t, b, out)
	})
}
