package planner

import (
	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// funcKind is what the planner knows about a function called by name.
type funcKind int

const (
	funcUnknown   funcKind = iota // user-defined or not listed: could be an aggregate
	funcScalar                    // a built-in function of one row
	funcAggregate                 // a built-in aggregate
)

// aggregates are PostgreSQL's built-in aggregate functions.
var aggregates = map[string]bool{
	"count": true, "sum": true, "avg": true, "min": true, "max": true,
	"bool_and": true, "bool_or": true, "every": true, "bit_and": true, "bit_or": true, "bit_xor": true,
	"string_agg": true, "array_agg": true, "json_agg": true, "jsonb_agg": true, "json_object_agg": true,
	"jsonb_object_agg": true, "xmlagg": true, "stddev": true, "stddev_pop": true, "stddev_samp": true,
	"variance": true, "var_pop": true, "var_samp": true, "covar_pop": true, "covar_samp": true, "corr": true,
	"regr_avgx": true, "regr_avgy": true, "regr_count": true, "regr_intercept": true, "regr_r2": true,
	"regr_slope": true, "regr_sxx": true, "regr_sxy": true, "regr_syy": true, "percentile_cont": true,
	"percentile_disc": true, "mode": true, "rank": true, "dense_rank": true, "percent_rank": true,
	"cume_dist": true, "range_agg": true, "range_intersect_agg": true, "any_value": true,
	"json_agg_strict": true, "jsonb_agg_strict": true, "json_object_agg_strict": true, "jsonb_object_agg_strict": true,
	"json_object_agg_unique": true, "jsonb_object_agg_unique": true, "json_object_agg_unique_strict": true, "jsonb_object_agg_unique_strict": true,
}

// scalars are built-in functions of one row that the router may push to
// clusters and repeat at the coordinator (same result everywhere for the
// same row, or a per-row value such as random()).
var scalars = map[string]bool{
	"abs": true, "round": true, "trunc": true, "ceil": true, "ceiling": true, "floor": true, "sign": true,
	"mod": true, "power": true, "sqrt": true, "exp": true, "ln": true, "log": true, "div": true,
	"lower": true, "upper": true, "length": true, "char_length": true, "octet_length": true, "substr": true,
	"substring": true, "position": true, "strpos": true, "left": true, "right": true, "lpad": true, "rpad": true,
	"trim": true, "btrim": true, "ltrim": true, "rtrim": true, "replace": true, "concat": true, "concat_ws": true,
	"md5": true, "initcap": true, "repeat": true, "reverse": true, "split_part": true, "starts_with": true,
	"to_char": true, "to_date": true, "to_timestamp": true, "to_number": true, "format": true,
	"date_trunc": true, "date_part": true, "extract": true, "age": true, "make_date": true, "make_timestamp": true,
	"now": true, "timezone": true, "justify_days": true, "justify_hours": true, "justify_interval": true,
	"greatest": true, "least": true, "nullif": true, "coalesce": true, "random": true,
	"array_length": true, "cardinality": true, "array_position": true, "array_to_string": true,
	"regexp_replace": true, "regexp_match": true, "regexp_matches": true, "quote_ident": true, "quote_literal": true,
	"pg_typeof": true, "num_nonnulls": true, "num_nulls": true, "width_bucket": true, "to_hex": true,
	"gen_random_uuid": true, "jsonb_build_object": true, "json_build_object": true, "jsonb_typeof": true,
	"generate_series": true, "unnest": true, "current_setting": true, "isfinite": true,
}

// classify tells a function call apart: window functions are reported as
// unknown (they change what pushdown may do), aggregates, scalars.
func classify(f *pg_query.FuncCall) funcKind {
	names := nameList(f.Funcname)
	if len(names) == 2 && names[0] != "pg_catalog" {
		return funcUnknown
	}
	name := names[len(names)-1]
	switch {
	case f.Over != nil:
		return funcUnknown
	case aggregates[name]:
		return funcAggregate
	case scalars[name] && !f.AggStar && !f.AggDistinct && len(f.AggOrder) == 0 && f.AggFilter == nil && !f.AggWithinGroup:
		return funcScalar
	}
	return funcUnknown
}
