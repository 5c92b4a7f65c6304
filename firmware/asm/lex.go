package asm

import (
	"fmt"
	"unicode/utf8"
)

type tokKind uint8

const (
	tEOL       tokKind = iota // end of line (or start of a comment)
	tIdent                    // identifier
	tNumber                   // integer literal, not yet parsed
	tDirective                // .name
	tComma
	tColon
	tMinus
)

func (k tokKind) String() string {
	return [...]string{"end of line", "name", "number", "directive", "','", "':'", "'-'"}[k]
}

type token struct {
	kind tokKind
	text string
	col  int // 1-based byte column
}

// describe names a token for "expected X, found Y" messages.
func (t token) describe() string {
	switch t.kind {
	case tIdent, tNumber, tDirective:
		return fmt.Sprintf("%s %q", t.kind, t.text)
	}
	return t.kind.String()
}

func isIdentStart(c byte) bool { return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isIdentChar(c byte) bool  { return isIdentStart(c) || '0' <= c && c <= '9' }

// lexLine splits one line into tokens, ending with a tEOL token. Comments start with ';' or
// "//" and run to the end of the line.
func lexLine(line string) ([]token, *posError) {
	var toks []token
	i, end := 0, len(line)
	for i < end {
		c := line[i]
		start := i
		switch {
		case c == ' ' || c == '\t' || c == '\r':
			i++
			continue
		case c == ';' || c == '/' && i+1 < len(line) && line[i+1] == '/':
			end = i
			continue
		case c == ',':
			toks = append(toks, token{tComma, ",", start + 1})
			i++
		case c == ':':
			toks = append(toks, token{tColon, ":", start + 1})
			i++
		case c == '-':
			toks = append(toks, token{tMinus, "-", start + 1})
			i++
		case c == '.' && i+1 < len(line) && isIdentStart(line[i+1]):
			i++
			for i < len(line) && isIdentChar(line[i]) {
				i++
			}
			toks = append(toks, token{tDirective, line[start:i], start + 1})
		case isIdentStart(c):
			for i < len(line) && isIdentChar(line[i]) {
				i++
			}
			toks = append(toks, token{tIdent, line[start:i], start + 1})
		case '0' <= c && c <= '9':
			for i < len(line) && isIdentChar(line[i]) {
				i++
			}
			toks = append(toks, token{tNumber, line[start:i], start + 1})
		default:
			r, _ := utf8.DecodeRuneInString(line[i:])
			return nil, &posError{start + 1, fmt.Sprintf("unexpected character %q", r)}
		}
	}
	return append(toks, token{tEOL, "", end + 1}), nil
}

// posError is an error at a column of the current line.
type posError struct {
	col int
	msg string
}

func errAt(col int, f string, a ...any) *posError {
	return &posError{col, fmt.Sprintf(f, a...)}
}
