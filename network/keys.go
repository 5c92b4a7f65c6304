package network

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"

	yaml3 "go.yaml.in/yaml/v3"
)

// The decoders match keys without regard to case and let a repeated key win silently: two
// lists under "populations:" and "Populations:" would lose one. So before decoding, the
// document's keys are checked against the schema exactly: an unknown key, a key in another
// case and a key given twice are errors naming the line. YAML words that YAML 1.1 reads as
// booleans (y, n, yes, no, on, off) are errors too: a population named n would otherwise be
// the boolean false.

// doc is a parsed document: a mapping, a sequence or a scalar, with lines.
type doc struct {
	kind  byte // 'm' mapping, 's' sequence, 'v' scalar
	line  int
	keys  []string
	kline []int
	vals  []*doc
	items []*doc
}

// maxNodes bounds the nodes the check visits (YAML aliases can make a small file a large tree).
const maxNodes = 1 << 24

// yaml11Bools are the plain scalars YAML 1.1 (and so the YAML decoder used here) reads as
// booleans besides true and false.
var yaml11Bools = map[string]bool{"y": true, "Y": true, "yes": true, "Yes": true, "YES": true, "n": true, "N": true,
	"no": true, "No": true, "NO": true, "on": true, "On": true, "ON": true, "off": true, "Off": true, "OFF": true}

// yamlDoc builds the tree of a YAML document. ok is false when yaml.v3 cannot read it (the
// YAML decoder then reports the syntax error).
func yamlDoc(data []byte) (d *doc, ok bool, err error) {
	var root yaml3.Node
	if yaml3.Unmarshal(data, &root) != nil {
		return nil, false, nil
	}
	visits := 0
	var build func(n *yaml3.Node, depth int) (*doc, error)
	build = func(n *yaml3.Node, depth int) (*doc, error) {
		visits++
		if visits > maxNodes || depth > 1000 {
			return nil, fmt.Errorf("more than %d nodes (through aliases?) or deeper than 1000", maxNodes)
		}
		for n.Kind == yaml3.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		out := &doc{line: n.Line}
		switch n.Kind {
		case yaml3.DocumentNode:
			if len(n.Content) == 0 {
				return &doc{kind: 'v'}, nil
			}
			return build(n.Content[0], depth+1)
		case yaml3.MappingNode:
			out.kind = 'm'
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				if err := checkBool(k); err != nil {
					return nil, err
				}
				v, err := build(n.Content[i+1], depth+1)
				if err != nil {
					return nil, err
				}
				out.keys, out.kline, out.vals = append(out.keys, k.Value), append(out.kline, k.Line), append(out.vals, v)
			}
		case yaml3.SequenceNode:
			out.kind = 's'
			for _, c := range n.Content {
				v, err := build(c, depth+1)
				if err != nil {
					return nil, err
				}
				out.items = append(out.items, v)
			}
		default:
			out.kind = 'v'
			if err := checkBool(n); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	d, err = build(&root, 0)
	return d, true, err
}

func checkBool(n *yaml3.Node) error {
	if n.Kind == yaml3.ScalarNode && n.Style == 0 && yaml11Bools[n.Value] {
		return fmt.Errorf("line %d, column %d: %s is read as a boolean (YAML 1.1): quote it (%q) if it is a name or text, or write true or false",
			n.Line, n.Column, n.Value, n.Value)
	}
	return nil
}

// jsonDoc builds the tree of a JSON document (which must already be valid JSON).
func jsonDoc(data []byte) (*doc, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	lineAt := func(off int64) int { return 1 + bytes.Count(data[:min(off, int64(len(data)))], []byte("\n")) }
	visits := 0
	var value func(depth int) (*doc, error)
	value = func(depth int) (*doc, error) {
		visits++
		if depth > 1000 {
			return nil, fmt.Errorf("deeper than 1000")
		}
		at := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		d := &doc{kind: 'v', line: lineAt(at)}
		switch tok {
		case json.Delim('{'):
			d.kind = 'm'
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				kl := lineAt(dec.InputOffset())
				v, err := value(depth + 1)
				if err != nil {
					return nil, err
				}
				d.keys, d.kline, d.vals = append(d.keys, k), append(d.kline, kl), append(d.vals, v)
			}
			_, err = dec.Token()
		case json.Delim('['):
			d.kind = 's'
			for dec.More() {
				v, err := value(depth + 1)
				if err != nil {
					return nil, err
				}
				d.items = append(d.items, v)
			}
			_, err = dec.Token()
		}
		return d, err
	}
	d, err := value(0)
	if err == io.EOF {
		err = nil
	}
	return d, err
}

var (
	valuesType = reflect.TypeFor[Values]()
	matrixType = reflect.TypeFor[Matrix]()
)

// checkKeys checks every mapping of d against the Go type it decodes into (t): struct fields
// by their exact JSON names, each once; map keys once.
func checkKeys(d *doc, t reflect.Type, path string) error {
	if d == nil {
		return nil
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t {
	case valuesType:
		if d.kind != 'm' {
			return nil
		}
		t = reflect.TypeFor[uniformJSON]()
	case matrixType:
		return nil // a number or rows; its decoder says what else is wrong
	}
	at := func(i int) string {
		if path == "" {
			return fmt.Sprintf("line %d", d.kline[i])
		}
		return fmt.Sprintf("line %d, %s", d.kline[i], path)
	}
	switch {
	case d.kind == 's' && t.Kind() == reflect.Slice:
		for i, it := range d.items {
			if err := checkKeys(it, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case d.kind == 'm' && t.Kind() == reflect.Map:
		seen := map[string]int{}
		for i, k := range d.keys {
			if j, dup := seen[k]; dup {
				return fmt.Errorf("%s: key %s given twice (first at line %d)", at(i), quote(k), d.kline[j])
			}
			seen[k] = i
			if err := checkKeys(d.vals[i], t.Elem(), join(path, k)); err != nil {
				return err
			}
		}
	case d.kind == 'm' && t.Kind() == reflect.Struct:
		fields := map[string]reflect.Type{}
		var names []string
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" || !f.IsExported() {
				continue
			}
			fields[name] = f.Type
			names = append(names, name)
		}
		sort.Strings(names)
		seen := map[string]int{}
		for i, k := range d.keys {
			ft, known := fields[k]
			if !known {
				for _, n := range names {
					if strings.EqualFold(n, k) {
						return fmt.Errorf("%s: key %s: keys are lower case: write %s", at(i), quote(k), n)
					}
				}
				return fmt.Errorf("%s: unknown key %s (known: %s)", at(i), quote(k), strings.Join(names, ", "))
			}
			if j, dup := seen[k]; dup {
				return fmt.Errorf("%s: key %s given twice (first at line %d)", at(i), k, d.kline[j])
			}
			seen[k] = i
			if err := checkKeys(d.vals[i], ft, join(path, k)); err != nil {
				return err
			}
		}
	}
	return nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	if len(key) > MaxQuote {
		key = key[:MaxQuote] + "…"
	}
	return path + "." + key
}
