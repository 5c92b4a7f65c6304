// Package asm is the assembler and disassembler of neuron microcode (package isa).
//
// # Syntax
//
// A source file is a sequence of lines. Everything from ';' or "//" to the end of a line is a
// comment. A line holds, in this order and each optional: any number of labels ("name:"), one
// directive or instruction. Everything is case-sensitive; names are identifiers
// ([A-Za-z_][A-Za-z0-9_]*). Example:
//
//	.program lif              ; the program's name (at most once; default "")
//	.state   u, v             ; names of s0, s1: order matters
//	.param   bias             ; names of p0, ...
//	.const   du, dv, vth      ; names of c0, ...
//	.temp    spiked           ; names of r0, ... (aliases known to the assembler only)
//	.utemp   odd              ; names of k0, ... (aliases known to the assembler only)
//	.equ     FRAC, 12         ; a named integer (known to the assembler only)
//
//	        mulz u, u, du, FRAC
//	        add  u, u, a
//	        and  odd, t, 1
//	        beq  odd, 0, skip ; branches go forward only
//	        add  v, v, bias
//	skip:   sgt  spiked, v, vth
//	        spk  spiked
//	        sel  v, spiked, 0, v
//
// The directives .state, .param, .const, .temp and .utemp take a list of names; each may
// appear several times, appending. A directive applies to the whole file, wherever it
// appears. A name may be declared only once, in any of them or by .equ, and may not be spelled
// like a generic register (a, t, or s, r, p, c, k followed by digits). Labels have their own
// namespace. .equ NAME, VALUE defines a named integer; VALUE is an integer as described below
// (an .equ name used in it must be defined on an earlier line).
//
// An instruction is a mnemonic of isa.Ops (lower case) followed by comma-separated operands
// in the order of its shape: "op rd, ra", "op rd, ra, rb", "op rd, ra, rb, rc",
// "op rd, ra, n", "op rd, ra, rb, n", "op ra", "op ra, rb", "op label", "op ra, rb, label".
// A register operand is a generic name (s0..s7, r0..r7, p0..p7, c0..c15, k0..k7, a, t) or a
// declared name; s, p and c registers must be declared. A source operand (ra, rb, rc) may
// instead be an integer, encoded as the instruction's immediate; at most one per instruction,
// and none in an instruction that has n. An integer is a literal (decimal without leading
// zeros, 0x hexadecimal, 0b binary) or an .equ name, optionally preceded by '-'; it must fit in
// int32, except that hexadecimal and binary literals up to 0xFFFFFFFF are accepted and stand for
// their 32-bit two's complement value (0xFFFFFFFF is -1). n must lie in the opcode's range
// (isa.OpInfo NMin..NMax). A label operand names a label defined further down the file,
// possibly after the last instruction; the encoding stores target - pc - 1 in rd.
//
// After assembly the program must pass isa.Program.Validate; an error it reports about an
// instruction is given at that instruction's line.
//
// Disassemble writes the canonical form: the directives of the program's names, then one
// instruction per line, with generated labels L<pc>. Assemble(Disassemble(p)) is p for every
// valid program.
package asm
