package network

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"unicode/utf8"

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
	var tree *doc
	if f == YAML {
		d, ok, err := yamlDoc(data)
		if err != nil {
			return nil, fmt.Errorf("%w: yaml: %s", ErrSyntax, err)
		}
		if ok {
			tree = d
		}
	} else if json.Valid(data) {
		d, err := jsonDoc(data)
		if err != nil {
			return nil, fmt.Errorf("%w: %s", ErrSyntax, capMsg(err.Error()))
		}
		tree = d
	}
	if tree != nil && tree.kind == 'm' {
		if err := checkKeys(tree, reflect.TypeFor[Network](), ""); err != nil {
			return nil, fmt.Errorf("%w: %s", ErrSyntax, err)
		}
	}
	if f == YAML {
		var err error
		if js, err = yaml.YAMLToJSONStrict(data); err != nil {
			msg := strings.TrimPrefix(err.Error(), "error converting YAML to JSON: ")
			for strings.HasPrefix(msg, "yaml: ") {
				msg = strings.TrimPrefix(msg, "yaml: ")
			}
			return nil, fmt.Errorf("%w: yaml: %s", ErrSyntax, capMsg(msg))
		}
	}
	if t := bytes.TrimSpace(js); len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return nil, fmt.Errorf("%w: empty description", ErrSyntax)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	n := &Network{}
	if err := dec.Decode(n); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrSyntax, capMsg(jsonError(err, js, f)))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the description", ErrSyntax)
	}
	n.normalize()
	return n, nil
}

// normalize gives empty lists and maps one form, nil: "consts: {}" means what no consts
// means, and Marshal leaves both out, so that a description reads back as it was written.
func (n *Network) normalize() {
	if len(n.Inputs) == 0 {
		n.Inputs = nil
	}
	if len(n.Connections) == 0 {
		n.Connections = nil
	}
	if len(n.Outputs) == 0 {
		n.Outputs = nil
	}
	for i := range n.Populations {
		p := &n.Populations[i]
		if len(p.Consts) == 0 {
			p.Consts = nil
		}
		if len(p.Params) == 0 {
			p.Params = nil
		}
		if len(p.State) == 0 {
			p.State = nil
		}
	}
}

// maxMsg bounds an error message made from a decoder's, which may quote the input.
const maxMsg = 400

func capMsg(s string) string {
	if len(s) <= maxMsg {
		return s
	}
	cut := maxMsg
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (message cut at %d of %d bytes)", s[:cut], cut, len(s))
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

// Marshal writes the description in JSON (indented) or YAML (Auto: YAML; JSON, which YAML
// reads too, when a string holds what YAML cannot, such as control characters).
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
		// YAML cannot hold some characters (controls) as they are: JSON with them escaped can,
		// and YAML reads JSON.
		return append(yamlSafe(js), '\n'), nil
	}
	return y, nil
}

// yamlSafe escapes, in JSON text, the characters YAML does not allow in a stream (controls
// other than tab and newlines, U+FFFE, U+FFFF): they can only be inside strings.
func yamlSafe(js []byte) []byte {
	var out []byte
	for _, r := range string(js) {
		printable := r == '\t' || r == '\n' || r == '\r' || r >= 0x20 && r <= 0x7e || r == 0x85 ||
			r >= 0xa0 && r <= 0xd7ff || r >= 0xe000 && r <= 0xfffd || r >= 0x10000 && r <= 0x10ffff
		if printable {
			out = utf8.AppendRune(out, r)
		} else {
			out = fmt.Appendf(out, "\\u%04x", r)
		}
	}
	return out
}
