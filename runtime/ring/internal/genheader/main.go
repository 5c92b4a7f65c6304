// Command genheader writes include/lrchip_ring.h, the C header of the ring's layout, from the
// Go definition in runtime/ring/layout.go: the constants, the offsets (the Off* constants,
// which are unsafe.Offsetof of the layout structs) and the structs themselves, walked field
// by field so that the C structs cannot drift from the Go ones. Run `go generate
// ./runtime/ring`.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"os"
	"reflect"
	"strings"
	"unicode"
	"unsafe"

	"github.com/lrchip/lrchip/runtime/ring"
)

func main() {
	out := flag.String("o", "include/lrchip_ring.h", "output file")
	flag.Parse()
	b, err := header()
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		log.Fatal(err)
	}
}

// offset is one field offset the header defines, by its C macro name.
type offset struct {
	macro  string
	goName string
	cType  string // struct the offset is in
	cField string
	value  uintptr
}

// offsets lists the Off* constants of package ring with their C names.
func offsets() []offset {
	hdr, side, rec := "struct lrchip_ring_header", "struct lrchip_ring_side", "struct lrchip_ring_record_header"
	return []offset{
		{"LRCHIP_RING_OFF_MAGIC", "OffMagic", hdr, "magic", ring.OffMagic},
		{"LRCHIP_RING_OFF_VERSION", "OffVersion", hdr, "version", ring.OffVersion},
		{"LRCHIP_RING_OFF_HEADER_SIZE", "OffHeaderSize", hdr, "header_size", ring.OffHeaderSize},
		{"LRCHIP_RING_OFF_CAPACITY", "OffCapacity", hdr, "capacity", ring.OffCapacity},
		{"LRCHIP_RING_OFF_FLAGS", "OffFlags", hdr, "flags", ring.OffFlags},
		{"LRCHIP_RING_OFF_PRODUCER_POS", "OffProducerPos", hdr, "producer_pos", ring.OffProducerPos},
		{"LRCHIP_RING_OFF_CONSUMER_POS", "OffConsumerPos", hdr, "consumer_pos", ring.OffConsumerPos},
		{"LRCHIP_RING_OFF_DATA_FUTEX", "OffDataFutex", hdr, "data_futex", ring.OffDataFutex},
		{"LRCHIP_RING_OFF_CONSUMER_SLEEPING", "OffConsumerSleeping", hdr, "consumer_sleeping", ring.OffConsumerSleeping},
		{"LRCHIP_RING_OFF_SPACE_FUTEX", "OffSpaceFutex", hdr, "space_futex", ring.OffSpaceFutex},
		{"LRCHIP_RING_OFF_PRODUCER_SLEEPING", "OffProducerSleeping", hdr, "producer_sleeping", ring.OffProducerSleeping},
		{"LRCHIP_RING_OFF_PRODUCER", "OffProducer", hdr, "producer", ring.OffProducer},
		{"LRCHIP_RING_OFF_CONSUMER", "OffConsumer", hdr, "consumer", ring.OffConsumer},
		{"LRCHIP_RING_SIDE_OFF_PID", "OffSidePID", side, "pid", ring.OffSidePID},
		{"LRCHIP_RING_SIDE_OFF_STATE", "OffSideState", side, "state", ring.OffSideState},
		{"LRCHIP_RING_SIDE_OFF_PIDNS", "OffSidePIDNS", side, "pidns", ring.OffSidePIDNS},
		{"LRCHIP_RING_SIDE_OFF_HEARTBEAT", "OffSideHeartbeat", side, "heartbeat", ring.OffSideHeartbeat},
		{"LRCHIP_RING_RECORD_OFF_LENGTH", "OffRecordLength", rec, "length", ring.OffRecordLength},
		{"LRCHIP_RING_RECORD_OFF_TYPE", "OffRecordType", rec, "type", ring.OffRecordType},
		{"LRCHIP_RING_RECORD_OFF_FLAGS", "OffRecordFlags", rec, "flags", ring.OffRecordFlags},
	}
}

