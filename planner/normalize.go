package planner

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// LiteralClass is the kind of constant token PostgreSQL's lexer makes of a
// literal. Statements share a shape only when their literals are of the
// same classes, because the grammar tells the classes apart.
type LiteralClass byte

// The classes of literals.
const (
	// LiteralInteger is an integer that fits int4 (the lexer's ICONST).
	LiteralInteger LiteralClass = 'i'
	// LiteralNumeric is a number with a point or an exponent, or an
	// integer beyond int4 (FCONST).
	LiteralNumeric LiteralClass = 'n'
	// LiteralString is '...', E'...' or $tag$...$tag$ (SCONST).
	LiteralString LiteralClass = 's'
	// LiteralBits is B'...' (BCONST).
	LiteralBits LiteralClass = 'b'
	// LiteralHex is X'...' (XCONST).
	LiteralHex LiteralClass = 'x'
)

// Literal is one constant of a statement text.
type Literal struct {
	// Text is the literal as written; a negative number includes its
	// minus sign.
	Text string
	// Start and End delimit Text in the original text.
	Start, End int
	// ShapeStart and ShapeEnd delimit the literal's placeholder in the
	// shape, with the blanks added to keep it apart from its neighbours.
	ShapeStart, ShapeEnd int
	Class                LiteralClass
}

// Shape is a statement text with each literal replaced by a placeholder
// $N, numbered from FirstPlaceholder (one past the highest $n the text
// already uses). Texts with the same shape and literal classes parse into
// the same tree but for the constants' values. A shape identifies a
// statement's form, like pg_stat_statements' normalized query; it is not
// always valid SQL itself (DATE '2024-01-01' becomes DATE $1).
type Shape struct {
	Text             string
	Literals         []Literal
	FirstPlaceholder int
}

// Normalize finds the literals of a text (one or more statements) and its
// shape. It is a lexer, not a parser: ok is false when the text holds
// anything it cannot scan exactly as PostgreSQL would (unterminated
// quotes or comments, U&'...' strings, escapes other than single-character
// ones in E'...' strings, 0x and 1_000 numbers, continued string literals,
// NUL bytes), and the text must then be handled as it is.
func Normalize(sql string) (Shape, bool) {
	var n normalizer
	if !n.scan(sql) {
		return Shape{}, false
	}
	n.buildShape()
	s := Shape{Text: string(n.shape), FirstPlaceholder: n.maxParam + 1}
	for _, l := range n.lits {
		s.Literals = append(s.Literals, Literal{Text: sql[l.start:l.end], Start: l.start, End: l.end,
			ShapeStart: l.shapeStart, ShapeEnd: l.shapeEnd, Class: l.class})
	}
	return s, true
}

// Denormalize puts the literals back into the shape: the result is the
// text Normalize was given.
func (s Shape) Denormalize() string {
	var b strings.Builder
	last := 0
	for _, l := range s.Literals {
		b.WriteString(s.Text[last:l.ShapeStart])
		b.WriteString(l.Text)
		last = l.ShapeEnd
	}
	b.WriteString(s.Text[last:])
	return b.String()
}

// literal is the normalizer's record of one literal.
type literal struct {
	start, end           int
	shapeStart, shapeEnd int
	class                LiteralClass
	// form is how a string was written: '\'' plain, 'e' E'...', '$'
	// dollar-quoted, 'b' or 'x' a bit string.
	form byte
	// bodyStart and bodyEnd delimit a string's characters inside its
	// quotes.
	bodyStart, bodyEnd int
	// escaped is set when the body holds doubled quotes or backslash
	// escapes, so that its value differs from its text.
	escaped bool
}

// normalizer is the reusable state of a normalization; the planner keeps
// a pool of them so that a cache hit allocates nothing.
type normalizer struct {
	sql      string
	lits     []literal
	maxParam int
	shape    []byte
	key      []byte
	consts   constScratch
}

