package main

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/driver"
)

// One JSON style for every command: lower-case snake_case keys, no HTML escaping, and the same
// type for the same field everywhere — "serial" a string (USB serials are), "size" the chip
// size as {"cores": C, "neurons_per_core": N}. The driver's structs predate that; their JSON
// is restyled here, in the front end.

// restyle marshals v and decodes it into a map for fix to adjust.
func restyle(v any, fix func(m map[string]any)) any {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if dec.Decode(&m) != nil {
		return v
	}
	fix(m)
	return m
}

// infoJSON is lrctl info --json: the driver's Info with its serial as a string and its
// cores × neurons as size, and the status.
func infoJSON(info driver.Info, st driver.Status) any {
	return restyle(info, func(m map[string]any) {
		m["serial"] = strconv.FormatUint(info.Serial, 10)
		m["size"] = chip.Size{Cores: info.Cores, NeuronsPerCore: info.NeuronsPerCore}
		delete(m, "cores")
		delete(m, "neurons_per_core")
		m["status"] = st
	})
}

// listJSON is lrctl list --json: each device's size as an object, where known.
func listJSON(found []driver.Found) any {
	out := make([]any, 0, len(found))
	for _, f := range found {
		out = append(out, restyle(f, func(m map[string]any) {
			if s, err := chip.ParseSize(f.Size); err == nil && f.Size != "" {
				m["size"] = s
			} else {
				delete(m, "size")
			}
		}))
	}
	return out
}
