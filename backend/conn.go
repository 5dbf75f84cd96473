package backend

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// DialOptions says how to reach and start a backend session.
type DialOptions struct {
	// URL is a libpq connection string or postgres:// URL, as written in the
	// shard map.
	URL string
	// User and Password, when set, override the URL's.
	User     string
	Password string
	// Settings override the URL's libpq parameters of the same names
	// (sslmode, sslrootcert, sslcert, sslkey, ...).
	Settings map[string]string
	// Params are startup parameters (application_name, DateStyle, ...) sent
	// in the StartupMessage so the server applies them as session defaults.
	Params map[string]string
	// ConnectTimeout bounds connecting and authenticating; 0 means 10 s.
	ConnectTimeout time.Duration
	// MaxMessageLen bounds a single message from the server; 0 means 1 GiB.
	MaxMessageLen int
	// OnClose, when set, runs once when the connection is closed (pool
	// accounting).
	OnClose func()
	// Observer, when set, hears of every round trip and server error on
	// the connection (metrics).
	Observer Observer
}

// Conn is one established session with a PostgreSQL server that the router
// drives message by message. It is not safe for concurrent use except for
// Cancel, which may be called from any goroutine.
type Conn struct {
	nc     net.Conn
	rd     *msgReader
	wbuf   []byte
	werr   error
	addr   string
	pid    uint32
	secret []byte

	// ServerParams are the ParameterStatus values the server reported:
	// at startup, then as they changed.
	ServerParams map[string]string
	// Applied is the session settings text the executor last replayed
	// here ("" = the server's defaults); the executor owns it.
	Applied string
	// ResetSQL is what brings the session back to a clean state before
	// the pool lends it again ("" = DISCARD ALL); the executor owns it.
	ResetSQL string

	txStatus byte
	peek     *peeker
	broken   bool
	closed   bool
	onClose  func()

	obs Observer
	// sentAt is when requests were flushed with none outstanding since
	// the last ReadyForQuery (zero: none, or no observer).
	sentAt time.Time

	// Statements is the connection's cache of server-side prepared
	// statements; the executor owns its contents.
	Statements *StatementCache
}

// Dial connects, authenticates and waits for the server's first
// ReadyForQuery, then takes over the connection.
func Dial(ctx context.Context, opts DialOptions) (*Conn, error) {
	cfg, err := ParseURL(opts.URL, opts.Settings)
	if err != nil {
		return nil, fmt.Errorf("backend url: %w", err)
	}
	if opts.User != "" {
		cfg.User = opts.User
	}
	if opts.Password != "" {
		cfg.Password = opts.Password
	}
	cfg.ConnectTimeout = opts.ConnectTimeout
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	for k, v := range opts.Params {
		cfg.RuntimeParams[k] = v
	}
	pc, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := pc.SyncConn(ctx); err != nil {
		pc.Close(ctx)
		return nil, err
	}
	hc, err := pc.Hijack()
	if err != nil {
		pc.Close(ctx)
		return nil, err
	}
	maxLen := opts.MaxMessageLen
	if maxLen == 0 {
		maxLen = 1 << 30
	}
	return &Conn{
		nc:           hc.Conn,
		rd:           newMsgReader(hc.Conn, maxLen),
		addr:         net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))),
		pid:          hc.PID,
		secret:       hc.SecretKey,
		ServerParams: hc.ParameterStatuses,
		txStatus:     hc.TxStatus,
		Statements:   newStatementCache(),
		onClose:      opts.OnClose,
		obs:          opts.Observer,
	}, nil
}

// PID is the server process id of this session.
func (c *Conn) PID() uint32 { return c.pid }

// Addr is the host:port the connection goes to.
func (c *Conn) Addr() string { return c.addr }

// TxStatus is the transaction status byte of the last ReadyForQuery read
// ('I', 'T' or 'E').
func (c *Conn) TxStatus() byte { return c.txStatus }

// Broken reports whether an I/O or protocol error made the connection
// unusable.
func (c *Conn) Broken() bool { return c.broken }

// Send appends a frontend message to the write buffer.
func (c *Conn) Send(msg pgproto3.FrontendMessage) {
	if c.werr != nil {
		return
	}
	c.wbuf, c.werr = msg.Encode(c.wbuf)
}

// SendQuery appends a simple Query message for sql.
func (c *Conn) SendQuery(sql string) {
	c.wbuf = append(c.wbuf, 'Q', 0, 0, 0, 0)
	start := len(c.wbuf) - 4
	c.wbuf = append(c.wbuf, sql...)
	c.wbuf = append(c.wbuf, 0)
	binary.BigEndian.PutUint32(c.wbuf[start:], uint32(len(c.wbuf)-start))
}

