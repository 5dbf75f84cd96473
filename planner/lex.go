package planner

import "strings"

// The scanning rules below follow PostgreSQL's lexer (src/backend/parser/
// scan.l) closely enough to find where each literal starts and ends and
// what kind of token the server makes of it. Anything they do not follow
// exactly makes the scan fail: the text is then planned as it is.

// tokenKind is what the lexer last saw, which decides whether a minus sign
// is unary.
type tokenKind uint8

const (
	tokStart      tokenKind = iota // nothing yet, or a semicolon
	tokWord                        // identifier or keyword
	tokQuotedName                  // "..."
	tokLiteral                     // number or string
	tokParam                       // $n
	tokOperator                    // + - * / < > = ... and multi-character operators
	tokOpen                        // ( [
	tokClose                       // ) ]
	tokComma                       // ,
	tokColon                       // :
	tokCast                        // ::
	tokDot                         // . and ..
	tokOther                       // anything else
)

// unaryMinusAfter reports whether a minus sign after a token of kind k
// starts an expression (a sign) rather than subtracting. word is the
// token's text when it is a word: only reserved keywords, which can never
// be a column or other operand, count.
func unaryMinusAfter(k tokenKind, word string) bool {
	switch k {
	case tokStart, tokOperator, tokOpen, tokComma, tokColon:
		return true
	case tokWord:
		return expressionKeyword(word)
	}
	return false
}

// expressionKeywords are reserved words after which an expression starts.
var expressionKeywords = []string{
	"all", "and", "asymmetric", "both", "case", "default", "distinct", "else", "from", "having",
	"leading", "limit", "not", "offset", "on", "or", "returning", "select", "symmetric", "then",
	"to", "trailing", "variadic", "when", "where",
}

func expressionKeyword(w string) bool {
	if len(w) < 2 || len(w) > 10 {
		return false
	}
	for _, k := range expressionKeywords {
		if strings.EqualFold(w, k) {
			return true
		}
	}
	return false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isIdentStart and isIdentCont are scan.l's ident_start and ident_cont:
// bytes of multi-byte characters count as letters.
func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80
}

func isIdentCont(c byte) bool { return isIdentStart(c) || isDigit(c) || c == '$' }

// isOpChar is scan.l's op_chars.
func isOpChar(c byte) bool { return strings.IndexByte("~!@#^&|`?+-*/%<>=", c) >= 0 }

// operatorLen is the length of the operator token at s[i] (an op_chars
// byte), cut as scan.l cuts it: before a comment start, and without
// trailing + and - unless the operator also holds a character no SQL
// operator has ("=-" is "=" then "-"; "@-" is one operator).
func operatorLen(s string, i int) int {
	j := i
	for j < len(s) && isOpChar(s[j]) {
		j++
	}
	run := s[i:j]
	n := len(run)
	if k := strings.Index(run, "/*"); k >= 0 && k < n {
		n = k
	}
	if k := strings.Index(run, "--"); k >= 0 && k < n {
		n = k
	}
	if n > 1 && (run[n-1] == '+' || run[n-1] == '-') && !strings.ContainsAny(run[:n-1], "~!@#^&|`?%") {
		for n > 1 && (run[n-1] == '+' || run[n-1] == '-') {
			n--
		}
	}
	return n
}

// skipBlank returns the position after the white space and comments at
// s[i:], and false when a block comment does not end.
func skipBlank(s string, i int) (int, bool) {
	for i < len(s) {
		switch c := s[i]; {
		case isSpace(c):
			i++
		case c == '-' && i+1 < len(s) && s[i+1] == '-':
			for i < len(s) && s[i] != '\n' && s[i] != '\r' {
				i++
			}
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			end, ok := blockCommentEnd(s, i)
			if !ok {
				return i, false
			}
			i = end
		default:
			return i, true
		}
	}
	return i, true
}

// blockCommentEnd returns the position after the (nested) comment that
// starts at s[i].
func blockCommentEnd(s string, i int) (int, bool) {
	depth := 0
	for i+1 < len(s) {
		switch {
		case s[i] == '/' && s[i+1] == '*':
			depth++
			i += 2
		case s[i] == '*' && s[i+1] == '/':
			depth--
			i += 2
			if depth == 0 {
				return i, true
			}
		default:
			i++
		}
	}
	return i, false
}

