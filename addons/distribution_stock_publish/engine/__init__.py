"""The stock publishing engine: set-based reads, the rule stack in Python,
bulk writes of the levels that changed.

One module per stage:

- :mod:`.rule_specs`: the publish rules read once per run (``RuleSpec``);
- :mod:`.query`: the stock of every product over every set of sources, one
  grouped SQL statement (the ``stock_query`` hook), and the basis quantity
  read from its rows;
- :mod:`.rules`: the rule stack as pure functions (no Odoo);
- :mod:`.evaluation`: the rule stack applied to a catalog, once per rule and
  distinct input, and the explanation of each result;
- :mod:`.recompute`: level creation, the recompute run (the comparison in
  SQL) and the bulk writes;
- :mod:`.preview`: one product on every channel, for the rule form.

The class is plain Python. To change where the numbers come from (exclude
expiring lots, add a 3PL's snapshot...), override :meth:`stock_query` in a
subclass and return it from ``distribution.stock.level._stock_publish_engine``.
"""

from .evaluation import Partition, RuleEvaluation
from .preview import Preview
from .query import FORECAST, FREE, ON_HAND, OPEN_MOVE_STATES, SourceSet, StockQuery
from .recompute import COMPUTED_FIELDS, LevelRecompute
from .rule_specs import RuleLoading, RuleSpec
from .rules import (
    PARTITION,
    SHARED,
    RuleParams,
    Safety,
    apply_partition,
    apply_rules,
    partition_shares,
)

__all__ = [
    "COMPUTED_FIELDS",
    "FORECAST",
    "FREE",
    "ON_HAND",
    "OPEN_MOVE_STATES",
    "PARTITION",
    "SHARED",
    "Partition",
    "RuleParams",
    "RuleSpec",
    "Safety",
    "SourceSet",
    "StockPublishEngine",
    "apply_partition",
    "apply_rules",
    "partition_shares",
]


class StockPublishEngine(
    RuleLoading, StockQuery, RuleEvaluation, LevelRecompute, Preview
):
    """Computes the stock levels of every channel. ``env`` is used as
    superuser: the engine reads stock across the rules' companies."""

    def __init__(self, env):
        self.env = env(su=True)
        self.cr = env.cr
        # caches of one engine, which serves one run: category ancestors and
        # the category overrides resolved per spec
        self._category_ancestors = None
        self._resolved_categories = {}
        # JSON writers of the pool step, by rule id
        self._pool_step_writers = {}
