package localdeploy

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// StartReplica creates a streaming replica of primary in opts.DataDir with
// `pg_basebackup -R -X stream` (so it holds everything the primary held,
// the database `app` included, and its primary_conninfo names opts.Name as
// application_name), starts it as a hot standby and returns once it
// accepts read-only connections. The replica runs with the primary's
// settings overridden by opts.Settings (a hot standby needs limits such as
// max_connections at least as high as its primary's).
func StartReplica(ctx context.Context, bin Binaries, primary *Postgres, opts PostgresOptions) (*Postgres, error) {
	p, err := newPostgres(bin, opts, primary.settings)
	if err != nil {
		return nil, err
	}
	if err := p.acct.prepareDataDir(p.dataDir); err != nil {
		return nil, err
	}
	conninfo := fmt.Sprintf("host=127.0.0.1 port=%d user=postgres application_name=%s", primary.Port(), quoteConninfo(p.name))
	err = runTool(ctx, p.acct, bin.Path("pg_basebackup"),
		"--pgdata="+p.dataDir,
		"--dbname="+conninfo,
		"--write-recovery-conf",
		"--wal-method=stream",
		"--checkpoint=fast",
		"--no-sync",
		"--no-password",
	)
	if err != nil {
		return nil, err
	}
	for name := range skipOnCopy { // the primary's log came along
		_ = os.Remove(filepath.Join(p.dataDir, name))
	}
	if err := p.startNew(ctx, opts.Port); err != nil {
		return nil, err
	}
	return p, nil
}

// quoteConninfo quotes a libpq keyword/value connection string value.
func quoteConninfo(v string) string {
	out := []byte{'\''}
	for i := 0; i < len(v); i++ {
		if v[i] == '\'' || v[i] == '\\' {
			out = append(out, '\\')
		}
		out = append(out, v[i])
	}
	return string(append(out, '\''))
}
