"""Where the numbers come from: the stock of every product over every set of
sources, grouped by one SQL statement.

The rules that have the same sources share a :class:`SourceSet`; the query
returns one row per product with one column per measure of each source set.
A rule's basis quantity (its *pool*) is read from those columns, in Python
by :func:`basis_quantities` and in SQL by :func:`basis_quantity_sql`, with
the very same float operations so that both give the same number.

What is promised already is counted where it ships from: a move by its
source location, a quotation by its warehouse, a channel order waiting in
the inbox by its backend's warehouses (the import picks one of them; each
of them counts it, so that none offers its units meanwhile).
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
#: confirmed demand leaving the sources that nothing reserves yet
DEMAND = "demand"
#: open quotations of channel orders (backends without auto-confirm, or
#: whose confirmation failed)
QUOTED = "quoted"
#: channel orders received in the inbox and not applied yet
BACKLOG = "backlog"
INCOMING = "incoming"
OUTGOING = "outgoing"
#: basis -> the measures it needs besides on hand, in the order of its
#: formula (everything but incoming is deducted)
BASIS_MEASURES = {
    FREE: [RESERVED, DEMAND, QUOTED, BACKLOG],
    FORECAST: [INCOMING, OUTGOING, QUOTED, BACKLOG],
}
#: measures read from the open moves and from the channel orders
MOVE_MEASURES = (INCOMING, OUTGOING, DEMAND)
ORDER_MEASURES = (QUOTED, BACKLOG)

#: move states that count in the forecast (not draft, done or cancelled)
OPEN_MOVE_STATES = ("waiting", "confirmed", "partially_available", "assigned")
#: states of a sales order that is still a quotation
QUOTATION_STATES = ("draft", "sent")
#: states of an inbound exchange whose order is not applied yet (in error: a
#: sale the channel made, waiting for review)
BACKLOG_STATES = ("received", "processing", "error")

#: ``work_mem`` of the statements that group or hash the whole catalog (the
#: stock query, the comparison of the levels with the new numbers). Their
#: hash tables hold one entry per product (a float8 sum per measure and set
#: of sources): far more than PostgreSQL's default of 4MB for 100,000
#: products, so they would spill to disk; 64MB keeps them in memory. Set for
#: these statements only, then restored.
CATALOG_WORK_MEM = "64MB"
#: no JIT for the stock query: it runs once per recompute, and the planner's
#: estimates of its small parts (inbox orders, quotations, open moves) are
#: far above what they read, which would make it compile for longer than the
#: query runs
STOCK_QUERY_JIT = "off"


def sources_overlap(patterns, other_patterns):
    """Whether two sets of ``parent_path LIKE`` patterns share a location:
    one source is the other or lies under it."""
    paths = [pattern.rstrip("%") for pattern in patterns]
    others = [pattern.rstrip("%") for pattern in other_patterns]
    return any(
        path.startswith(other) or other.startswith(path)
        for path in paths
        for other in others
    )


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
    lay_out(sets)
    for spec in specs:
        spec.source_set = by_patterns[spec.patterns]
    return sets


def lay_out(sets):
    """Place the measures of each source set as columns of the stock rows
    (column 0 is the product id)."""
    column = 1
    for source_set in sets:
        for measure in source_set.measures:
            source_set.columns[measure] = column
            column += 1


def basis_quantities(spec):
    """quantities(rows) -> the basis quantity of ``spec`` in each stock row
    (0 without row)."""
    columns = spec.source_set.columns
    on_hand = columns[ON_HAND]
    if spec.basis == FREE:
        reserved, demand, quoted, backlog = (columns[m] for m in BASIS_MEASURES[FREE])
        return lambda rows: [
            0.0
            if row is None
            else row[on_hand] - row[reserved] - row[demand] - row[quoted] - row[backlog]
            for row in rows
        ]
    if spec.basis == ON_HAND:
        return lambda rows: [0.0 if row is None else row[on_hand] for row in rows]
    incoming, outgoing, quoted, backlog = (columns[m] for m in BASIS_MEASURES[FORECAST])
    return lambda rows: [
        0.0
        if row is None
        else row[on_hand] + row[incoming] - row[outgoing] - row[quoted] - row[backlog]
        for row in rows
    ]


def basis_quantity_sql(spec, table):
    """SQL of the basis quantity of ``spec`` in a row of the stock table
    ``table`` (0 without row): the float operations of
    :func:`basis_quantities`, in the same order."""
    source_set = spec.source_set

    def column(measure):
        return SQL("%s.%s", table, SQL.identifier(source_set.column_name(measure)))

    quantity = column(ON_HAND)
    if spec.basis in BASIS_MEASURES:
        for measure in BASIS_MEASURES[spec.basis]:
            sign = "+" if measure == INCOMING else "-"
            quantity = SQL(f"%s {sign} %s", quantity, column(measure))
    return SQL("COALESCE(%s, 0)::float8", quantity)


@contextmanager
def planner_settings(cr, **settings):
    """PostgreSQL ``settings`` for the transaction, restored afterwards.

    Restored only when the block ends normally: after an error the
    transaction is aborted and rolled back (to a savepoint or entirely),
    which undoes local settings anyway, and a statement sent then would
    replace the error (a serialization failure the job runner retries) with
    "current transaction is aborted".
    """
    names = list(settings)
    # one round trip to read the current values, one to set the new ones
    cr.execute(
        SQL(
            "SELECT %s",
            SQL(", ").join(SQL("current_setting(%s)", name) for name in names),
        )
    )
    previous = cr.fetchone()
    _set_config(cr, settings)
    yield
    _set_config(cr, dict(zip(names, previous, strict=True)))


def _set_config(cr, settings):
    cr.execute(
        SQL(
            "SELECT %s",
            SQL(", ").join(
                SQL("set_config(%s, %s, TRUE)", name, value)
                for name, value in settings.items()
            ),
        )
    )


class StockQuery:
    """The engine's stock query: :meth:`stock_query` is the hook to change
    where the numbers come from."""

    def read_stock(self, source_sets, product_ids=None):
        """Stock of each product over each source set: the rows of
        :meth:`stock_query`, ``{product_id: row}``."""
        with planner_settings(self.cr, work_mem=CATALOG_WORK_MEM, jit=STOCK_QUERY_JIT):
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
            product over the source set, in the product's unit:

            - ``on_hand`` and ``reserved`` sum the quants of the internal
              locations under the sources;
            - ``incoming`` and ``outgoing`` the moves not done that enter or
              leave them;
            - ``demand`` what the moves not done that leave them still need
              beyond what they, and the open moves that feed them there (the
              picking of a multi-step delivery), reserve;
            - ``quoted`` the open quotations of channel orders whose
              warehouse overlaps the sources;
            - ``backlog`` the channel orders received and not applied yet
              (:mod:`distribution.backlog.line`) whose backend's warehouses
              overlap the sources.

            Products with none of these are left out. The engine reads it
            whole or keeps it in a temporary table.
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
        has_products = product_ids is not None
        restrict = {
            "has_products": has_products,
            "products": list(product_ids) if has_products else [],
        }
        measures = {m for sources in source_sets for m in sources.measures}
        parts = [("quants", _quants_part(source_sets, restrict))]
        if measures.intersection(MOVE_MEASURES):
            parts.append(("moves", _moves_part(source_sets, restrict)))
        if measures.intersection(ORDER_MEASURES):
            parts.append(("orders", _orders_part(source_sets, restrict)))
        ctes = SQL(", ").join(
            SQL("%s AS (%s)", SQL.identifier(name), part) for name, part in parts
        )
        columns = []
        for sources in source_sets:
            for measure in sources.measures:
                name = SQL.identifier(sources.column_name(measure))
                origin = SQL.identifier(_part_of(measure))
                columns.append(SQL("COALESCE(%s.%s, 0) AS %s", origin, name, name))
        product_id = SQL.identifier("quants", "product_id")
        joined = SQL("quants")
        for name, _part in parts[1:]:
            other = SQL.identifier(name, "product_id")
            joined = SQL(
                "%s FULL OUTER JOIN %s ON %s = %s",
                joined,
                SQL.identifier(name),
                other,
                product_id,
            )
            product_id = SQL("COALESCE(%s, %s)", product_id, other)
        return SQL(
            """
            WITH loc AS (
                SELECT l.id, %(in_sources)s
                FROM stock_location l
                WHERE l.usage = 'internal' AND l.parent_path LIKE ANY(%(all)s)
            ), %(ctes)s
            SELECT %(product_id)s AS product_id, %(columns)s
            FROM %(joined)s
            """,
            in_sources=_location_flags(source_sets),
            all=all_patterns,
            ctes=ctes,
            product_id=product_id,
            columns=SQL(", ").join(columns),
            joined=joined,
        )


def _part_of(measure):
    """The part of the stock query that sums ``measure``."""
    if measure in MOVE_MEASURES:
        return "moves"
    if measure in ORDER_MEASURES:
        return "orders"
    return "quants"


def _in_sources(source_set):
    """Name of the boolean column that says whether a location (or a
    warehouse, a backend) is under ``source_set``'s sources."""
    return SQL.identifier(f"in_sources{source_set.position}")


