"""The publish rules as the engine reads them: one :class:`RuleSpec` per
rule, read once per run, so that no record is read per product."""

from dataclasses import dataclass, field

from .query import SourceSet
from .rules import PARTITION, RuleParams, Safety


@dataclass
class RuleSpec:
    """A publish rule as the engine needs it, read once per run."""

    id: int
    backend_id: int
    company_id: int
    basis: str
    #: ``parent_path LIKE`` patterns of the source locations, sorted
    patterns: tuple
    params: RuleParams
    shadow_mode: bool = False
    #: names of the sources, for the explanation
    sources: str = ""
    #: product id -> Safety of a product override
    product_safety: dict = field(default_factory=dict)
    #: category id -> Safety of a category override
    category_safety: dict = field(default_factory=dict)
    #: the rule's sources in the stock rows (set by ``query.source_sets``)
    source_set: SourceSet = None
    #: the rule's own safety stock
    default_safety: Safety = None

    def __post_init__(self):
        self.default_safety = Safety(
            self.params.safety_fixed, self.params.safety_percent, "rule", 0
        )

    @property
    def partition_key(self):
        """Partitioned channels split one pool when they have the same
        company, basis and sources."""
        if self.params.allocation_mode != PARTITION:
            return None
        return (self.company_id, self.basis, self.patterns)


class RuleLoading:
    """Reading publish rule records into :class:`RuleSpec`."""

    def load_rules(self, rules=None):
        """Specs of ``rules`` (default: every active publish rule)."""
        if rules is None:
            rules = self.env["distribution.publish.rule"].search(
                [("active", "=", True)]
            )
        return [self.rule_spec(rule) for rule in rules]

    def rule_spec(self, rule, rule_id=None):
        """The spec of one rule record; works on a form's unsaved record."""
        locations = rule.warehouse_ids.view_location_id | rule.location_ids
        names = rule.warehouse_ids.mapped("name") + rule.location_ids.mapped(
            "complete_name"
        )
        if not locations:
            warehouses = rule.backend_id.warehouse_ids
            locations = warehouses.view_location_id
            names = warehouses.mapped("name")
        patterns = tuple(
            sorted({f"{path}%" for path in locations.mapped("parent_path") if path})
        )
        product_safety, category_safety = {}, {}
        for override in rule.override_ids:
            if override.product_id:
                by_key, source, key = product_safety, "product", override.product_id.id
            elif override.categ_id:
                by_key, source, key = category_safety, "category", override.categ_id.id
            else:
                continue
            by_key[key] = Safety(
                override.safety_fixed, override.safety_percent, source, key
            )
        return RuleSpec(
            id=rule_id if rule_id is not None else rule.id,
            backend_id=rule.backend_id.id,
            company_id=rule.company_id.id,
            basis=rule.basis,
            patterns=patterns,
            params=RuleParams(
                safety_fixed=rule.safety_fixed,
                safety_percent=rule.safety_percent,
                allocation_mode=rule.allocation_mode,
                allocation_percent=rule.allocation_percent,
                priority=rule.priority,
                floor_qty=rule.floor_qty,
                cap_qty=rule.cap_qty,
                out_of_stock_threshold=rule.out_of_stock_threshold,
                pack_size=max(1, rule.pack_size),
                key=rule_id if rule_id is not None else rule.id,
                stale_percent=rule.backend_id._stale_reduce_percent(),
            ),
            shadow_mode=rule.shadow_mode,
            sources=", ".join(names),
            product_safety=product_safety,
            category_safety=category_safety,
        )
