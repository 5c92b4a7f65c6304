package isa

import (
	"fmt"

	"github.com/lrchip/lrchip/chip"
)

// MaxNameLen is the longest program or register name, in bytes (the program binary stores
// each name's length in one byte).
const MaxNameLen = 255

// ValidName reports whether s is an identifier: [A-Za-z_][A-Za-z0-9_]*. It does not limit
// the length; see MaxNameLen.
func ValidName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// ReservedName reports whether s is spelled like a generic register name, and so cannot name a
// register: "a", "t", or one of the letters s, r, p, c, k followed by decimal digits only
// (s0, c15, but also s8 or r01, so that no name can become ambiguous if the register files grow).
func ReservedName(s string) bool {
	if s == "a" || s == "t" {
		return true
	}
	if len(s) < 2 {
		return false
	}
	switch s[0] {
	case 's', 'r', 'p', 'c', 'k':
	default:
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// CheckNames checks the program's names, which Validate does not look at: the program name is
// empty or an identifier; every state, parameter and constant name is an identifier that is not
// reserved (see ReservedName) and is used once across the three lists; no state register is
// named like a probe field that is not a state register (chip.ReservedField: a, input, spike,
// s), so that a probe of a field always records what its name says; no name is longer than
// MaxNameLen. Errors wrap ErrInvalid. A program that passes Validate and CheckNames can be
// stored (MarshalBinary) and disassembled.
func (p *Program) CheckNames() error {
	if len(p.Name) > MaxNameLen {
		return fmt.Errorf("%w: program name is %d bytes, limit %d", ErrInvalid, len(p.Name), MaxNameLen)
	}
	if p.Name != "" && !ValidName(p.Name) {
		return fmt.Errorf("%w: program name %q is not an identifier", ErrInvalid, p.Name)
	}
	seen := map[string]string{}
	for _, l := range []struct {
		what  string
		names []string
	}{{"state", p.State}, {"param", p.Params}, {"const", p.Consts}} {
		for i, n := range l.names {
			what := fmt.Sprintf("%s name %d", l.what, i)
			switch {
			case len(n) > MaxNameLen:
				return fmt.Errorf("%w: %s is %d bytes, limit %d", ErrInvalid, what, len(n), MaxNameLen)
			case !ValidName(n):
				return fmt.Errorf("%w: %s %q is not an identifier", ErrInvalid, what, n)
			case ReservedName(n):
				return fmt.Errorf("%w: %s %q is reserved (spelled like a register)", ErrInvalid, what, n)
			case l.what == "state" && chip.ReservedField(n):
				return fmt.Errorf("%w: %s %q is reserved: probes read it as %s (%s is the dendritic input, %s the spike payload); choose another name",
					ErrInvalid, what, n, fieldMeaning(n), chip.NameInput, chip.NameSpike)
			case seen[n] != "":
				return fmt.Errorf("%w: %s %q duplicates %s", ErrInvalid, what, n, seen[n])
			}
			seen[n] = what
		}
	}
	return nil
}

func fieldMeaning(n string) string {
	if f, err := chip.ParseField(n, nil); err == nil && f.Kind == chip.FieldInput {
		return "the dendritic input"
	}
	return "the spike payload"
}
