package ftdi

import (
	"fmt"

	"github.com/lrchip/lrchip/firmware/regmap"
)

// payload is the data a full bulk IN packet carries.
func payload(maxPacket int) int { return maxPacket - regmap.FTDIStatusSize }

// rawSize is the bulk IN transfer that holds n bytes of answer exactly: full packets, then a
// short one for the rest. Sized so, the transfer ends when the answer is in, without the
// short packet the chip sends only when its latency timer expires.
func rawSize(n, maxPacket int) int {
	p := payload(maxPacket)
	size := n / p * maxPacket
	if r := n % p; r > 0 {
		size += regmap.FTDIStatusSize + r
	}
	return size
}

// stripStatus returns the data of a bulk IN transfer from an FTDI chip: packets of
// maxPacket bytes (the last may be short), each starting with two status bytes. A packet
// too short to hold them is ErrProtocol.
func stripStatus(raw []byte, maxPacket int) ([]byte, error) {
	if maxPacket <= regmap.FTDIStatusSize {
		return nil, fmt.Errorf("ftdi: packets of %d bytes hold no data: %w", maxPacket, ErrArgs)
	}
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i += maxPacket {
		pk := raw[i:min(i+maxPacket, len(raw))]
		if len(pk) < regmap.FTDIStatusSize {
			return nil, fmt.Errorf("ftdi: a bulk IN packet of %d bytes at byte %d has no status: %w", len(pk), i, ErrProtocol)
		}
		out = append(out, pk[regmap.FTDIStatusSize:]...)
	}
	return out, nil
}

// clockCmd appends an MPSSE clock command for data (n bytes: written from w when it is not
// nil, else MOSI holds; read when read), at most regmap.MPSSEMaxClock bytes.
func clockCmd(b []byte, w []byte, n int, read bool) []byte {
	op := byte(regmap.MPSSEWriteBytes)
	switch {
	case read && w != nil:
		op = regmap.MPSSEXferBytes
	case read:
		op = regmap.MPSSEReadBytes
	}
	b = append(b, op, byte(n-1), byte((n-1)>>8))
	if w != nil {
		b = append(b, w[:n]...)
	}
	return b
}
