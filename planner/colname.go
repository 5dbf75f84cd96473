package planner

import (
	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// columnName is the name PostgreSQL gives a target list entry without an
// alias (FigureColname of parse_target.c): a column's name, a function's
// name, a cast's type name, "?column?" when nothing names it.
func columnName(rt *pg_query.ResTarget) string {
	if rt.Name != "" {
		return rt.Name
	}
	if name, strength := figureColname(rt.Val); strength > 0 {
		return name
	}
	return "?column?"
}

func figureColname(n *pg_query.Node) (string, int) {
	switch x := unwrap(n).(type) {
	case *pg_query.ColumnRef:
		name := ""
		for _, f := range x.Fields {
			if s, ok := unwrap(f).(*pg_query.String); ok {
				name = s.Sval
			}
		}
		if name != "" {
			return name, 2
		}
	case *pg_query.A_Indirection:
		name := ""
		for _, f := range x.Indirection {
			if s, ok := unwrap(f).(*pg_query.String); ok {
				name = s.Sval
			}
		}
		if name != "" {
			return name, 2
		}
		return figureColname(x.Arg)
	case *pg_query.FuncCall:
		names := nameList(x.Funcname)
		return names[len(names)-1], 2
	case *pg_query.A_Expr:
		if x.Kind == pg_query.A_Expr_Kind_AEXPR_NULLIF {
			return "nullif", 2
		}
	case *pg_query.TypeCast:
		name, strength := figureColname(x.Arg)
		if strength <= 1 && x.TypeName != nil {
			names := nameList(x.TypeName.Names)
			return names[len(names)-1], 1
		}
		return name, strength
	case *pg_query.CollateClause:
		return figureColname(x.Arg)
	case *pg_query.GroupingFunc:
		return "grouping", 2
	case *pg_query.SubLink:
		switch x.SubLinkType {
		case pg_query.SubLinkType_EXISTS_SUBLINK:
			return "exists", 2
		case pg_query.SubLinkType_ARRAY_SUBLINK:
			return "array", 2
		case pg_query.SubLinkType_EXPR_SUBLINK:
			if sel, ok := unwrap(x.Subselect).(*pg_query.SelectStmt); ok {
				for sel.Larg != nil {
					sel = sel.Larg
				}
				if len(sel.TargetList) > 0 {
					if rt, ok := unwrap(sel.TargetList[0]).(*pg_query.ResTarget); ok {
						return columnName(rt), 2
					}
				}
			}
		}
	case *pg_query.CaseExpr:
		name, strength := figureColname(x.Defresult)
		if strength <= 1 {
			return "case", 1
		}
		return name, strength
	case *pg_query.A_ArrayExpr:
		return "array", 2
	case *pg_query.RowExpr:
		return "row", 2
	case *pg_query.CoalesceExpr:
		return "coalesce", 2
	case *pg_query.MinMaxExpr:
		if x.Op == pg_query.MinMaxOp_IS_GREATEST {
			return "greatest", 2
		}
		return "least", 2
	case *pg_query.SQLValueFunction:
		switch x.Op {
		case pg_query.SQLValueFunctionOp_SVFOP_CURRENT_DATE:
			return "current_date", 2
		case pg_query.SQLValueFunctionOp_SVFOP_CURRENT_TIME, pg_query.SQLValueFunctionOp_SVFOP_CURRENT_TIME_N:
			return "current_time", 2
		case pg_query.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP, pg_query.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP_N:
			return "current_timestamp", 2
		case pg_query.SQLValueFunctionOp_SVFOP_LOCALTIME, pg_query.SQLValueFunctionOp_SVFOP_LOCALTIME_N:
			return "localtime", 2
		case pg_query.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP, pg_query.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP_N:
			return "localtimestamp", 2
		case pg_query.SQLValueFunctionOp_SVFOP_CURRENT_ROLE:
			return "current_role", 2
		case pg_query.SQLValueFunctionOp_SVFOP_CURRENT_USER:
			return "current_user", 2
		case pg_query.SQLValueFunctionOp_SVFOP_USER:
			return "user", 2
		case pg_query.SQLValueFunctionOp_SVFOP_SESSION_USER:
			return "session_user", 2
		case pg_query.SQLValueFunctionOp_SVFOP_CURRENT_CATALOG:
			return "current_catalog", 2
		case pg_query.SQLValueFunctionOp_SVFOP_CURRENT_SCHEMA:
			return "current_schema", 2
		}
	case *pg_query.XmlSerialize:
		return "xmlserialize", 2
	}
	return "", 0
}