def _location_flags(source_sets):
    """The ``in_sources`` columns of the ``loc`` CTE: is the location under
    each source set."""
    return SQL(", ").join(
        SQL(
            "l.parent_path LIKE ANY(%s) AS %s",
            list(sources.patterns),
            _in_sources(sources),
        )
        for sources in source_sets
    )


def _sum(column, condition, name):
    # float8 before summing: numeric sums are much slower and heavier to group
    return SQL("SUM((%s)::float8) FILTER (WHERE %s) AS %s", column, condition, name)


def _product_filter(column, restrict):
    return SQL(
        "(NOT %s OR %s = ANY(%s))",
        restrict["has_products"],
        column,
        restrict["products"],
    )


def _quants_part(source_sets, restrict):
    """On hand and reserved of each product, per source set."""
    sums = []
    for sources in source_sets:
        flag = SQL("loc.%s", _in_sources(sources))
        for measure, column in ((ON_HAND, "quantity"), (RESERVED, "reserved_quantity")):
            if measure in sources.measures:
                name = SQL.identifier(sources.column_name(measure))
                sums.append(_sum(SQL.identifier("q", column), flag, name))
    return SQL(
        """
        SELECT q.product_id, %s
        FROM stock_quant q
        JOIN loc ON loc.id = q.location_id
        WHERE %s
        GROUP BY q.product_id
        """,
        SQL(", ").join(sums),
        _product_filter(SQL("q.product_id"), restrict),
    )


