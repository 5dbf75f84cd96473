package backend

import (
	"encoding/binary"
	"fmt"
	"io"
)

// msgReader reads whole protocol messages from a byte stream into a reusable
// buffer. A message returned by next is valid until the following call.
type msgReader struct {
	r      io.Reader
	buf    []byte
	rp, wp int
	maxLen int
}

const minReadBuf = 16 << 10

func newMsgReader(r io.Reader, maxLen int) *msgReader {
	return &msgReader{r: r, buf: make([]byte, minReadBuf), maxLen: maxLen}
}

// fill ensures at least n unread bytes are buffered.
func (m *msgReader) fill(n int) error {
	if m.wp-m.rp >= n {
		return nil
	}
	if len(m.buf)-m.rp < n {
		// Not enough room after rp: compact, and grow if the message is bigger
		// than the buffer.
		if n > len(m.buf) {
			nb := make([]byte, max(n, 2*len(m.buf)))
			m.wp = copy(nb, m.buf[m.rp:m.wp])
			m.buf = nb
		} else {
			m.wp = copy(m.buf, m.buf[m.rp:m.wp])
		}
		m.rp = 0
	}
	got, err := io.ReadAtLeast(m.r, m.buf[m.wp:], n-(m.wp-m.rp))
	m.wp += got
	if err != nil {
		if err == io.EOF && m.wp-m.rp > 0 {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	return nil
}

// next returns the next message's type byte and body. The body aliases the
// reader's buffer and is valid until the next call.
func (m *msgReader) next() (byte, []byte, error) {
	if m.rp == m.wp {
		m.rp, m.wp = 0, 0
		if len(m.buf) > 4*minReadBuf {
			m.buf = make([]byte, minReadBuf) // give back a buffer grown for one big message
		}
	}
	if err := m.fill(5); err != nil {
		return 0, nil, err
	}
	typ := m.buf[m.rp]
	n := int(int32(binary.BigEndian.Uint32(m.buf[m.rp+1:])))
	if n < 4 || (m.maxLen > 0 && n-4 > m.maxLen) {
		return 0, nil, fmt.Errorf("backend sent a message of invalid length %d", n)
	}
	if err := m.fill(1 + n); err != nil {
		return 0, nil, err
	}
	body := m.buf[m.rp+5 : m.rp+1+n : m.rp+1+n]
	m.rp += 1 + n
	return typ, body, nil
}

// buffered reports how many unread bytes are held.
func (m *msgReader) buffered() int { return m.wp - m.rp }