// scan finds the literals of sql.
func (n *normalizer) scan(sql string) bool {
	n.sql, n.lits, n.maxParam = sql, n.lits[:0], 0
	if strings.IndexByte(sql, 0) >= 0 {
		return false // the parser's C string would end there
	}
	prev, word := tokStart, ""
	for i := 0; i < len(sql); {
		c := sql[i]
		if c == ' ' {
			i++ // the commonest byte, first
			continue
		}
		kind := tokOther
		switch {
		case isSpace(c) || c == '-' && i+1 < len(sql) && sql[i+1] == '-' || c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			j, ok := skipBlank(sql, i)
			if !ok {
				return false
			}
			i = j
			continue
		case c == '\'':
			end, escaped, ok := quotedEnd(sql, i+1, '\'')
			if !ok || !n.addString(i, end, '\'', i+1, end-1, escaped) {
				return false
			}
			i, kind = end, tokLiteral
		case c == '"':
			end, _, ok := quotedEnd(sql, i+1, '"')
			if !ok {
				return false
			}
			i, kind = end, tokQuotedName
		case isDigit(c) || c == '.' && i+1 < len(sql) && isDigit(sql[i+1]):
			end, integer, ok := numberEnd(sql, i)
			if !ok {
				return false
			}
			n.addNumber(i, end, integer)
			i, kind = end, tokLiteral
		case c == '$':
			end, ok := n.dollar(i)
			if !ok {
				return false
			}
			i, kind = end, tokLiteral
			if end > i+1 && isDigit(sql[i+1]) {
				kind = tokParam
			}
		case isIdentStart(c):
			j := i + 1
			for j < len(sql) && isIdentCont(sql[j]) {
				j++
			}
			if j == i+1 && j < len(sql) {
				if end, handled, ok := n.prefixedString(i); handled {
					if !ok {
						return false
					}
					i, kind = end, tokLiteral
					break
				}
			}
			i, kind, word = j, tokWord, sql[i:j]
		case c == '(' || c == '[':
			i, kind = i+1, tokOpen
		case c == ')' || c == ']':
			i, kind = i+1, tokClose
		case c == ',':
			i, kind = i+1, tokComma
		case c == ';':
			i, kind = i+1, tokStart
		case c == ':':
			switch {
			case i+1 < len(sql) && sql[i+1] == ':':
				i, kind = i+2, tokCast
			case i+1 < len(sql) && sql[i+1] == '=':
				i, kind = i+2, tokOperator
			default:
				i, kind = i+1, tokColon
			}
		case c == '.':
			i, kind = i+1, tokDot
			if i < len(sql) && sql[i] == '.' {
				i++
			}
		case isOpChar(c):
			if end, ok := n.negativeNumber(i, prev, word); ok {
				i, kind = end, tokLiteral
				break
			}
			i, kind = i+operatorLen(sql, i), tokOperator
		default:
			i++
		}
		prev = kind
		if kind != tokWord {
			word = ""
		}
	}
	return true
}

// dollar scans what starts with $ at s[i]: a parameter or a dollar-quoted
// string.
func (n *normalizer) dollar(i int) (int, bool) {
	s := n.sql
	if i+1 < len(s) && isDigit(s[i+1]) {
		end, num, ok := paramEnd(s, i)
		n.maxParam = max(n.maxParam, num)
		return end, ok
	}
	end, delim, ok := dollarQuoteEnd(s, i)
	if !ok {
		return 0, false
	}
	return end, n.addString(i, end, '$', i+delim, end-delim, false)
}

// prefixedString scans E'...', B'...' and X'...' at s[i]; handled is false
// for any other one-letter word. U&'...' strings are refused.
func (n *normalizer) prefixedString(i int) (end int, handled, ok bool) {
	s := n.sql
	switch c := s[i]; {
	case s[i+1] == '&' && (c == 'u' || c == 'U') && i+2 < len(s) && s[i+2] == '\'':
		return 0, true, false
	case s[i+1] != '\'':
		return 0, false, false
	case c == 'e' || c == 'E':
		end, ok := escapeStringEnd(s, i+2)
		escaped := ok && strings.ContainsAny(s[i+2:end-1], `\'`)
		return end, true, ok && n.addString(i, end, 'e', i+2, end-1, escaped)
	case c == 'b' || c == 'B' || c == 'x' || c == 'X':
		k := strings.IndexByte(s[i+2:], '\'')
		if k < 0 {
			return 0, true, false
		}
		end := i + 2 + k + 1
		return end, true, n.addString(i, end, c|0x20, i+2, end-1, false)
	}
	return 0, false, false
}