def _moves_part(source_sets, restrict):
    """Incoming, outgoing and unreserved demand of each product, per source
    set, from the open moves that enter or leave the locations of any set.

    Incoming and outgoing: a move enters a set when it goes from outside to
    inside, leaves it when it goes from inside to outside.

    Demand: what the open moves that take stock out of a set still need
    beyond what is reserved for them. A move takes stock out when it starts
    inside and its final destination (``location_final_id``, else its
    destination) is outside, and no open move carries its goods further (a
    picking to the output location is the demand until its delivery exists;
    then the delivery is). What it reserves is its ``quantity``, in its unit
    (``product_qty / product_uom_qty`` converts it to the product's unit);
    the open moves upstream that feed it (``move_orig_ids``, through open
    moves) reserve for it too when they start inside the set, so that a
    multi-step delivery is counted once.
    """
    flags, move_sums, reserved_sums = [], [], []
    for sources in source_sets:
        flag = _in_sources(sources)
        src, dst, final = (
            SQL.identifier(f"{end}{sources.position}")
            for end in ("src", "dst", "final")
        )
        for alias, column in (("src", src), ("dst", dst), ("fin", final)):
            flags.append(
                SQL("COALESCE(%s.%s, FALSE) AS %s", SQL.identifier(alias), flag, column)
            )
        for measure in sources.measures:
            name = SQL.identifier(sources.column_name(measure))
            if measure == INCOMING:
                enters = SQL("m.%s AND NOT m.%s", dst, src)
                move_sums.append(_sum(SQL("m.product_qty"), enters, name))
            elif measure == OUTGOING:
                leaves = SQL("m.%s AND NOT m.%s", src, dst)
                move_sums.append(_sum(SQL("m.product_qty"), leaves, name))
            elif measure == DEMAND:
                reserved = SQL.identifier(f"reserved{sources.position}")
                reserved_sums.append(
                    SQL(
                        "SUM(feeder.reserved) FILTER (WHERE feeder.%s) AS %s",
                        src,
                        reserved,
                    )
                )
                unreserved = SQL(
                    "GREATEST(0, m.product_qty - COALESCE(chain.%s, 0))", reserved
                )
                takes_out = SQL("m.%s AND NOT m.%s AND ahead.id IS NULL", src, final)
                move_sums.append(_sum(unreserved, takes_out, name))
    if reserved_sums:
        chain = SQL(
            """
            , feeders(move_id, feeder_id) AS (
                SELECT id, id FROM open_moves
                UNION
                SELECT feeders.move_id, rel.move_orig_id
                FROM feeders
                JOIN stock_move_move_rel rel ON rel.move_dest_id = feeders.feeder_id
                JOIN open_moves upstream ON upstream.id = rel.move_orig_id
            ), chain AS (
                SELECT feeders.move_id, %s
                FROM feeders
                JOIN open_moves feeder ON feeder.id = feeders.feeder_id
                GROUP BY feeders.move_id
            ), ahead AS (
                SELECT DISTINCT rel.move_orig_id AS id
                FROM stock_move_move_rel rel
                JOIN open_moves further ON further.id = rel.move_dest_id
            )
            """,
            SQL(", ").join(reserved_sums),
        )
        join_chain = SQL(
            """
            LEFT JOIN chain ON chain.move_id = m.id
            LEFT JOIN ahead ON ahead.id = m.id
            """
        )
    else:
        chain = join_chain = SQL()
    return SQL(
        """
        WITH RECURSIVE open_moves AS (
            SELECT m.id, m.product_id, m.product_qty::float8 AS product_qty,
                   CASE WHEN m.product_uom_qty > 0
                        THEN (m.quantity * m.product_qty / m.product_uom_qty)::float8
                        ELSE 0 END AS reserved,
                   %(flags)s
            FROM stock_move m
            LEFT JOIN loc src ON src.id = m.location_id
            LEFT JOIN loc dst ON dst.id = m.location_dest_id
            LEFT JOIN loc fin
                ON fin.id = COALESCE(m.location_final_id, m.location_dest_id)
            WHERE m.state IN %(states)s
              AND (src.id IS NOT NULL OR dst.id IS NOT NULL)
              AND %(products)s
        )%(chain)s
        SELECT m.product_id, %(sums)s
        FROM open_moves m
        %(join_chain)s
        GROUP BY m.product_id
        """,
        flags=SQL(", ").join(flags),
        states=OPEN_MOVE_STATES,
        products=_product_filter(SQL("m.product_id"), restrict),
        chain=chain,
        join_chain=join_chain,
        sums=SQL(", ").join(move_sums),
    )