// sizes lists the structs with their sizes.
func sizes() []struct {
	cType string
	value uintptr
} {
	return []struct {
		cType string
		value uintptr
	}{
		{"struct lrchip_ring_header", unsafe.Sizeof(ring.Header{})},
		{"struct lrchip_ring_side", unsafe.Sizeof(ring.Side{})},
		{"struct lrchip_ring_record_header", unsafe.Sizeof(ring.RecordHeader{})},
	}
}

// snake turns a Go field name into a C one: ProducerPos → producer_pos, PIDNS → pidns.
func snake(s string) string {
	var b strings.Builder
	rs := []rune(s)
	for i, r := range rs {
		if i > 0 && unicode.IsUpper(r) && unicode.IsLower(rs[i-1]) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// cStruct writes the C definition of the Go struct t, checking that every field lands at
// the offset Go gives it.
func cStruct(w *bytes.Buffer, t reflect.Type, name string, names map[reflect.Type]string) error {
	fmt.Fprintf(w, "struct %s {\n", name)
	pad := 0
	for i := range t.NumField() {
		f := t.Field(i)
		var decl string
		switch {
		case f.Name == "_" && f.Type.Kind() == reflect.Array && f.Type.Elem().Kind() == reflect.Uint8:
			decl = fmt.Sprintf("uint8_t _reserved%d[%d];", pad, f.Type.Len())
			pad++
		case f.Type.Kind() == reflect.Struct:
			n, ok := names[f.Type]
			if !ok {
				return fmt.Errorf("%s.%s: no C name for %s", t.Name(), f.Name, f.Type)
			}
			decl = fmt.Sprintf("struct %s %s;", n, snake(f.Name))
		default:
			var ct string
			switch f.Type.Kind() {
			case reflect.Uint8:
				ct = "uint8_t"
			case reflect.Uint16:
				ct = "uint16_t"
			case reflect.Uint32:
				ct = "uint32_t"
			case reflect.Uint64:
				ct = "uint64_t"
			default:
				return fmt.Errorf("%s.%s: type %s has no C counterpart here", t.Name(), f.Name, f.Type)
			}
			decl = fmt.Sprintf("%s %s;", ct, snake(f.Name))
		}
		fmt.Fprintf(w, "\t%-32s /* 0x%03x */\n", decl, f.Offset)
	}
	fmt.Fprintf(w, "};\n\n")
	return nil
}

func header() ([]byte, error) {
	var w bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&w, format, args...) }
	p(`/* Code generated by runtime/ring/internal/genheader (go generate ./runtime/ring) from
 * runtime/ring/layout.go. DO NOT EDIT. */

/*
 * The binary layout of an lrchip ring (package github.com/lrchip/lrchip/runtime/ring):
 * a HeaderSize header followed by a data area of Capacity bytes (a power of two) holding
 * records. All fields are little-endian. See runtime/ring/doc.go for the protocol; in
 * short, a C peer must access the positions, the sleeping words, the futex words and the
 * record header words with sequentially consistent atomics (__atomic or <stdatomic.h>,
 * memory_order_seq_cst), must validate everything it reads from the other side, and must
 * read and write a record header as one 64-bit word:
 * length | type << 32 | flags << 48 (LRCHIP_RING_RECORD_WORD).
 */

#ifndef LRCHIP_RING_H
#define LRCHIP_RING_H

#include <stdint.h>

/* Identity of the layout. */
`)
	p("#define LRCHIP_RING_MAGIC UINT64_C(0x%016x) /* \"LRCRING\\0\" */\n", ring.Magic)
	p("#define LRCHIP_RING_VERSION %du\n", ring.Version)
	p("#define LRCHIP_RING_HEADER_SIZE %du /* also the offset of the data area */\n", ring.HeaderSize)
	p("#define LRCHIP_RING_CACHE_LINE %du\n\n", ring.CacheLine)
	p("/* Capacities of the data area, in bytes: powers of two. */\n")
	p("#define LRCHIP_RING_MIN_CAPACITY UINT64_C(%d)\n", ring.MinCapacity)
	p("#define LRCHIP_RING_MAX_CAPACITY UINT64_C(%d)\n", uint64(ring.MaxCapacity))
	p("#define LRCHIP_RING_DEFAULT_CAPACITY UINT64_C(%d)\n\n", ring.DefaultCapacity)
	p("/* Header flags (lrchip_ring_header.flags). */\n")
	p("#define LRCHIP_RING_FLAG_MULTI_PRODUCER 0x%xu\n\n", ring.FlagMultiProducer)
	p("/* Side states (lrchip_ring_side.state). */\n")
	p("#define LRCHIP_RING_SIDE_CLOSED 0x%xu\n\n", ring.SideClosed)
	p("/* Records. */\n")
	p("#define LRCHIP_RING_RECORD_HEADER_SIZE %du\n", ring.RecordHeaderSize)
	p("#define LRCHIP_RING_RECORD_ALIGN %du\n", ring.RecordAlign)
	p("#define LRCHIP_RING_TYPE_PAD 0x%xu\n", ring.TypePad)
	p("#define LRCHIP_RING_TYPE_RESERVED_MIN 0x%xu\n", ring.TypeReservedMin)
	p("#define LRCHIP_RING_RECORD_COMMITTED 0x%xu\n", ring.RecordCommitted)
	p("/* The 64-bit word of a record header, and its parts. */\n")
	p("#define LRCHIP_RING_RECORD_WORD(length, type, flags) \\\n")
	p("\t((uint64_t)(uint32_t)(length) | (uint64_t)(uint16_t)(type) << 32 | (uint64_t)(uint16_t)(flags) << 48)\n")
	p("#define LRCHIP_RING_RECORD_WORD_LENGTH(w) ((uint32_t)(w))\n")
	p("#define LRCHIP_RING_RECORD_WORD_TYPE(w) ((uint16_t)((w) >> 32))\n")
	p("#define LRCHIP_RING_RECORD_WORD_FLAGS(w) ((uint16_t)((w) >> 48))\n")
	p("/* Bytes a record of length bytes (header included) occupies. */\n")
	p("#define LRCHIP_RING_RECORD_STRIDE(length) \\\n")
	p("\t(((uint64_t)(length) + LRCHIP_RING_RECORD_ALIGN - 1) & ~(uint64_t)(LRCHIP_RING_RECORD_ALIGN - 1))\n\n")

	p("/* Offsets of the fields, in bytes. */\n")
	for _, o := range offsets() {
		p("#define %-36s 0x%03xu\n", o.macro, o.value)
	}
	p("\n/* The structs. Every field is naturally aligned, so they have no implicit padding. */\n\n")

	names := map[reflect.Type]string{reflect.TypeOf(ring.Side{}): "lrchip_ring_side"}
	if err := cStruct(&w, reflect.TypeOf(ring.Side{}), "lrchip_ring_side", names); err != nil {
		return nil, err
	}
	if err := cStruct(&w, reflect.TypeOf(ring.Header{}), "lrchip_ring_header", names); err != nil {
		return nil, err
	}
	if err := cStruct(&w, reflect.TypeOf(ring.RecordHeader{}), "lrchip_ring_record_header", names); err != nil {
		return nil, err
	}

	p("#if (defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L) || (defined(__cplusplus) && __cplusplus >= 201103L)\n")
	p("#include <stddef.h>\n")
	p("#ifdef __cplusplus\n#define LRCHIP_RING_STATIC_ASSERT static_assert\n#else\n#define LRCHIP_RING_STATIC_ASSERT _Static_assert\n#endif\n")
	for _, s := range sizes() {
		p("LRCHIP_RING_STATIC_ASSERT(sizeof(%s) == %d, \"size of %s\");\n", s.cType, s.value, s.cType)
	}
	for _, o := range offsets() {
		p("LRCHIP_RING_STATIC_ASSERT(offsetof(%s, %s) == %s, \"%s\");\n", o.cType, o.cField, o.macro, o.macro)
	}
	p("#undef LRCHIP_RING_STATIC_ASSERT\n#endif\n\n#endif /* LRCHIP_RING_H */\n")
	return w.Bytes(), nil
}
