package executor

import "github.com/jackc/pgx/v5/pgproto3"

// Admin answers the router's admin views: SHOW sqlrouter.clusters,
// sqlrouter.pools, sqlrouter.shardmap and sqlrouter.stats, result sets of
// several columns, like PgBouncer's SHOW commands.
type Admin interface {
	// View returns what SHOW name shows; ok is false when name is not an
	// admin view.
	View(name string) (view View, ok bool)
}

// View is the table of an admin view. Every column is text.
type View struct {
	Columns []string
	Rows    [][]string
}

// description is the view's RowDescription.
func (v View) description() *pgproto3.RowDescription {
	rd := &pgproto3.RowDescription{}
	for _, c := range v.Columns {
		rd.Fields = append(rd.Fields, pgproto3.FieldDescription{Name: []byte(c), DataTypeOID: 25, DataTypeSize: -1, TypeModifier: -1})
	}
	return rd
}

// adminView returns the admin view named, if it is one.
func (s *Session) adminView(name string) (View, bool) {
	if s.cfg.Admin == nil {
		return View{}, false
	}
	return s.cfg.Admin.View(name)
}

// showView answers SHOW of an admin view.
func (s *Session) showView(v View, describe bool) {
	if describe {
		s.respond(v.description())
	}
	for _, row := range v.Rows {
		values := make([][]byte, len(row))
		for i, cell := range row {
			values[i] = []byte(cell)
		}
		s.respond(&pgproto3.DataRow{Values: values})
	}
	s.respond(&pgproto3.CommandComplete{CommandTag: []byte("SHOW")})
}
