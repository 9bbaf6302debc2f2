"""The SQL console's guard: a query is parsed, checked and rewritten before any store
runs it, so that whatever it says it reads only its project's rows.

:func:`rewrite` parses the text with ``sqlglot`` in the store's dialect (``duckdb`` or
``clickhouse``) and refuses, with a :class:`~lamina.errors.BadRequest` that names what
it refused, anything but:

- one statement, a ``SELECT`` (with ``WITH``, ``UNION``, joins and subqueries);
- tables that are the four views (:data:`lamina.store.console.VIEWS`) or the query's
  own ``WITH`` names in scope; a ``WITH`` name may not be a view's;
- expressions of the kinds in ``_NODES`` and functions in ``_FUNCTIONS`` (or, by name,
  ``_NAMED``): aggregates, date and time, strings, math, conditionals, JSON, casts.
  Nothing that reads a file, a URL, the environment, a setting or a system table is
  in them (``read_csv``, ``glob``, ``getenv``, ``file``, ``url``, ``duckdb_settings``...).

It then rewrites what it accepted: every ``WITH`` name becomes a name of its own (so
the engine cannot resolve a reference this guard took for one to a table), every view
becomes a placeholder the store replaces by the subquery of its project's rows (the
project a bound parameter), comments are dropped, and the answer is capped at
``max_rows + 1`` rows. The SQL the store runs is sqlglot's, generated from the tree
that was checked, never the text as it came.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from lamina.errors import BadRequest
from lamina.store.console import VIEWS

DIALECTS = ("duckdb", "clickhouse")


def _words(text: str) -> list[str]:
    return text.split()


_TABLES = ", ".join(VIEWS)

# Every kind of expression a query may hold besides a function (a Func, checked apart).
_NODES: frozenset[type[exp.Expr]] = frozenset(
    getattr(exp, name)
    for name in _words(
        # statements and clauses
        "Select From Join Where Group Having Qualify Order Ordered Limit Offset Distinct "
        "With CTE Union Intersect Except Subquery Table TableAlias Alias Window WindowSpec "
        "Star Column Identifier Literal Null Boolean Paren Tuple Interval Var DataType "
        "DataTypeParam Lambda Bracket Slice Cube Rollup GroupingSets Filter "
        # operators and predicates
        "Add Sub Mul Div IntDiv Mod Neg Not And Or Xor EQ NEQ NullSafeEQ NullSafeNEQ GT GTE "
        "LT LTE Is In Between Like ILike Escape SimilarTo RegexpLike RegexpILike Glob DPipe "
        "BitwiseAnd BitwiseOr BitwiseXor BitwiseNot BitwiseLeftShift BitwiseRightShift "
        "Exists Any All PropertyEQ Kwarg IgnoreNulls RespectNulls HavingMax "
        "WithinGroup Pow ArrayContainsAll ArrayOverlaps JSONPath JSONPathKey JSONPathRoot "
        "JSONPathSubscript JSONPathWildcard JSONExtractQuote"
    )
    if hasattr(exp, name)
)

# Functions sqlglot knows by kind: aggregates, windows, dates, strings, math,
# conditionals, JSON and casts. Generators of rows (range, numbers), table functions,
# and anything about the server, its files, settings or session are not here.
_FUNCTIONS: frozenset[type[exp.Func]] = frozenset(
    getattr(exp, name)
    for name in _words(
        # aggregates
        "Count CountIf Sum Avg Min Max AnyValue ApproxDistinct ApproxQuantile ArgMax ArgMin "
        "ArrayAgg ArrayUniqueAgg ArrayConcatAgg Corr CovarPop CovarSamp First Last GroupConcat "
        "LogicalAnd LogicalOr Median Mode PercentileCont PercentileDisc Quantile Stddev "
        "StddevPop StddevSamp Variance VariancePop Skewness Kurtosis BitwiseAndAgg "
        "BitwiseOrAgg BitwiseXorAgg Grouping ParameterizedAgg CombinedAggFunc "
        "CombinedParameterizedAgg AnonymousAggFunc "
        # windows
        "RowNumber Rank DenseRank PercentRank CumeDist Ntile Lag Lead FirstValue LastValue "
        "NthValue "
        # dates and times
        "CurrentDate CurrentTimestamp CurrentTime Date DateAdd DateSub DateDiff DateTrunc "
        "DatetimeAdd DatetimeSub DatetimeDiff DatetimeTrunc TimestampAdd TimestampSub "
        "TimestampDiff TimestampTrunc TimeTrunc Extract Year Quarter Month Week WeekOfYear "
        "Day DayOfMonth DayOfWeek DayOfWeekIso DayOfYear Hour Minute Second Dayname Monthname "
        "LastDay StrToDate StrToTime TimeToStr TimeStrToTime TimeStrToDate TimeToUnix "
        "UnixToTime UnixToStr UnixSeconds UnixMillis UnixMicros DateFromParts "
        "TimestampFromParts MakeInterval TsOrDsToDate TsOrDsAdd TsOrDsDiff TsOrDsToTimestamp "
        "DateStrToDate DateToDateStr Timestamp Datetime Time ToDays AddMonths MonthsBetween "
        # strings
        "Lower Upper Length Concat ConcatWs Substring Left Right Trim Pad Replace Reverse "
        "Repeat StrPosition StartsWith EndsWith Contains Split SplitPart Initcap Ascii Chr "
        "RegexpExtract RegexpExtractAll RegexpReplace RegexpSplit RegexpCount Levenshtein "
        "Translate Format ToChar MD5 SHA SHA2 Hex Unhex ToBase64 FromBase64 ByteLength "
        "BitLength String Soundex Space Unicode ArrayToString "
        # math
        "Abs Ceil Floor Round Trunc Sqrt Cbrt Exp Ln Log Pow Sign Greatest Least Mod Pi "
        "Sin Cos Tan Asin Acos Atan Atan2 Degrees Radians IsNan IsInf SafeDivide WidthBucket "
        # conditionals and casts
        "Case If Coalesce Nullif Nvl2 Cast TryCast Try EqualNull "
        # lists and structs
        "Array ArraySize ArrayContains ArrayFilter ArrayFirst ArrayLast ArraySort "
        "ArrayDistinct ArrayConcat ArraySlice ArrayPosition ArrayReverse ArraySum ArrayMin "
        "ArrayMax ArrayAll ArrayAny ArrayIntersect ArrayCompact ArrayAppend ArrayPrepend "
        "Transform Unnest Explode Struct StructExtract List Map MapKeys VarMap ToMap "
        # JSON
        "JSONExtract JSONExtractScalar JSONExtractArray JSONKeys JSONType ParseJSON "
        "JSONArray JSONObject JSONFormat"
    )
    if hasattr(exp, name)
)

# Functions sqlglot does not know (Anonymous), by lowercase name, per dialect.
_SHARED_NAMES = (
    "date_part datepart epoch epoch_ms epoch_us epoch_ns make_timestamp strftime strptime "
    "to_timestamp time_bucket date_diff date_sub date_add age "
    "approx_count_distinct quantile quantile_cont quantile_disc bool_and bool_or "
    "list_contains list_has_any list_has_all list_filter list_transform list_sort "
    "list_distinct list_aggregate list_sum len array_length array_contains "
    "json_extract_string json_extract_path json_extract_path_text json_value json_exists "
    "json_array_length json_keys json_valid regexp_matches regexp_full_match "
    "string_split str_split contains prefix suffix lpad rpad ltrim rtrim strip_accents "
    "nullif ifnull isnull least greatest round_even trunc log10 log2 power "
    "histogram fsum favg product entropy kurtosis skewness arg_max arg_min "
    "max_by min_by first last any_value mode string_agg list arbitrary"
)
_NAMED: dict[str, frozenset[str]] = {
    "duckdb": frozenset(
        (
            _SHARED_NAMES + " date_trunc datetrunc dayofweek isodow isoyear yearweek "
            "century decade millennium millisecond microsecond nanosecond timezone to_days "
            "to_hours to_minutes to_seconds to_milliseconds to_microseconds "
            "array_to_string list_aggr array_sort flatten unnest struct_extract map_keys "
            "map_values cardinality element_at ilike_escape like_escape format printf "
            "bar hash md5_number"
        ).split()
    ),
    "clickhouse": frozenset(
        (
            _SHARED_NAMES + " todate todate32 todatetime todatetime64 tostartofday "
            "tostartofhour tostartofminute tostartofweek tostartofmonth tostartofyear "
            "tostartofquarter tostartoffifteenminutes tostartoffiveminutes tostartofinterval "
            "tomonday toyyyymm toyyyymmdd tounixtimestamp tounixtimestamp64milli "
            "fromunixtimestamp fromunixtimestamp64milli fromunixtimestamp64micro "
            "fromunixtimestamp64nano formatdatetime parsedatetimebesteffort "
            "parsedatetime64besteffort datediff date_diff dateadd datesub timestampadd "
            "timestampsub todayofweek todayofmonth todayofyear tohour tominute tosecond "
            "toyear tomonth toquarter toweek toisoweek today yesterday now now64 "
            "tostring tofloat64 tofloat32 toint64 toint32 touint64 touint32 todecimal64 "
            "tonullable assumenotnull tolowcardinality tostringornull toint64ornull "
            "tofloat64ornull todatetimeornull todateornull "
            "count uniq uniqexact uniqcombined uniqhll12 countdistinct any anylast "
            "argmax argmin groupuniqarray grouparray groupconcat quantileexact "
            "quantileexactinclusive quantileexactexclusive quantiles quantilesexact "
            "quantiletiming quantiletdigest median medianexact sumif avgif minif maxif "
            "uniqif uniqexactif countif quantileif grouparrayif "
            "simplejsonextractstring jsonextractstring jsonextractint jsonextractfloat "
            "jsonextractbool jsonextractraw jsonextractkeys jsonhas jsonlength jsontype "
            "jsonextract jsonextractarrayraw isvalidjson "
            "arrayjoin has hasany hasall empty notempty length arrayexists arrayfilter "
            "arraymap arraysort arraydistinct arrayslice arrayelement arraystringconcat "
            "arraycount arraysum arrayavg arraymin arraymax arrayconcat arrayreverse "
            "arrayuniq arrayfirst indexof splitbychar splitbystring "
            "lower upper lowerutf8 upperutf8 lengthutf8 substringutf8 position positionutf8 "
            "positioncaseinsensitive match extract extractall replaceall replaceone "
            "replaceregexpall replaceregexpone startswith endswith concat trimboth "
            "trimleft trimright leftpad rightpad like ilike notlike multisearchany "
            "intdiv intdivorzero modulo divide multiply plus minus abs round floor ceil "
            "roundbankers exp log ln sqrt pow if multiif ifnull coalesce nullif isnull "
            "isnotnull greatest least tuple tupleelement maptokeys mapkeys mapvalues "
            "cityhash64 siphash64 sipHash64 xxhash64 hex unhex base64encode base64decode "
            "runningdifference"
        )
        .lower()
        .split()
    ),
}
# Arguments of a SELECT that a query may not use (ClickHouse SETTINGS and FORMAT,
# SELECT INTO, row locks, sampling, hints...).
_SELECT_ARGS = frozenset(
    _words(
        "with_ expressions distinct from_ joins where group having qualify windows order "
        "limit offset kind laterals"
    )
)
_TABLE_ARGS = frozenset(("this", "alias", "joins", "laterals"))


@dataclass(frozen=True, slots=True)
class Rewritten:
    sql: str  # in the store's dialect, with each view as views[name] (a placeholder)
    views: dict[str, str]  # placeholder -> view name


def refuse(message: str) -> BadRequest:
    return BadRequest(message)


def rewrite(text: str, dialect: str, max_rows: int) -> Rewritten:
    """The query, checked and rewritten (see the module's docstring)."""
    if dialect not in DIALECTS:
        raise ValueError(f"not a console dialect: {dialect}")
    if not text.strip():
        raise refuse("The query is empty: write one SELECT over " + _TABLES + ".")
    try:
        statements = [s for s in sqlglot.parse(text, read=dialect) if s is not None]
    except SqlglotError as exc:
        raise refuse(f"Could not read the query: {_first_line(exc)}") from None
    if len(statements) != 1:
        raise refuse(
            f"Only one SELECT statement is allowed; the query holds {len(statements)}."
            if statements
            else "The query is empty: write one SELECT over " + _TABLES + "."
        )
    (tree,) = statements
    if not isinstance(tree, exp.Query):
        raise refuse(
            f"Only one SELECT statement is allowed; this is {_statement(tree)}. "
            f"The console reads {_TABLES}, and changes nothing."
        )
    for node in tree.walk():
        _check(node, dialect)
    token = secrets.token_hex(8)
    views: dict[str, str] = {}
    _Scope(token, views).resolve(tree, {})
    for node in tree.walk():
        node.comments = None  # a comment is not carried into the SQL that runs
        if isinstance(node, exp.Table) and not node.name.endswith(token):
            raise refuse(f"Unknown table {node.name}: the tables are {_TABLES}.")  # unresolved
    tree = _capped(tree, max_rows + 1)
    return Rewritten(tree.sql(dialect=dialect), views)


def _check(node: exp.Expr, dialect: str) -> None:
    kind = type(node)
    if isinstance(node, exp.Func) and kind not in _NODES:  # (AND, OR are functions too)
        _check_function(node, dialect)
        return
    if kind is exp.Placeholder or isinstance(node, exp.Parameter):
        raise refuse(f"Parameters ({node.sql(dialect=dialect)}) are not allowed in a query.")
    if kind not in _NODES:
        raise refuse(f"This is not allowed in a query: {_snippet(node, dialect)}.")
    if kind is exp.Select:
        used = {key for key, value in node.args.items() if value not in (None, [], False)}
        if extra := used - _SELECT_ARGS:
            raise refuse(
                f"A SELECT here cannot use {', '.join(sorted(a.rstrip('_') for a in extra))}: "
                f"{_snippet(node, dialect)}."
            )
    if isinstance(node, exp.Table):
        _check_table(node, dialect)
    if kind is exp.In:
        _check_in(node, dialect)
    if kind is exp.With and node.args.get("recursive"):
        raise refuse("WITH RECURSIVE is not allowed; write the query without recursion.")
    if kind is exp.CTE and not isinstance(node.this, exp.Query):
        raise refuse(
            f"WITH {_snippet(node.this, dialect)} AS {node.alias} names an expression; "
            "only a subquery can be named in WITH."
        )


def _check_function(node: exp.Func, dialect: str) -> None:
    if isinstance(node, exp.Anonymous | exp.AnonymousAggFunc):
        name = str(node.name).lower()
        allowed = name in _NAMED[dialect]
    elif isinstance(node, exp.CombinedParameterizedAgg | exp.ParameterizedAgg):
        name = str(node.name).lower()  # quantile(0.5)(x), quantileIf...
        allowed = name in _NAMED[dialect]
    else:
        name = node.sql_name().lower()
        allowed = type(node) in _FUNCTIONS
    if not allowed:
        raise refuse(
            f"The function {name} is not allowed. A query may use aggregates and the date, "
            "string, math, conditional, JSON and cast functions; see the SQL page's help."
        )


def _check_in(node: exp.Expr, dialect: str) -> None:
    """ClickHouse reads ``x IN name`` and ``x IN (name)`` from the table of that name: an
    IN takes a subquery or a list of values, never one bare name."""
    items = node.args.get("expressions") or []
    only = items[0].unnest() if len(items) == 1 else None
    if node.args.get("field") is not None or isinstance(only, exp.Column | exp.Dot):
        raise refuse(
            f"IN takes a subquery or a list of values, not a name: {_snippet(node, dialect)}. "
            "Write x IN (SELECT ... FROM sessions, traces, spans or scores)."
        )


def _check_table(node: exp.Table, dialect: str) -> None:
    if not isinstance(node.this, exp.Identifier):
        shown = node.this.sql(dialect=dialect).split("(")[0].lower()  # as the dialect names it
        raise refuse(f"The table function {shown} is not allowed: the tables are {_TABLES}.")
    if node.args.get("db") or node.args.get("catalog"):
        full = ".".join(p.name for p in node.parts)
        raise refuse(f"Unknown table {full}: the tables are {_TABLES}.")
    used = {key for key, value in node.args.items() if value not in (None, [], False)}
    if extra := used - _TABLE_ARGS:
        raise refuse(
            f"A table here cannot take {', '.join(sorted(extra))}: {_snippet(node, dialect)}."
        )


class _Scope:
    """Resolves each table of the query: a WITH name in scope (renamed to one of its
    own) or a view (replaced by a placeholder); anything else is refused."""

    def __init__(self, token: str, views: dict[str, str]) -> None:
        self._token = token
        self._views = views
        self._names = 0

    def resolve(self, node: exp.Expr, names: dict[str, str]) -> None:
        with_ = node.args.get("with_") if isinstance(node, exp.Query) else None
        if isinstance(with_, exp.With):
            names = dict(names)
            for cte in with_.expressions:
                self.resolve(cte.this, names)
                name = cte.alias.lower()
                if name in VIEWS:
                    raise refuse(
                        f"A WITH query cannot be named {cte.alias}: that is a view's name. "
                        "Name it otherwise."
                    )
                self._names += 1
                names[name] = f"w{self._names}_{self._token}"
                alias = cte.args["alias"]
                alias.set("this", exp.to_identifier(names[name]))
        for key, value in list(node.args.items()):
            if key == "with_":
                continue
            for child in value if isinstance(value, list) else [value]:
                if isinstance(child, exp.Table):
                    self._table(child, names)
                elif isinstance(child, exp.Expr):
                    self.resolve(child, names)

    def _table(self, table: exp.Table, names: dict[str, str]) -> None:
        name = table.name.lower()
        alias = table.args.get("alias") or exp.TableAlias(this=exp.to_identifier(table.name))
        if name in names:
            replacement = names[name]
        elif name in VIEWS:
            replacement = f"v{len(self._views) + 1}_{self._token}"
            self._views[replacement] = name
        else:
            raise refuse(f"Unknown table {table.name}: the tables are {_TABLES}.")
        table.set("this", exp.to_identifier(replacement))
        table.set("alias", alias)
        for key in ("joins", "laterals"):
            for child in table.args.get(key) or []:
                self.resolve(child, names)


def _capped(tree: exp.Query, rows: int) -> exp.Query:
    """The query answering at most ``rows`` rows: its own LIMIT if lower."""
    if not isinstance(tree, exp.Select):
        tree = exp.select("*").from_(tree.subquery("result"))
    limit = tree.args.get("limit")
    if limit is not None:
        count = limit.expression
        if not (isinstance(count, exp.Literal) and count.is_int):
            raise refuse(f"LIMIT takes a whole number here; got {count.sql()}.")
        rows = min(rows, int(count.name))
    return tree.limit(rows, copy=False)


def _statement(tree: exp.Expr) -> str:
    words = tree.sql().split()
    return f"a {words[0].upper()} statement" if words else "not a SELECT"


def _snippet(node: exp.Expr, dialect: str) -> str:
    text = node.sql(dialect=dialect)
    return text if len(text) <= 80 else text[:77] + "..."


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return " ".join(text.splitlines()[0].split()) if text else type(exc).__name__
