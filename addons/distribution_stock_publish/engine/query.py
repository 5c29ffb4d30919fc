"""Where the numbers come from: the stock of every product over every set of
sources, grouped by one SQL statement.

The rules that have the same sources share a :class:`SourceSet`; the query
returns one row per product with one column per measure of each source set.
A rule's basis quantity (its *pool*) is read from those columns, in Python
by :func:`basis_quantities` and in SQL by :func:`basis_quantity_sql`, with
the very same float operations so that both give the same number.
"""

from contextlib import contextmanager
from dataclasses import dataclass, field

from odoo.tools import SQL

# the bases of a publish rule
FREE = "free"
ON_HAND = "on_hand"
FORECAST = "forecast"

# the measures of a source set; on hand is always read
RESERVED = "reserved"
INCOMING = "incoming"
OUTGOING = "outgoing"
#: basis -> the measures it needs besides on hand
BASIS_MEASURES = {FREE: [RESERVED], FORECAST: [INCOMING, OUTGOING]}

#: move states that count in the forecast (not draft, done or cancelled)
OPEN_MOVE_STATES = ("waiting", "confirmed", "partially_available", "assigned")

#: ``work_mem`` of the statements that group or hash the whole catalog (the
#: stock query, the comparison of the levels with the new numbers). Their
#: hash tables hold one entry per product (a float8 sum per measure and set
#: of sources): far more than PostgreSQL's default of 4MB for 100,000
#: products, so they would spill to disk; 64MB keeps them in memory. Set for
#: these statements only, then restored.
CATALOG_WORK_MEM = "64MB"


@dataclass
class SourceSet:
    """One set of sources: its ``parent_path LIKE`` patterns, the measures
    the rules on it need, and where each measure is in a stock row."""

    patterns: tuple
    #: measures among on_hand, reserved, incoming, outgoing
    measures: list
    #: its place among the run's source sets; names its columns
    position: int = 0
    #: measure -> index of its column in a stock row (set by
    #: :func:`source_sets`)
    columns: dict = field(default_factory=dict)

    def column_name(self, measure):
        """The SQL name of the column of ``measure``, e.g. ``sources0_on_hand``."""
        return f"sources{self.position}_{measure}"


def source_sets(specs):
    """The distinct sets of sources of ``specs``, with the measures their
    rules need, laid out as columns of the stock rows (column 0 is the
    product id); sets each spec's ``source_set``."""
    sets, by_patterns = [], {}
    for spec in specs:
        source_set = by_patterns.get(spec.patterns)
        if source_set is None:
            source_set = by_patterns[spec.patterns] = SourceSet(
                spec.patterns, [ON_HAND], position=len(sets)
            )
            sets.append(source_set)
        for measure in BASIS_MEASURES.get(spec.basis, []):
            if measure not in source_set.measures:
                source_set.measures.append(measure)
    column = 1
    for source_set in sets:
        for measure in source_set.measures:
            source_set.columns[measure] = column
            column += 1
    for spec in specs:
        spec.source_set = by_patterns[spec.patterns]
    return sets


def basis_quantities(spec):
    """quantities(rows) -> the basis quantity of ``spec`` in each stock row
    (0 without row)."""
    columns = spec.source_set.columns
    on_hand = columns[ON_HAND]
    if spec.basis == FREE:
        reserved = columns[RESERVED]
        return lambda rows: [
            0.0 if row is None else row[on_hand] - row[reserved] for row in rows
        ]
    if spec.basis == ON_HAND:
        return lambda rows: [0.0 if row is None else row[on_hand] for row in rows]
    incoming = columns[INCOMING]
    outgoing = columns[OUTGOING]
    return lambda rows: [
        0.0 if row is None else row[on_hand] + row[incoming] - row[outgoing]
        for row in rows
    ]


def basis_quantity_sql(spec, table):
    """SQL of the basis quantity of ``spec`` in a row of the stock table
    ``table`` (0 without row): the float operations of
    :func:`basis_quantities`."""
    source_set = spec.source_set

    def column(measure):
        return SQL("%s.%s", table, SQL.identifier(source_set.column_name(measure)))

    if spec.basis == FREE:
        quantity = SQL("%s - %s", column(ON_HAND), column(RESERVED))
    elif spec.basis == ON_HAND:
        quantity = column(ON_HAND)
    else:
        quantity = SQL(
            "%s + %s - %s", column(ON_HAND), column(INCOMING), column(OUTGOING)
        )
    return SQL("COALESCE(%s, 0)::float8", quantity)


@contextmanager
def planner_settings(cr, **settings):
    """PostgreSQL ``settings`` for the transaction, restored afterwards."""
    previous = {}
    for name, value in settings.items():
        cr.execute(SQL("SELECT current_setting(%s)", name))
        previous[name] = cr.fetchone()[0]
        cr.execute(SQL("SELECT set_config(%s, %s, TRUE)", name, value))
    try:
        yield
    finally:
        for name, value in previous.items():
            cr.execute(SQL("SELECT set_config(%s, %s, TRUE)", name, value))


