package bundle

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
)

// Key files are one line of text: "lrchip-ed25519-pub BASE64 [comment]" for a public key
// (32 bytes), "lrchip-ed25519-key BASE64" for a private key (its 32-byte seed).
const (
	pubTag  = "lrchip-ed25519-pub"
	privTag = "lrchip-ed25519-key"
)

// GenerateKey makes a key pair from rand.
func GenerateKey(rand io.Reader) (ed25519.PublicKey, ed25519.PrivateKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand)
	if err != nil {
		return nil, nil, fmt.Errorf("bundle: generate key: %w", err)
	}
	return pub, priv, nil
}

// FormatPublicKey writes a public key file's line.
func FormatPublicKey(k ed25519.PublicKey, comment string) string {
	s := pubTag + " " + base64.StdEncoding.EncodeToString(k)
	if comment = strings.Join(strings.Fields(comment), " "); comment != "" {
		s += " " + comment
	}
	return s + "\n"
}

// FormatPrivateKey writes a private key file's line.
func FormatPrivateKey(k ed25519.PrivateKey) string {
	return privTag + " " + base64.StdEncoding.EncodeToString(k.Seed()) + "\n"
}

func parseKey(b []byte, tag string, size int) ([]byte, string, error) {
	if len(b) > 4096 {
		return nil, "", fmt.Errorf("bundle: a key file of %d bytes: %w", len(b), ErrKey)
	}
	f := strings.Fields(string(b))
	if len(f) < 2 || f[0] != tag {
		return nil, "", fmt.Errorf("bundle: key file does not start with %q: %w", tag, ErrKey)
	}
	k, err := base64.StdEncoding.DecodeString(f[1])
	if err != nil || len(k) != size {
		return nil, "", fmt.Errorf("bundle: %s: not %d bytes of base64: %w", tag, size, ErrKey)
	}
	return k, strings.Join(f[2:], " "), nil
}

// ParsePublicKey reads a public key file and its comment.
func ParsePublicKey(b []byte) (ed25519.PublicKey, string, error) {
	k, c, err := parseKey(b, pubTag, ed25519.PublicKeySize)
	return ed25519.PublicKey(k), c, err
}

// ParsePrivateKey reads a private key file.
func ParsePrivateKey(b []byte) (ed25519.PrivateKey, error) {
	k, _, err := parseKey(b, privTag, ed25519.SeedSize)
	if err != nil {
		return nil, err
	}
	return ed25519.NewKeyFromSeed(k), nil
}
