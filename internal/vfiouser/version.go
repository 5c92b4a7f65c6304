package vfiouser

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
)

// Capabilities are the VERSION message's JSON capabilities. Zero fields are absent (the
// spec's defaults apply; see the methods).
type Capabilities struct {
	MaxMsgFds       uint64 // descriptors the sender can receive in one message
	MaxDataXferSize uint64 // largest count of a data transfer it accepts
	MaxDMAMaps      uint64 // DMA windows it can hold at once
	PgSizes         uint64 // page sizes of DMA maps, or'ed
	WriteMultiple   bool   // REGION_WRITE_MULTI supported
}

// Defaults of the capabilities a peer did not state.
const (
	DefaultMaxMsgFds  = 1
	DefaultMaxDMAMaps = 65535
	DefaultPgSizes    = 4096
)

// Fds returns MaxMsgFds or its default.
func (c Capabilities) Fds() uint64 {
	if c.MaxMsgFds == 0 {
		return DefaultMaxMsgFds
	}
	return c.MaxMsgFds
}

// Xfer returns MaxDataXferSize or its default.
func (c Capabilities) Xfer() uint64 {
	if c.MaxDataXferSize == 0 {
		return DefaultMaxDataXfer
	}
	return c.MaxDataXferSize
}

// DMAMaps returns MaxDMAMaps or its default.
func (c Capabilities) DMAMaps() uint64 {
	if c.MaxDMAMaps == 0 {
		return DefaultMaxDMAMaps
	}
	return c.MaxDMAMaps
}

// Pages returns PgSizes or its default.
func (c Capabilities) Pages() uint64 {
	if c.PgSizes == 0 {
		return DefaultPgSizes
	}
	return c.PgSizes
}

func (c Capabilities) json() []byte {
	caps := map[string]any{}
	if c.MaxMsgFds != 0 {
		caps["max_msg_fds"] = c.MaxMsgFds
	}
	if c.MaxDataXferSize != 0 {
		caps["max_data_xfer_size"] = c.MaxDataXferSize
	}
	if c.MaxDMAMaps != 0 {
		caps["max_dma_maps"] = c.MaxDMAMaps
	}
	if c.PgSizes != 0 {
		caps["pgsizes"] = c.PgSizes
	}
	if c.WriteMultiple {
		caps["write_multiple"] = true
	}
	b, _ := json.Marshal(map[string]any{"capabilities": caps}) // maps of numbers and bools always marshal
	return b
}

// parseCapabilities reads the JSON after a VERSION's numbers: empty, or an object (with a
// terminating NUL) whose "capabilities" object holds the fields above. Unknown members are
// ignored, as the spec lets peers add them; known ones must have their type and a sane value.
func parseCapabilities(data []byte) (Capabilities, error) {
	var c Capabilities
	if i := bytes.IndexByte(data, 0); i >= 0 {
		if i != len(data)-1 {
			return c, malformed("VERSION", "%d bytes after the NUL that ends the capabilities", len(data)-1-i)
		}
		data = data[:i]
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return c, nil
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return c, malformed("VERSION", "capabilities are not a JSON object: %v", err)
	}
	raw, ok := top["capabilities"]
	if !ok {
		return c, nil
	}
	var caps map[string]json.RawMessage
	if err := json.Unmarshal(raw, &caps); err != nil {
		return c, malformed("VERSION", `"capabilities" is not an object: %v`, err)
	}
	num := func(name string, lo, hi uint64) (uint64, error) {
		r, ok := caps[name]
		if !ok {
			return 0, nil
		}
		var f float64
		if err := json.Unmarshal(r, &f); err != nil || f != math.Trunc(f) || f < float64(lo) || f > float64(hi) {
			return 0, malformed("VERSION", "capability %q is %s, want an integer from %d to %d", name, r, lo, hi)
		}
		return uint64(f), nil
	}
	var err error
	if c.MaxMsgFds, err = num("max_msg_fds", 1, 1<<16); err != nil {
		return c, err
	}
	if c.MaxDataXferSize, err = num("max_data_xfer_size", 4, 1<<32); err != nil {
		return c, err
	}
	if c.MaxDMAMaps, err = num("max_dma_maps", 1, 1<<32); err != nil {
		return c, err
	}
	if c.PgSizes, err = num("pgsizes", 1, 1<<53); err != nil {
		return c, err
	}
	if r, ok := caps["write_multiple"]; ok {
		if err := json.Unmarshal(r, &c.WriteMultiple); err != nil {
			return c, malformed("VERSION", `capability "write_multiple" is %s, want a boolean`, r)
		}
	}
	return c, nil
}

// Negotiate is what a server answers a client's VERSION: the same major (else an error), the
// lower minor, and capabilities for this server.
func Negotiate(client Version, server Capabilities) (Version, error) {
	if client.Major != MajorVersion {
		return Version{}, fmt.Errorf("vfio-user: client speaks protocol %d.%d, this server %d.%d", client.Major, client.Minor, MajorVersion, MinorVersion)
	}
	return Version{Major: MajorVersion, Minor: min(client.Minor, MinorVersion), Caps: server}, nil
}
