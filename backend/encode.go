package backend

import "encoding/binary"

// The hot path's messages, encoded straight into the write buffer (the
// pgproto3 messages would escape to the heap through the interface).

// SendBind appends a Bind message.
func (c *Conn) SendBind(portal, statement string, paramFormats []int16, values [][]byte, resultFormats []int16) {
	start := c.begin('B')
	c.wbuf = append(c.wbuf, portal...)
	c.wbuf = append(c.wbuf, 0)
	c.wbuf = append(c.wbuf, statement...)
	c.wbuf = append(c.wbuf, 0)
	c.wbuf = appendInt16s(c.wbuf, paramFormats)
	c.wbuf = binary.BigEndian.AppendUint16(c.wbuf, uint16(len(values)))
	for _, v := range values {
		if v == nil {
			c.wbuf = binary.BigEndian.AppendUint32(c.wbuf, 0xFFFFFFFF)
			continue
		}
		c.wbuf = binary.BigEndian.AppendUint32(c.wbuf, uint32(len(v)))
		c.wbuf = append(c.wbuf, v...)
	}
	c.wbuf = appendInt16s(c.wbuf, resultFormats)
	c.end(start)
}

// SendExecute appends an Execute message.
func (c *Conn) SendExecute(portal string, maxRows uint32) {
	start := c.begin('E')
	c.wbuf = append(c.wbuf, portal...)
	c.wbuf = append(c.wbuf, 0)
	c.wbuf = binary.BigEndian.AppendUint32(c.wbuf, maxRows)
	c.end(start)
}

// SendSync appends a Sync message.
func (c *Conn) SendSync() { c.wbuf = append(c.wbuf, 'S', 0, 0, 0, 4) }

// begin appends a message type and a length placeholder; it returns where
// the length goes.
func (c *Conn) begin(typ byte) int {
	c.wbuf = append(c.wbuf, typ, 0, 0, 0, 0)
	return len(c.wbuf) - 4
}

// end fills in the length of the message begun at start.
func (c *Conn) end(start int) {
	binary.BigEndian.PutUint32(c.wbuf[start:], uint32(len(c.wbuf)-start))
}

func appendInt16s(b []byte, vs []int16) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(vs)))
	for _, v := range vs {
		b = binary.BigEndian.AppendUint16(b, uint16(v))
	}
	return b
}
