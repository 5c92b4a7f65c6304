package nir

// The one file that uses the HDF5 library (github.com/scigolib/hdf5, pure Go). It turns a file
// into the group/dataset tree the rest of the package reads; nothing else here knows HDF5.

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/scigolib/hdf5"
)

// readHDF5 reads the groups and datasets of an HDF5 file in this process. The library checks
// the file's structures but was not written for hostile input: a crafted file can make it
// allocate without bound or recurse forever inside Open (found by FuzzReadFile), which no
// recover catches. ReadFile therefore runs this in a child process by default (read.go); a
// panic is turned into an error here all the same.
func readHDF5(path string) (g *group, err error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("nir: %w", err)
	}
	if fi.Size() > MaxFileSize {
		return nil, fmt.Errorf("nir: %s: %w: %d bytes (at most %d)", path, ErrLimit, fi.Size(), MaxFileSize)
	}
	defer func() {
		if r := recover(); r != nil {
			g, err = nil, fmt.Errorf("nir: %s: %w: the HDF5 reader failed: %v", path, ErrFormat, r)
		}
	}()
	f, err := hdf5.Open(path)
	if err != nil {
		return nil, fmt.Errorf("nir: %s: %w: %v", path, ErrFormat, err)
	}
	defer f.Close()
	root := f.Root()
	if root == nil {
		return nil, fmt.Errorf("nir: %s: %w: no root group", path, ErrFormat)
	}
	return h5group(root, "/", 0, &budget{left: MaxTotalElements})
}

func h5group(g *hdf5.Group, path string, depth int, bud *budget) (*group, error) {
	if depth > MaxDepth {
		return nil, fmt.Errorf("nir: %w: groups nest deeper than %d at %s", ErrLimit, MaxDepth, path)
	}
	children := g.Children()
	if len(children) > MaxChildren {
		return nil, fmt.Errorf("nir: %w: group %s has %d members (at most %d)", ErrLimit, path, len(children), MaxChildren)
	}
	out := &group{Groups: map[string]*group{}, Datasets: map[string]*dataset{}}
	for _, c := range children {
		name := c.Name()
		if len(name) > MaxStringLen || !utf8.ValidString(name) {
			return nil, fmt.Errorf("nir: %w: a member of group %s has a name that is not UTF-8 text of at most %d bytes", ErrFormat, path, MaxStringLen)
		}
		p := path + name
		if out.Groups[name] != nil || out.Datasets[name] != nil {
			return nil, fmt.Errorf("nir: %w: group %s has two members named %q", ErrFormat, path, name)
		}
		switch o := c.(type) {
		case *hdf5.Group:
			if name == "metadata" {
				continue // NIR: no backend may rely on metadata
			}
			sub, err := h5group(o, p+"/", depth+1, bud)
			if err != nil {
				return nil, err
			}
			out.Groups[name] = sub
		case *hdf5.Dataset:
			d, err := h5dataset(o, p, bud)
			if err != nil {
				return nil, err
			}
			out.Datasets[name] = d
		}
	}
	return out, nil
}

func h5dataset(d *hdf5.Dataset, path string, bud *budget) (*dataset, error) {
	info, err := d.Info()
	if err != nil {
		return nil, fmt.Errorf("nir: %w: dataset %s: %v", ErrFormat, path, err)
	}
	class, shape, err := parseInfo(info)
	if err != nil {
		return nil, fmt.Errorf("nir: %w: dataset %s: %v", ErrFormat, path, err)
	}
	n, ok := shapeSize(shape, MaxDatasetElements)
	if !ok {
		return nil, fmt.Errorf("nir: %w: dataset %s has shape %v (at most %d elements, %d dimensions)", ErrLimit, path, shape, MaxDatasetElements, MaxDims)
	}
	if err := bud.take(path, n); err != nil {
		return nil, err
	}
	out := &dataset{Shape: shape}
	switch class {
	case "float", "integer":
		v, err := d.Read()
		if err != nil {
			return nil, fmt.Errorf("nir: %w: dataset %s: %v", ErrFormat, path, err)
		}
		if len(v) != n {
			return nil, fmt.Errorf("nir: %w: dataset %s: %d values for shape %v", ErrFormat, path, len(v), shape)
		}
		out.Num = v
	case "class_9", "string": // variable-length (h5py's str) or fixed-length strings
		var s []string
		if class == "string" {
			s, err = d.ReadStrings()
		} else {
			var b [][]byte
			b, err = d.ReadVLenBytes()
			for _, x := range b {
				if len(x) > MaxStringLen {
					return nil, fmt.Errorf("nir: %w: dataset %s holds a string of %d bytes (at most %d)", ErrLimit, path, len(x), MaxStringLen)
				}
				s = append(s, string(x))
			}
		}
		if err != nil {
			return nil, fmt.Errorf("nir: %w: dataset %s: %v", ErrFormat, path, err)
		}
		if len(s) != n {
			return nil, fmt.Errorf("nir: %w: dataset %s: %d strings for shape %v", ErrFormat, path, len(s), shape)
		}
		for _, x := range s {
			if len(x) > MaxStringLen || !utf8.ValidString(x) {
				return nil, fmt.Errorf("nir: %w: dataset %s holds a string that is not UTF-8 text of at most %d bytes", ErrFormat, path, MaxStringLen)
			}
		}
		out.Str, out.String = s, true
	default:
		return nil, fmt.Errorf("nir: %w: dataset %s has datatype %s; NIR stores numbers and strings", ErrFormat, path, class)
	}
	return out, nil
}

// infoRE parses the library's description of a dataset, its only way of telling a dataset's
// datatype class and dimensions without reading it: "Dataset: float (size=8 bytes), 2D array
// [3 x 2], chunked (...)".
var infoRE = regexp.MustCompile(`^Dataset: (\w+) \(size=\d+ bytes\), (scalar|null|unknown|1D array \[\d+\]|2D array \[\d+ x \d+\]|\d+D array \[[\d ]*\]), `)

func parseInfo(info string) (class string, shape []int, err error) {
	m := infoRE.FindStringSubmatch(info)
	if m == nil {
		return "", nil, fmt.Errorf("unrecognized description %q", info)
	}
	class, space := m[1], m[2]
	switch space {
	case "scalar":
		return class, nil, nil
	case "null", "unknown":
		return "", nil, fmt.Errorf("dataspace %s", space)
	}
	i := strings.IndexByte(space, '[')
	rank, err := strconv.Atoi(space[:strings.IndexByte(space, 'D')])
	if err != nil || rank < 1 || rank > MaxDims {
		return "", nil, errors.New("bad rank in " + space)
	}
	fields := strings.FieldsFunc(space[i+1:len(space)-1], func(r rune) bool { return r == ' ' || r == 'x' })
	if len(fields) != rank {
		return "", nil, errors.New("bad dimensions in " + space)
	}
	for _, f := range fields {
		x, err := strconv.ParseUint(f, 10, 63)
		if err != nil || x > MaxDatasetElements {
			return "", nil, fmt.Errorf("%w: dimension %s beyond %d", ErrLimit, f, MaxDatasetElements)
		}
		shape = append(shape, int(x))
	}
	return class, shape, nil
}
