//go:build !gousb

package usbdev

// Testbed is what the lab build (the gousb tag) has: a umockdev testbed. This build has
// none; NewTestbed says how to get one.
type Testbed struct{}

// NewTestbed returns ErrNoTestbed in this build.
func NewTestbed() (*Testbed, error) { return nil, ErrNoTestbed }

// The methods exist so that callers build either way; they are never reached.
func (t *Testbed) Root() string                { return "" }
func (t *Testbed) Env(preload string) []string { return nil }
func (t *Testbed) Plug(f USBDevice) error      { return ErrNoTestbed }
func (t *Testbed) Unplug(f USBDevice)          {}
func (t *Testbed) Remove(f USBDevice)          {}
func (t *Testbed) Close() error                { return nil }
func (t *Testbed) String() string              { return "no testbed" }
