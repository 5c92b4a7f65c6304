package regmap

import (
	"bytes"
	"testing"
)

// The fuzz targets below cover every decoder of bytes that come from a board (or, for
// DecodeCommand and DecodeHello, from a host to the emulated board). Each checks that the
// decoder never panics and that whatever it accepts encodes back to the same bytes.

func FuzzDecodeCompletion(f *testing.F) {
	b := make([]byte, CompletionSize(3))
	PutCompletion(b, Completion{Tag: 1, Op: OpRun, Timestep: 2, Data: []byte("abc")})
	f.Add(b)
	f.Add(make([]byte, 15))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeCompletion(b)
		if err != nil {
			return
		}
		_ = c.Message()
		out := make([]byte, CompletionSize(len(c.Data)))
		PutCompletion(out, c)
		if !bytes.Equal(out, b) {
			t.Fatalf("round trip: %x != %x", out, b)
		}
	})
}

func FuzzDecodeEvent(f *testing.F) {
	b := make([]byte, EventSize)
	PutEvent(b, Event{Code: EventThrottle, Arg: 1, Timestep: 2, Value: 3})
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeEvent(b)
		if err != nil {
			return
		}
		out := make([]byte, EventSize)
		PutEvent(out, e)
		if !bytes.Equal(out, b) {
			t.Fatalf("round trip: %x != %x", out, b)
		}
	})
}

func FuzzDecodeSpikes(f *testing.F) {
	b := make([]byte, SpikesSize(2))
	PutSpikes(b, 1, 2, []Spike{{3, 4}, {5, -6}})
	f.Add(b)
	f.Add(b[:20])
	f.Fuzz(func(t *testing.T, b []byte) {
		h, s, err := DecodeSpikes(b, nil)
		if err != nil {
			return
		}
		if int(h.Count) != len(s) {
			t.Fatalf("count %d, %d spikes", h.Count, len(s))
		}
		out := make([]byte, SpikesSize(len(s)))
		PutSpikes(out, h.Port, h.Timestep, s)
		if !bytes.Equal(out, b) {
			t.Fatalf("round trip: %x != %x", out, b)
		}
	})
}

func FuzzDecodeProbe(f *testing.F) {
	b := make([]byte, ProbeSize(2))
	PutProbe(b, 1, 2, []int32{3, -4})
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		h, v, err := DecodeProbe(b, nil)
		if err != nil {
			return
		}
		out := make([]byte, ProbeSize(len(v)))
		PutProbe(out, h.Probe, h.Timestep, v)
		if !bytes.Equal(out, b) {
			t.Fatalf("round trip: %x != %x", out, b)
		}
	})
}

func FuzzDecodeResults(f *testing.F) {
	f.Add(uint8(0), Sensors{Rails: make([]RailReading, 3)}.Append(nil))
	f.Add(uint8(1), FlashInfo{Slots: make([]SlotInfo, 3)}.Append(nil))
	f.Add(uint8(2), LoadResult{1, 2, 3, 4}.Append(nil))
	f.Add(uint8(3), AppendProbeAddResult(nil, 7))
	f.Fuzz(func(t *testing.T, which uint8, b []byte) {
		var out []byte
		switch which % 4 {
		case 0:
			s, err := DecodeSensors(b)
			if err != nil {
				return
			}
			out = s.Append(nil)
		case 1:
			fi, err := DecodeFlashInfo(b)
			if err != nil {
				return
			}
			out = fi.Append(nil)
		case 2:
			r, err := DecodeLoadResult(b)
			if err != nil {
				return
			}
			out = r.Append(nil)
		case 3:
			p, err := DecodeProbeAddResult(b)
			if err != nil {
				return
			}
			out = AppendProbeAddResult(nil, p)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("round trip: %x != %x", out, b)
		}
	})
}

func FuzzDecodeHelloReply(f *testing.F) {
	f.Add(HelloReply{Status: SetupOK, NFds: SetupFds, HolderComm: "x"}.Append(nil))
	f.Add(HelloReply{Status: SetupError, Message: "bad"}.Append(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeHelloReply(b)
		if err != nil {
			return
		}
		if len(r.HolderComm) > 16*3 || len(r.Message) > MaxMessage*3 {
			t.Fatalf("strings too long: %d, %d", len(r.HolderComm), len(r.Message))
		}
	})
}

func FuzzDecodeSlotHeader(f *testing.F) {
	b := make([]byte, SlotHeaderSize)
	SlotHeader{Slot: 1, Size: 10}.Put(b)
	f.Add(b, 1)
	f.Fuzz(func(t *testing.T, b []byte, slot int) {
		h, err := DecodeSlotHeader(b, slot, 1<<20)
		if err != nil {
			return
		}
		out := make([]byte, SlotHeaderSize)
		h.Put(out)
		if !bytes.Equal(out, b[:SlotHeaderSize]) {
			t.Fatalf("round trip: %x != %x", out, b)
		}
	})
}

func FuzzDecodeCommand(f *testing.F) {
	b := make([]byte, CommandSize(8))
	PutCommand(b, Command{Tag: 1, Op: OpRun, Args: AppendU64(nil, 5)})
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeCommand(b)
		if err != nil {
			return
		}
		// Every argument decoder must cope with whatever follows.
		DecodeU64Args(c.Op, c.Args)
		DecodeDataArgs(c.Op, c.Args)
		DecodeLoadEndArgs(c.Args)
		DecodeMemReadArgs(c.Args)
		DecodeFlashBeginArgs(c.Args)
		DecodeFlashEndArgs(c.Args)
		DecodeHello(c.Args)
		DecodeProbeAddArgs(c.Args)
		DecodeLoadDMAArgs(c.Args)
	})
}
