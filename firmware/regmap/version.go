package regmap

import (
	"errors"
	"fmt"
)

// Version is a protocol version as the PROTO_VERSION and HOST_VERSION registers hold it:
// major in bits 31..16, minor in bits 15..0. Hosts and boards of the same major interoperate,
// speaking the lower minor; a different major does not.
type Version uint32

// MakeVersion packs a protocol version.
func MakeVersion(major, minor uint16) Version { return Version(uint32(major)<<16 | uint32(minor)) }

// Major and Minor unpack it.
func (v Version) Major() uint16 { return uint16(v >> 16) }
func (v Version) Minor() uint16 { return uint16(v) }

func (v Version) String() string { return fmt.Sprintf("%d.%d", v.Major(), v.Minor()) }

// The protocol this package describes, and the capability-block layout.
const (
	ProtocolVersion Version = 1<<16 | 0 // 1.0
	CapVersion      uint32  = 1
)

// FWVersion is a firmware version as FW_VERSION holds it: major in bits 31..24, minor in
// 23..16, patch in 15..0.
type FWVersion uint32

// MakeFWVersion packs a firmware version.
func MakeFWVersion(major, minor uint8, patch uint16) FWVersion {
	return FWVersion(uint32(major)<<24 | uint32(minor)<<16 | uint32(patch))
}

func (v FWVersion) String() string {
	return fmt.Sprintf("%d.%d.%d", uint8(v>>24), uint8(v>>16), uint16(v))
}

// ErrVersion is wrapped by the errors of Negotiate and CheckCaps.
var ErrVersion = errors.New("version mismatch")

// Negotiate returns the version a host that speaks host talks to a board that speaks board
// in: the same major, the lower minor. A different major is an error naming both.
func Negotiate(host, board Version) (Version, error) {
	if host.Major() != board.Major() {
		return 0, fmt.Errorf("regmap: board speaks protocol %s, host speaks %s: %w", board, host, ErrVersion)
	}
	if board.Minor() < host.Minor() {
		return board, nil
	}
	return host, nil
}

// CheckCaps checks that a host that knows capability layouts up to known can read a board
// whose CAP_VERSION is board. Layouts only grow, so an older one is fine.
func CheckCaps(known, board uint32) error {
	if board == 0 || board > known {
		return fmt.Errorf("regmap: board's capability layout is version %d, host knows 1 to %d: %w", board, known, ErrVersion)
	}
	return nil
}

// MarshalText writes "major.minor".
func (v Version) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// MarshalText writes "major.minor.patch".
func (v FWVersion) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// ParseFWVersion parses "major.minor.patch".
func ParseFWVersion(s string) (FWVersion, error) {
	var a, b, c uint64
	if n, err := fmt.Sscanf(s, "%d.%d.%d", &a, &b, &c); err != nil || n != 3 || a > 255 || b > 255 || c > 65535 || fmt.Sprintf("%d.%d.%d", a, b, c) != s {
		return 0, fmt.Errorf("regmap: firmware version %q is not major.minor.patch (255.255.65535 at most)", s)
	}
	return MakeFWVersion(uint8(a), uint8(b), uint16(c)), nil
}