// quotedEnd returns the position after a '...' or "..." body that starts
// after the opening quote q at s[i-1]; a doubled quote stands for one.
// escaped reports whether the body holds a doubled quote.
func quotedEnd(s string, i int, q byte) (end int, escaped, ok bool) {
	for {
		k := strings.IndexByte(s[i:], q)
		if k < 0 {
			return 0, false, false
		}
		i += k + 1
		if i < len(s) && s[i] == q {
			escaped = true
			i++
			continue
		}
		return i, escaped, true
	}
}

// escapeStringEnd returns the position after an E'...' body that starts
// at s[i]. Only escapes whose value is a single plain ASCII byte are
// accepted (\n, \t, \\, \' and the like): octal, hex and Unicode escapes
// can make bytes that are invalid in the encoding, which only the server
// may judge, so a text holding them is not normalized.
func escapeStringEnd(s string, i int) (end int, ok bool) {
	for i < len(s) {
		switch c := s[i]; c {
		case '\\':
			if i+1 >= len(s) {
				return 0, false
			}
			e := s[i+1]
			if e == 0 || e >= 0x80 || isDigit(e) || e == 'u' || e == 'U' ||
				(e == 'x' && i+2 < len(s) && isHexDigit(s[i+2])) {
				return 0, false
			}
			i += 2
		case '\'':
			if i+1 < len(s) && s[i+1] == '\'' {
				i += 2
				continue
			}
			return i + 1, true
		default:
			i++
		}
	}
	return 0, false
}

func isHexDigit(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// dollarQuoteEnd returns the position after a $tag$...$tag$ string that
// starts at s[i], and the length of its delimiter.
func dollarQuoteEnd(s string, i int) (end, delim int, ok bool) {
	j := i + 1
	if j < len(s) && s[j] != '$' {
		if !isIdentStart(s[j]) {
			return 0, 0, false
		}
		for j < len(s) && isIdentCont(s[j]) && s[j] != '$' {
			j++
		}
	}
	if j >= len(s) || s[j] != '$' {
		return 0, 0, false // $foo without a closing $: not a delimiter
	}
	tag := s[i : j+1]
	k := strings.Index(s[j+1:], tag)
	if k < 0 {
		return 0, 0, false
	}
	return j + 1 + k + len(tag), len(tag), true
}

// numberEnd scans the number at s[i] (a digit, or a point before a digit)
// and returns its end and whether it is an integer. It fails on the forms
// it leaves to the server: 0x/0o/0b integers, digits with underscores, an
// exponent without digits, "1..", and junk glued to the number.
func numberEnd(s string, i int) (end int, integer, ok bool) {
	j := i
	for j < len(s) && isDigit(s[j]) {
		j++
	}
	integer = true
	if j < len(s) && s[j] == '.' {
		if j+1 < len(s) && s[j+1] == '.' {
			return 0, false, false // 1..10
		}
		integer = false
		j++
		for j < len(s) && isDigit(s[j]) {
			j++
		}
	}
	if j < len(s) && (s[j] == 'e' || s[j] == 'E') {
		k := j + 1
		if k < len(s) && (s[k] == '+' || s[k] == '-') {
			k++
		}
		if k >= len(s) || !isDigit(s[k]) {
			return 0, false, false
		}
		for k < len(s) && isDigit(s[k]) {
			k++
		}
		integer, j = false, k
	}
	if j < len(s) && (isIdentCont(s[j]) || s[j] == '.') {
		return 0, false, false // 0x1F, 1_000, 12abc, 1.5.2
	}
	return j, integer, true
}

// fitsInt4 reports whether the decimal digits fit PostgreSQL's int4, which
// decides whether the lexer makes an integer or a numeric constant.
func fitsInt4(digits string) bool {
	digits = strings.TrimLeft(digits, "0")
	if len(digits) != 10 {
		return len(digits) < 10
	}
	return digits <= "2147483647"
}

// paramEnd scans a $n parameter at s[i] and returns its end and number.
func paramEnd(s string, i int) (end, n int, ok bool) {
	j := i + 1
	for j < len(s) && isDigit(s[j]) {
		if n > 1<<20 {
			return 0, 0, false
		}
		n = n*10 + int(s[j]-'0')
		j++
	}
	if j < len(s) && isIdentCont(s[j]) {
		return 0, 0, false // $1abc: an error for the server
	}
	return j, n, true
}