// SendRaw appends an already framed message body with its type byte.
func (c *Conn) SendRaw(typ byte, body []byte) {
	c.wbuf = append(c.wbuf, typ, 0, 0, 0, 0)
	binary.BigEndian.PutUint32(c.wbuf[len(c.wbuf)-4:], uint32(len(body)+4))
	c.wbuf = append(c.wbuf, body...)
}

// Pending is the number of bytes buffered and not yet written.
func (c *Conn) Pending() int { return len(c.wbuf) }

// Flush writes the buffered messages.
func (c *Conn) Flush(ctx context.Context) error {
	if c.werr != nil {
		err := c.werr
		c.werr = nil
		c.wbuf = c.wbuf[:0]
		return err
	}
	if len(c.wbuf) == 0 {
		return nil
	}
	if c.obs != nil && c.sentAt.IsZero() {
		c.sentAt = time.Now()
	}
	stop := c.watch(ctx)
	_, err := c.nc.Write(c.wbuf)
	stop()
	if cap(c.wbuf) > 64<<10 {
		c.wbuf = nil
	} else {
		c.wbuf = c.wbuf[:0]
	}
	if err != nil {
		c.broken = true
		return fmt.Errorf("write to %s: %w", c.addr, err)
	}
	return nil
}

// Receive reads the next message. The body is valid until the next call.
// ReadyForQuery updates TxStatus.
func (c *Conn) Receive(ctx context.Context) (byte, []byte, error) {
	if c.rd.buffered() == 0 {
		stop := c.watch(ctx)
		defer stop()
	}
	typ, body, err := c.rd.next()
	if err != nil {
		c.broken = true
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, nil, fmt.Errorf("server %s closed the connection unexpectedly: %w", c.addr, err)
		}
		return 0, nil, fmt.Errorf("read from %s: %w", c.addr, err)
	}
	switch {
	case typ == 'Z' && len(body) == 1:
		c.txStatus = body[0]
	case typ == 'S':
		c.noteParameter(body)
	}
	if c.obs != nil {
		c.observe(typ, body)
	}
	return typ, body, nil
}

// noteParameter records a ParameterStatus in ServerParams.
func (c *Conn) noteParameter(body []byte) {
	name, rest, ok := bytes.Cut(body, []byte{0})
	if !ok {
		return
	}
	value, _, ok := bytes.Cut(rest, []byte{0})
	if !ok {
		return
	}
	if c.ServerParams == nil {
		c.ServerParams = map[string]string{}
	}
	if c.ServerParams[string(name)] != string(value) {
		c.ServerParams[string(name)] = string(value)
	}
}

// Alive reports, without blocking, whether the connection can take a new
// command: it is open, and the server sent nothing since its last
// ReadyForQuery (a server that shut down or ended the session sends an
// error, or closes). Any unasked byte makes the connection broken.
func (c *Conn) Alive() bool {
	if c.broken || c.closed || c.rd.buffered() > 0 || c.txStatus != 'I' {
		return false
	}
	if c.peek == nil {
		c.peek = newPeeker(c.nc)
	}
	if !c.peek.check() {
		c.broken = true
		return false
	}
	return true
}

// watch makes blocking I/O on the connection return when ctx is done.
func (c *Conn) watch(ctx context.Context) func() {
	if ctx.Done() == nil {
		return func() {}
	}
	if dl, ok := ctx.Deadline(); ok {
		c.nc.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { c.nc.SetDeadline(time.Unix(1, 0)) })
	return func() {
		if !stop() {
			// The deadline was forced; the connection's state is unknown.
			c.broken = true
		}
		c.nc.SetDeadline(time.Time{})
	}
}

// Cancel asks the server to cancel whatever this session is running, with a
// CancelRequest on a new connection. Safe to call from any goroutine.
func (c *Conn) Cancel(ctx context.Context) error {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return err
	}
	defer nc.Close()
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	msg, err := (&pgproto3.CancelRequest{ProcessID: c.pid, SecretKey: c.secret}).Encode(nil)
	if err != nil {
		return err
	}
	if _, err := nc.Write(msg); err != nil {
		return err
	}
	// The server closes the connection when done; wait for that so the
	// cancel has been delivered before we return.
	var b [1]byte
	nc.Read(b[:])
	return nil
}

// Close sends Terminate and closes the socket. Closing twice is harmless.
func (c *Conn) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	if c.onClose != nil {
		c.onClose()
	}
	if !c.broken {
		c.nc.SetWriteDeadline(time.Now().Add(time.Second))
		c.nc.Write([]byte{'X', 0, 0, 0, 4})
	}
	c.broken = true
	return c.nc.Close()
}