class StockQuery:
    """The engine's stock query: :meth:`stock_query` is the hook to change
    where the numbers come from."""

    def read_stock(self, source_sets, product_ids=None):
        """Stock of each product over each source set: the rows of
        :meth:`stock_query`, ``{product_id: row}``."""
        with planner_settings(self.cr, work_mem=CATALOG_WORK_MEM):
            self.cr.execute(self.stock_query(source_sets, product_ids))
            return {row[0]: row for row in self.cr.fetchall()}

    def stock_query(self, source_sets, product_ids=None):
        """The hook: the query of the stock of each product over each source
        set, grouped in SQL.

        :param source_sets: list of :class:`SourceSet`: the ``parent_path
            LIKE`` patterns of a set of sources, the measures needed and
            where they go in a row
        :param product_ids: restrict to these products (None: all)
        :return: :class:`~odoo.tools.SQL` of one row per product: column
            ``product_id`` first, then, for each source set and each of its
            measures, in the order of its ``columns``, a float8 column named
            by its ``column_name(measure)`` (never NULL), so that
            ``row[source_set.columns[measure]]`` is the measure of the
            product over the source set, in the product's unit: ``on_hand``
            and ``reserved`` sum the quants of the internal locations under
            the sources; ``incoming`` and ``outgoing`` the moves not done
            that enter or leave them. Products with neither quants nor moves
            there are left out. The engine reads it whole or keeps it in a
            temporary table.
        """
        all_patterns = sorted({p for sources in source_sets for p in sources.patterns})
        if not all_patterns:
            return SQL(
                "SELECT NULL::int AS product_id%s WHERE FALSE",
                SQL("").join(
                    SQL(", 0::float8 AS %s", SQL.identifier(sources.column_name(m)))
                    for sources in source_sets
                    for m in sources.columns
                ),
            )
        # one boolean column per source set: is the location under its sources
        in_sources = SQL(", ").join(
            SQL(
                "l.parent_path LIKE ANY(%s) AS %s",
                list(sources.patterns),
                _in_sources(sources),
            )
            for sources in source_sets
        )
        quant_sums, move_sums, columns = [], [], []
        for sources in source_sets:
            flag = _in_sources(sources)
            for measure in sources.measures:
                name = SQL.identifier(sources.column_name(measure))
                if measure == ON_HAND:
                    quant_sums.append(_sum("q.quantity", SQL("loc.%s", flag), name))
                elif measure == RESERVED:
                    quant_sums.append(
                        _sum("q.reserved_quantity", SQL("loc.%s", flag), name)
                    )
                else:
                    inside, outside = (
                        ("dst", "src") if measure == INCOMING else ("src", "dst")
                    )
                    move_sums.append(
                        _sum(
                            "m.product_qty",
                            SQL(
                                "%s.%s AND NOT COALESCE(%s.%s, FALSE)",
                                SQL.identifier(inside),
                                flag,
                                SQL.identifier(outside),
                                flag,
                            ),
                            name,
                        )
                    )
                origin = "moves" if measure in (INCOMING, OUTGOING) else "quants"
                columns.append(
                    SQL("COALESCE(%s.%s, 0) AS %s", SQL.identifier(origin), name, name)
                )
        has_products = product_ids is not None
        products = list(product_ids) if has_products else []
        if move_sums:
            moves = SQL(
                """, moves AS (
                    SELECT m.product_id, %(sums)s
                    FROM stock_move m
                    LEFT JOIN loc src ON src.id = m.location_id
                    LEFT JOIN loc dst ON dst.id = m.location_dest_id
                    WHERE m.state IN %(states)s
                      AND (src.id IS NOT NULL OR dst.id IS NOT NULL)
                      AND (NOT %(has_products)s OR m.product_id = ANY(%(products)s))
                    GROUP BY m.product_id
                )""",
                sums=SQL(", ").join(move_sums),
                states=OPEN_MOVE_STATES,
                has_products=has_products,
                products=products,
            )
            select = SQL(
                """SELECT COALESCE(quants.product_id, moves.product_id) AS product_id,
                       %s
                FROM quants FULL OUTER JOIN moves
                    ON moves.product_id = quants.product_id""",
                SQL(", ").join(columns),
            )
        else:
            moves = SQL()
            select = SQL(
                "SELECT quants.product_id, %s FROM quants", SQL(", ").join(columns)
            )
        return SQL(
            """
                WITH loc AS (
                    SELECT l.id, %(in_sources)s
                    FROM stock_location l
                    WHERE l.usage = 'internal' AND l.parent_path LIKE ANY(%(all)s)
                ), quants AS (
                    SELECT q.product_id, %(sums)s
                    FROM stock_quant q
                    JOIN loc ON loc.id = q.location_id
                    WHERE (NOT %(has_products)s OR q.product_id = ANY(%(products)s))
                    GROUP BY q.product_id
                )%(moves)s
                %(select)s
                """,
            in_sources=in_sources,
            all=all_patterns,
            sums=SQL(", ").join(quant_sums),
            has_products=has_products,
            products=products,
            moves=moves,
            select=select,
        )


def _in_sources(source_set):
    """Name of the boolean column of the ``loc`` CTE that says whether a
    location is under ``source_set``'s sources."""
    return SQL.identifier(f"in_sources{source_set.position}")


def _sum(column, condition, name):
    # float8 before summing: numeric sums are much slower and heavier to group
    return SQL(
        "SUM((%s)::float8) FILTER (WHERE %s) AS %s", SQL(column), condition, name
    )
