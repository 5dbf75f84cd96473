package proxy

import (
	"context"
	"crypto/subtle"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sqlrouter/sqlrouter/executor"
	"github.com/sqlrouter/sqlrouter/pgerror"
)

// startup runs the handshake until the client is authenticated and has
// its session. It returns false when the connection must close (the
// reason, if any, has been sent).
func (cs *clientSession) startup(ctx context.Context) bool {
	cs.nc.SetDeadline(time.Now().Add(cs.srv.cfg.StartupTimeout))
	defer cs.nc.SetDeadline(time.Time{})
	var startup *pgproto3.StartupMessage
	var consumed int64 // bytes of the negotiation packets read so far
	for startup == nil {
		msg, err := cs.be.ReceiveStartupMessage()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				cs.fatal(pgerror.New(pgerror.ProtocolViolation, "invalid startup packet: %v", err))
			}
			return false
		}
		switch m := msg.(type) {
		case *pgproto3.SSLRequest:
			consumed += 8
			if !cs.startTLS(ctx, consumed) {
				return false
			}
		case *pgproto3.GSSEncRequest:
			consumed += 8
			if cs.tls != nil {
				cs.fatal(pgerror.New(pgerror.ProtocolViolation, "GSSENCRequest on a connection that is already encrypted"))
				return false
			}
			// No GSS encryption: the client goes on without it.
			if _, err := cs.nc.Write([]byte{'N'}); err != nil {
				return false
			}
		case *pgproto3.CancelRequest:
			cs.srv.cancel(ctx, m)
			return false
		case *pgproto3.StartupMessage:
			startup = m
		}
	}
	if !cs.admit() {
		return false
	}
	params, routerSettings, ok := cs.checkStartup(startup)
	if !ok {
		return false
	}
	if cs.tls == nil && cs.srv.cfg.TLS.Require {
		e := pgerror.New(pgerror.InvalidAuthorization, "the router accepts TLS connections only: connect with sslmode=require, verify-ca or verify-full")
		cs.fatal(e)
		return false
	}
	cs.log = cs.log.With("user", cs.user, "database", cs.database)
	if err := cs.authenticate(cs.user, cs.database); err != nil {
		if pgerror.Code(err) != "" {
			cs.fatal(err)
		}
		return false
	}
	snap := cs.srv.deps.Snapshot()
	if snap == nil {
		cs.fatal(pgerror.New(pgerror.CannotConnectNow, "the router has not loaded a shard map yet"))
		return false
	}
	cs.exec = executor.NewSession(cs.srv.deps.Executor, cs, params)
	cs.exec.SetLogger(cs.log)
	cs.exec.SetSnapshot(snap)
	for name, value := range routerSettings {
		if err := cs.exec.ApplyStartupSetting(name, value); err != nil {
			cs.fatal(err)
			return false
		}
	}
	server, err := cs.exec.Open(ctx)
	if err != nil {
		cs.fatal(err)
		return false
	}
	cs.send(&pgproto3.AuthenticationOk{})
	for _, name := range reportedParams {
		if v, ok := server[name]; ok {
			cs.send(&pgproto3.ParameterStatus{Name: name, Value: v})
		}
	}
	cs.srv.register(cs)
	cs.send(&pgproto3.BackendKeyData{ProcessID: cs.pid, SecretKey: cs.secret})
	cs.send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	return cs.flush() == nil
}

// reportedParams are the settings PostgreSQL 15 reports at startup.
var reportedParams = []string{
	"application_name", "client_encoding", "DateStyle", "default_transaction_read_only",
	"in_hot_standby", "integer_datetimes", "IntervalStyle", "is_superuser", "server_encoding",
	"server_version", "session_authorization", "standard_conforming_strings", "TimeZone",
}

