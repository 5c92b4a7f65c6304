package network

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"
)

// Format is a description file format.
type Format int

// Formats. Auto picks JSON when the text starts with '{' and YAML otherwise.
const (
	Auto Format = iota
	JSON
	YAML
)

func (f Format) String() string {
	switch f {
	case JSON:
		return "json"
	case YAML:
		return "yaml"
	}
	return "auto"
}

// FormatOf returns the format a file name's extension implies: JSON for .json, YAML for .yaml
// and .yml, Auto otherwise.
func FormatOf(name string) Format {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".json":
		return JSON
	case ".yaml", ".yml":
		return YAML
	}
	return Auto
}

// MaxFileSize bounds the description files Load reads.
const MaxFileSize = 256 << 20

// Parse reads a network description in JSON or YAML. Both have one schema, the JSON field
// names of Network; unknown fields and (in YAML) duplicate keys are errors. Parse does not
// validate the network (see Validate). Errors wrap ErrSyntax.
func Parse(data []byte, f Format) (*Network, error) {
	n, err := parse(data, f)
	if err != nil {
		return nil, fmt.Errorf("network: %w", err)
	}
	return n, nil
}

func parse(data []byte, f Format) (*Network, error) {
	if f == Auto {
		f = YAML
		if t := bytes.TrimLeft(data, " \t\r\n"); len(t) > 0 && t[0] == '{' {
			f = JSON
		}
	}
	js := data
	if f == YAML {
		var err error
		if js, err = yaml.YAMLToJSONStrict(data); err != nil {
			msg := strings.TrimPrefix(err.Error(), "error converting YAML to JSON: ")
			for strings.HasPrefix(msg, "yaml: ") {
				msg = strings.TrimPrefix(msg, "yaml: ")
			}
			return nil, fmt.Errorf("%w: yaml: %s", ErrSyntax, msg)
		}
	}
	if t := bytes.TrimSpace(js); len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return nil, fmt.Errorf("%w: empty description", ErrSyntax)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	n := &Network{}
	if err := dec.Decode(n); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrSyntax, jsonError(err, js, f))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the description", ErrSyntax)
	}
	return n, nil
}

// jsonError describes a decoding error, with a line and column for JSON text.
func jsonError(err error, js []byte, f Format) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	pos := func(off int64) string {
		if f != JSON {
			return ""
		}
		off = max(0, min(off-1, int64(len(js)))) // the last byte read
		line := 1 + bytes.Count(js[:off], []byte("\n"))
		col := off - int64(bytes.LastIndexByte(js[:off], '\n'))
		return fmt.Sprintf("line %d, column %d: ", line, col)
	}
	switch {
	case errors.As(err, &se):
		return pos(se.Offset) + se.Error()
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "the description"
		}
		return fmt.Sprintf("%s%s: want %s, got a JSON %s", pos(te.Offset), field, te.Type, te.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected end of input"
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// Load reads a description file (format by extension, else by content) and sets Dir to its
// folder, so that source_file paths are relative to it.
func Load(path string) (*Network, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("network: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("network: %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("network: %s: %w: larger than %d bytes", path, ErrSyntax, MaxFileSize)
	}
	n, err := parse(data, FormatOf(path))
	if err != nil {
		return nil, fmt.Errorf("network: %s: %w", path, err)
	}
	n.Dir = filepath.Dir(path)
	return n, nil
}

// Marshal writes the description in JSON (indented) or YAML (Auto: YAML).
func (n *Network) Marshal(f Format) ([]byte, error) {
	js, err := json.MarshalIndent(n, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("network: marshal: %w", err)
	}
	if f == JSON {
		return append(js, '\n'), nil
	}
	y, err := yaml.JSONToYAML(js)
	if err != nil {
		return nil, fmt.Errorf("network: marshal: %w", err)
	}
	return y, nil
}