// negativeNumber scans a minus sign that PostgreSQL folds into the number
// after it: one written right before the digits where an expression
// starts (after an operator, "(", ",", a keyword such as WHERE), and not
// followed by :: or [, which bind tighter than the sign.
func (n *normalizer) negativeNumber(i int, prev tokenKind, word string) (int, bool) {
	s := n.sql
	if s[i] != '-' || operatorLen(s, i) != 1 || i+1 >= len(s) || !unaryMinusAfter(prev, word) {
		return 0, false
	}
	if !isDigit(s[i+1]) && !(s[i+1] == '.' && i+2 < len(s) && isDigit(s[i+2])) {
		return 0, false
	}
	end, integer, ok := numberEnd(s, i+1)
	if !ok {
		return 0, false
	}
	if j, ok := skipBlank(s, end); !ok || strings.HasPrefix(s[j:], "::") || j < len(s) && s[j] == '[' {
		return 0, false
	}
	n.addNumber(i, end, integer)
	return end, true
}

func (n *normalizer) addNumber(start, end int, integer bool) {
	class := LiteralNumeric
	if integer && fitsInt4(strings.TrimPrefix(n.sql[start:end], "-")) {
		class = LiteralInteger
	}
	n.lits = append(n.lits, literal{start: start, end: end, class: class})
}

// addString records a string literal. A string followed by another quote
// (a continuation across a newline, which the lexer glues into one
// constant) is refused, and so is one that is not valid UTF-8, which
// pg_query fails to parse.
func (n *normalizer) addString(start, end int, form byte, bodyStart, bodyEnd int, escaped bool) bool {
	if j, ok := skipBlank(n.sql, end); !ok || j < len(n.sql) && n.sql[j] == '\'' {
		return false
	}
	if !utf8.ValidString(n.sql[bodyStart:bodyEnd]) {
		return false
	}
	class := LiteralString
	switch form {
	case 'b':
		class = LiteralBits
	case 'x':
		class = LiteralHex
	}
	n.lits = append(n.lits, literal{start: start, end: end, class: class, form: form,
		bodyStart: bodyStart, bodyEnd: bodyEnd, escaped: escaped})
	return true
}

// buildShape writes the shape: the text with $N for each literal, a blank
// added where the placeholder would otherwise run into a neighbouring
// name or number.
func (n *normalizer) buildShape() {
	b := n.shape[:0]
	last, num := 0, n.maxParam+1
	for i := range n.lits {
		l := &n.lits[i]
		b = append(b, n.sql[last:l.start]...)
		l.shapeStart = len(b)
		if len(b) > 0 && isIdentCont(b[len(b)-1]) {
			b = append(b, ' ')
		}
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(num+i), 10)
		if l.end < len(n.sql) && isIdentCont(n.sql[l.end]) {
			b = append(b, ' ')
		}
		l.shapeEnd = len(b)
		last = l.end
	}
	n.shape = append(b, n.sql[last:]...)
}

// classes appends the classes of the literals to b.
func (n *normalizer) classes(b []byte) []byte {
	for _, l := range n.lits {
		b = append(b, byte(l.class))
	}
	return b
}

// stringValue is the value PostgreSQL gives a string literal: the body
// with doubled quotes and backslash escapes resolved, B and X strings
// prefixed with b and x as the parser keeps them.
func (n *normalizer) stringValue(l *literal) string {
	body := n.sql[l.bodyStart:l.bodyEnd]
	switch {
	case l.form == 'b' || l.form == 'x':
		return string(l.form) + body
	case !l.escaped:
		return body
	case l.form == '\'':
		return strings.ReplaceAll(body, "''", "'")
	}
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c == '\'':
			i++ // '' (escapeStringEnd accepted only doubled quotes)
		case c == '\\':
			i++
			c = unescapeChar(body[i])
		}
		b.WriteByte(c)
	}
	return b.String()
}

// unescapeChar is the byte a backslash escape \c stands for (the
// single-character escapes of E'...' strings).
func unescapeChar(c byte) byte {
	switch c {
	case 'b':
		return '\b'
	case 'f':
		return '\f'
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case 'v':
		return '\v'
	}
	return c
}
