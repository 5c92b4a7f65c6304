package bundle

import (
	"bytes"
	"crypto/ed25519"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/firmware/regmap"
)

type seeded struct{ r *rand.ChaCha8 }

func (s seeded) Read(b []byte) (int, error) { return s.r.Read(b) }

func keys(t *testing.T, seed byte) (ed25519.PublicKey, ed25519.PrivateKey) {
	pub, priv, err := GenerateKey(seeded{rand.NewChaCha8([32]byte{seed})})
	require.NoError(t, err)
	return pub, priv
}

func sample() *Bundle {
	return &Bundle{Header: Header{Board: regmap.BoardEmulator, Protocol: regmap.ProtocolVersion, Version: regmap.MakeFWVersion(2, 1, 7),
		BuildID: "ci-1234 g0a1b2c3", Created: time.Unix(1700000000, 0).UTC()},
		Bitstream: bytes.Repeat([]byte{0xaa, 0x99, 0x55, 0x66}, 1000), Softcore: []byte("soft core firmware")}
}

func TestRoundTripAndSignature(t *testing.T) {
	pub, priv := keys(t, 1)
	other, _ := keys(t, 2)
	b := sample()
	raw, err := b.MarshalBinary()
	require.NoError(t, err)
	require.Len(t, raw, HeaderSize+4000+18)
	got, err := Decode(raw)
	require.NoError(t, err)
	require.Equal(t, b, got)
	_, err = got.Verify([]ed25519.PublicKey{pub})
	require.ErrorIs(t, err, ErrUnsigned)

	require.NoError(t, b.Sign(priv))
	signed, err := b.MarshalBinary()
	require.NoError(t, err)
	require.Len(t, signed, len(raw)+SigSize)
	got, err = Decode(signed)
	require.NoError(t, err)
	k, err := got.Verify([]ed25519.PublicKey{other, pub})
	require.NoError(t, err)
	require.Equal(t, pub, k)
	_, err = got.Verify([]ed25519.PublicKey{other})
	require.ErrorIs(t, err, ErrUntrusted)

	// Any change to the header or the payload breaks it: the digest (a payload byte) or the
	// signature (a header field).
	payload := append([]byte(nil), signed...)
	payload[HeaderSize+10] ^= 1
	_, err = Decode(payload)
	require.ErrorIs(t, err, ErrFormat)
	hdr := append([]byte(nil), signed...)
	hdr[20] ^= 1 // the firmware version
	got, err = Decode(hdr)
	require.NoError(t, err, "still well-formed")
	_, err = got.Verify([]ed25519.PublicKey{pub})
	require.ErrorIs(t, err, ErrSignature)
	require.Equal(t, b.Payload(), append(append([]byte(nil), b.Bitstream...), b.Softcore...))
}

func TestDecodeRefusals(t *testing.T) {
	_, priv := keys(t, 1)
	b := sample()
	require.NoError(t, b.Sign(priv))
	good, err := b.MarshalBinary()
	require.NoError(t, err)
	for name, mutate := range map[string]func([]byte) []byte{
		"empty":             func(b []byte) []byte { return nil },
		"short header":      func(b []byte) []byte { return b[:100] },
		"magic":             func(b []byte) []byte { b[0] = 'X'; return b },
		"format":            func(b []byte) []byte { b[4] = 2; return b },
		"flags":             func(b []byte) []byte { b[6] = 1; return b },
		"header size":       func(b []byte) []byte { b[8] = 64; return b },
		"reserved":          func(b []byte) []byte { b[110] = 1; return b },
		"truncated payload": func(b []byte) []byte { return b[:HeaderSize+100] },
		"huge size":         func(b []byte) []byte { b[24], b[25], b[26], b[27] = 0xff, 0xff, 0xff, 0xff; return b },
		"trailing garbage":  func(b []byte) []byte { return append(b, 1, 2, 3) },
		"signature magic":   func(b []byte) []byte { b[len(b)-SigSize] = 0; return b },
		"build id padding":  func(b []byte) []byte { b[40+30] = 0; b[40+31] = 'x'; return b },
		"build id UTF-8":    func(b []byte) []byte { b[40] = 0xff; return b },
	} {
		_, err := Decode(mutate(append([]byte(nil), good...)))
		require.ErrorIs(t, err, ErrFormat, name)
		require.Contains(t, err.Error(), "bundle: ", name)
	}
	b.BuildID = string(make([]byte, 40))
	_, err = b.MarshalBinary()
	require.ErrorIs(t, err, ErrFormat)
}

func TestTarget(t *testing.T) {
	b := sample()
	require.NoError(t, b.CheckTarget(regmap.BoardEmulator, regmap.ProtocolVersion))
	require.NoError(t, b.CheckTarget(regmap.BoardEmulator, regmap.MakeVersion(1, 9)), "another minor")
	require.ErrorIs(t, b.CheckTarget(regmap.BoardUSB, regmap.ProtocolVersion), ErrTarget)
	require.ErrorIs(t, b.CheckTarget(regmap.BoardEmulator, regmap.MakeVersion(2, 0)), ErrTarget)
}

func TestKeys(t *testing.T) {
	pub, priv := keys(t, 3)
	p, c, err := ParsePublicKey([]byte(FormatPublicKey(pub, " lab  key ")))
	require.NoError(t, err)
	require.Equal(t, pub, p)
	require.Equal(t, "lab key", c)
	k, err := ParsePrivateKey([]byte(FormatPrivateKey(priv)))
	require.NoError(t, err)
	require.Equal(t, priv, k)
	for _, bad := range []string{"", "lrchip-ed25519-pub", "lrchip-ed25519-pub !!!", "lrchip-ed25519-pub AAAA", FormatPrivateKey(priv)} {
		_, _, err := ParsePublicKey([]byte(bad))
		require.ErrorIs(t, err, ErrKey, bad)
	}
	_, err = ParsePrivateKey([]byte(FormatPublicKey(pub, "")))
	require.ErrorIs(t, err, ErrKey)
}

// FuzzDecode decodes arbitrary bytes: no panic; what decodes encodes back to the same bytes.
func FuzzDecode(f *testing.F) {
	b := sample()
	raw, _ := b.MarshalBinary()
	f.Add(raw)
	_, priv, _ := GenerateKey(seeded{rand.NewChaCha8([32]byte{9})})
	b.Sign(priv)
	signed, _ := b.MarshalBinary()
	f.Add(signed)
	f.Add(raw[:HeaderSize])
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Decode(data)
		if err != nil {
			return
		}
		again, err := b.MarshalBinary()
		require.NoError(t, err)
		require.Equal(t, data, again)
	})
}