// checkStartup validates the startup parameters and returns the ones to
// pass to backends, and the router's own settings (sqlrouter.*).
func (cs *clientSession) checkStartup(m *pgproto3.StartupMessage) (map[string]string, map[string]string, bool) {
	var unrecognized []string
	params := map[string]string{}
	for k, v := range m.Parameters {
		switch {
		case k == "user":
			cs.user = v
		case k == "database":
			// One logical database: the shard map says which database of
			// each cluster holds it. The name counts only for the users'
			// allowed databases.
			cs.database = v
		case k == "replication":
			if v != "false" && v != "0" && v != "off" && v != "no" {
				cs.fatal(pgerror.Unsupported("replication connections are not supported by the router"))
				return nil, nil, false
			}
		case k == "options":
			for name, value := range parseOptions(v) {
				params[name] = value
			}
		case strings.HasPrefix(k, "_pq_."):
			unrecognized = append(unrecognized, k)
		default:
			params[k] = v
		}
	}
	if cs.user == "" {
		cs.fatal(pgerror.New(pgerror.InvalidAuthorization, "no PostgreSQL user name specified in startup packet"))
		return nil, nil, false
	}
	if cs.database == "" {
		cs.database = cs.user // as PostgreSQL defaults it
	}
	router := map[string]string{}
	for name, value := range params {
		lname := strings.ToLower(name)
		switch {
		case lname == "client_encoding" && !isUTF8(value):
			cs.fatal(pgerror.Unsupported("client_encoding %s is not supported: sqlrouter speaks UTF8 only", value))
			return nil, nil, false
		case lname == "standard_conforming_strings" && !isOn(value):
			cs.fatal(pgerror.Unsupported("standard_conforming_strings = off is not supported"))
			return nil, nil, false
		case strings.HasPrefix(lname, "sqlrouter."):
			// The router's own settings never reach a backend.
			delete(params, name)
			router[lname] = value
		}
	}
	if m.ProtocolVersion != pgproto3.ProtocolVersion30 || len(unrecognized) > 0 {
		// Offer 3.0 and decline protocol extensions, as PostgreSQL 15 does.
		cs.send(&pgproto3.NegotiateProtocolVersion{NewestMinorProtocol: 0, UnrecognizedOptions: unrecognized})
	}
	return params, router, true
}

// parseOptions reads the "options" startup parameter: -c name=value and
// --name=value, separated by spaces, with backslash escapes.
func parseOptions(s string) map[string]string {
	var words []string
	var b strings.Builder
	esc := false
	for _, r := range s {
		switch {
		case esc:
			b.WriteRune(r)
			esc = false
		case r == '\\':
			esc = true
		case r == ' ' || r == '\t' || r == '\n':
			if b.Len() > 0 {
				words = append(words, b.String())
				b.Reset()
			}
		default:
			b.WriteRune(r)
		}
	}
	if b.Len() > 0 {
		words = append(words, b.String())
	}
	out := map[string]string{}
	for i := 0; i < len(words); i++ {
		w := words[i]
		var kv string
		switch {
		case w == "-c" && i+1 < len(words):
			i++
			kv = words[i]
		case strings.HasPrefix(w, "-c"):
			kv = w[2:]
		case strings.HasPrefix(w, "--"):
			kv = w[2:]
		default:
			continue
		}
		if name, value, ok := strings.Cut(kv, "="); ok {
			out[strings.ReplaceAll(name, "-", "_")] = value
		}
	}
	return out
}

func isUTF8(s string) bool {
	n := strings.ToLower(strings.NewReplacer("-", "", "_", "", "'", "").Replace(strings.TrimSpace(s)))
	return n == "utf8" || n == "unicode"
}

func isOn(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "on", "true", "yes", "1", "t", "y":
		return true
	}
	return false
}

// cancel handles a CancelRequest: the session with that key cancels what
// its backends run. A wrong key is ignored silently, as PostgreSQL does.
func (s *Server) cancel(ctx context.Context, m *pgproto3.CancelRequest) {
	cs := s.lookup(m.ProcessID)
	if cs == nil || subtle.ConstantTimeCompare(cs.secret, m.SecretKey) != 1 {
		return
	}
	ctx, stop := context.WithTimeout(ctx, 10*time.Second)
	defer stop()
	cs.exec.Cancel(ctx)
}
