package ring

// The non-temporal copy (copy_amd64.s and its stubs) is generated with avo, the C header
// include/lrchip_ring.h from layout.go; both are committed. Tests fail when either is stale.
//
//go:generate go run ./gen -out copy_amd64.s -stubs copy_amd64.go -pkg ring
//go:generate go run ./internal/genheader -o include/lrchip_ring.h