def _warehouse_flags(source_sets):
    """SQL of ``wh``: each warehouse with one ``in_sources`` column per
    source set: does its view location overlap the sources (lie under one,
    or hold one)."""
    flags = SQL(", ").join(
        SQL(
            """(vl.parent_path LIKE ANY(%(patterns)s)
                OR EXISTS (SELECT 1 FROM unnest(%(patterns)s::varchar[]) AS p(pattern)
                           WHERE p.pattern LIKE vl.parent_path || '%%')) AS %(flag)s""",
            patterns=list(sources.patterns),
            flag=_in_sources(sources),
        )
        for sources in source_sets
    )
    return SQL(
        """
        SELECT w.id, w.company_id, %s
        FROM stock_warehouse w
        JOIN stock_location vl ON vl.id = w.view_location_id
        """,
        flags,
    )


def _orders_part(source_sets, restrict):
    """Channel quotations and the inbound backlog of each product, per
    source set.

    A quotation counts where its warehouse is. A channel order in the inbox
    counts where its backend's served warehouses are (all the warehouses of
    its company when it lists none); it stops counting once its exchange is
    done or ignored, or once the order exists in Odoo (bound), where the
    quotation or the delivery counts it.
    """
    sums, flags, any_flags = [], [], []
    for sources in source_sets:
        flag = _in_sources(sources)
        flags.append(SQL("wh.%s", flag))
        any_flags.append(SQL("bool_or(wh.%s) AS %s", flag, flag))
        for measure in sources.measures:
            if measure in ORDER_MEASURES:
                sums.append(
                    _sum(
                        SQL("o.qty"),
                        SQL("o.kind = %s AND o.%s", measure, flag),
                        SQL.identifier(sources.column_name(measure)),
                    )
                )
    return SQL(
        """
        WITH wh AS (%(warehouses)s),
        backlog AS (
            SELECT line.backend_id, line.product_id, line.quantity
            FROM distribution_backlog_line line
            JOIN distribution_exchange exchange ON exchange.id = line.exchange_id
            WHERE exchange.state IN %(backlog_states)s
              AND line.product_id IS NOT NULL
              AND %(backlog_products)s
              AND NOT EXISTS (
                  SELECT 1 FROM distribution_binding binding
                  WHERE binding.backend_id = line.backend_id
                    AND binding.res_model = 'sale.order'
                    AND binding.external_id = line.order_ref)
        ),
        served AS (
            SELECT bw.backend_id, bw.warehouse_id
            FROM distribution_backend_warehouse bw
            WHERE bw.backend_id IN (SELECT backend_id FROM backlog)
            UNION
            SELECT b.id, w.id
            FROM distribution_backend b
            JOIN stock_warehouse w ON w.company_id = b.company_id
            WHERE b.id IN (SELECT backend_id FROM backlog)
              AND NOT EXISTS (SELECT 1 FROM distribution_backend_warehouse bw
                              WHERE bw.backend_id = b.id)
        ),
        backend_wh AS (
            SELECT served.backend_id, %(any_flags)s
            FROM served
            JOIN wh ON wh.id = served.warehouse_id
            GROUP BY served.backend_id
        )
        SELECT o.product_id, %(sums)s
        FROM (
            SELECT %(quoted)s AS kind, line.product_id,
                   line.product_uom_qty * line_uom.factor / product_uom.factor AS qty,
                   %(flags)s
            FROM sale_order so
            JOIN sale_order_line line ON line.order_id = so.id
            JOIN wh ON wh.id = so.warehouse_id
            JOIN product_product pp ON pp.id = line.product_id
            JOIN product_template pt ON pt.id = pp.product_tmpl_id
            JOIN uom_uom line_uom ON line_uom.id = line.product_uom_id
            JOIN uom_uom product_uom ON product_uom.id = pt.uom_id
            WHERE so.state IN %(quotation_states)s
              AND so.distribution_backend_id IS NOT NULL
              AND %(sale_products)s
            UNION ALL
            SELECT %(backlog)s, backlog.product_id, backlog.quantity, %(flags)s
            FROM backlog
            JOIN backend_wh wh ON wh.backend_id = backlog.backend_id
        ) AS o
        GROUP BY o.product_id
        """,
        warehouses=_warehouse_flags(source_sets),
        any_flags=SQL(", ").join(any_flags),
        sums=SQL(", ").join(sums),
        quoted=QUOTED,
        backlog=BACKLOG,
        flags=SQL(", ").join(flags),
        quotation_states=QUOTATION_STATES,
        backlog_states=BACKLOG_STATES,
        sale_products=_product_filter(SQL("line.product_id"), restrict),
        backlog_products=_product_filter(SQL("line.product_id"), restrict),
    )
