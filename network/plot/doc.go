// Package plot draws the results of a network run (package network/run) with gonum's plot
// package: a spike raster of the output ports (Raster: one row per output neuron, ports
// stacked, one mark per spike) and the traces of probed fields (Traces: one panel per probe,
// one line per neuron), as SVG or PNG, or any other format gonum/plot writes; SaveRaster and
// SaveTraces pick it by the file name's extension.
package plot
