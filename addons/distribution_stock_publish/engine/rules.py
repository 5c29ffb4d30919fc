"""The rule stack of a publish rule, as pure functions.

Nothing here touches Odoo: the engine, the rule form's live preview and the
property-based tests run these very functions. Each function returns the
quantity and the ordered steps that led to it; the steps are stored on the
stock level as its explanation.

Steps, in this order, for every channel (a step that is not configured is
left out, except pool and allocation):

1. ``pool``: the basis quantity (free, on hand or forecast) summed over the
   rule's sources. A negative pool counts as 0.
2. ``safety``: ``safety = fixed units + percent % of the pool`` (the
   product's override, else the nearest category override, else the rule);
   ``available = max(0, pool - safety)``.
3. ``allocation``:

   * shared pool: ``floor(available * percent / 100)``. Each shared channel
     sees its percentage of what it may sell; several shared channels may
     offer the same units.
   * hard partition: see :func:`apply_partition`; the channels that split one
     pool never receive more than the pool together.

4. ``floor``: shared: at least ``floor_qty``, but never more than
   ``available``; partition: topped up to ``floor_qty`` from what the
   partition left unallocated, by priority.
5. ``cap``: at most ``cap_qty`` (0: no cap).
6. ``threshold``: below ``out_of_stock_threshold``, publish 0.
7. ``pack``: rounded down to a multiple of ``pack_size``.
8. ``stale``: while the channel is stale and its policy reduces, only
   ``stale_percent`` % of the quantity, rounded down to whole packs.

Published quantities are whole units of the product's unit of measure.
Every step after the safety stock can only lower the quantity, except the
floor, which is bounded by what the channel may sell; so a channel is never
offered more than its available stock, and partitioned channels never more
than their pool together.
"""

import math
from dataclasses import dataclass

#: tolerance of the float arithmetic (quantities are stored as floats)
EPSILON = 1e-9

SHARED = "shared"
PARTITION = "partition"


@dataclass(frozen=True)
class RuleParams:
    """What a publish rule says, as plain values."""

    safety_fixed: float = 0.0
    safety_percent: float = 0.0
    allocation_mode: str = SHARED
    allocation_percent: float = 100.0
    #: partitions: the remainder goes to the lowest number first
    priority: int = 10
    floor_qty: float = 0.0
    #: 0 means no cap
    cap_qty: float = 0.0
    out_of_stock_threshold: float = 0.0
    pack_size: int = 1
    #: tie-breaker between equal priorities (the rule's id)
    key: int = 0
    #: share (percent) still published while the channel is stale; None:
    #: the channel is not stale, or its policy only alerts
    stale_percent: float = None


@dataclass(frozen=True)
class Safety:
    """The safety stock that applies to one product on one channel."""

    fixed: float = 0.0
    percent: float = 0.0
    #: where it comes from: ``rule``, ``product`` or ``category``
    source: str = "rule"
    #: id of the product or category of an override
    source_id: int = 0


def whole_units(qty):
    """``qty`` rounded down to whole units, forgiving float noise."""
    return max(0, math.floor(qty + EPSILON))


def number(qty):
    """``qty`` as a JSON-friendly number: an int when it is whole."""
    if qty == int(qty):
        return int(qty)
    return round(qty, 6)


def json_number(qty):
    """``qty`` as JSON text, as ``json.dumps(number(qty))`` writes it."""
    if qty == int(qty):
        return str(int(qty))
    return repr(round(qty, 6))


def rule_safety(rule):
    return Safety(rule.safety_fixed, rule.safety_percent, "rule", 0)


def _pool(pool):
    pool = max(0.0, pool or 0.0)
    return pool, {"step": "pool", "qty": number(pool)}


def _safety(pool, safety):
    """(available, step or None)."""
    if not (safety.fixed or safety.percent):
        return pool, None
    units = max(0.0, safety.fixed) + pool * max(0.0, safety.percent) / 100.0
    available = max(0.0, pool - units)
    step = {
        "step": "safety",
        "qty": number(available),
        "units": number(round(units, 6)),
        "fixed": number(safety.fixed),
        "percent": number(safety.percent),
        "source": safety.source,
    }
    if safety.source_id:
        step["source_id"] = safety.source_id
    return available, step


def _limits(qty, rule):
    """Cap, out-of-stock threshold and pack rounding: (qty, steps)."""
    steps = []
    if rule.cap_qty > 0:
        qty = min(qty, whole_units(rule.cap_qty))
        steps.append({"step": "cap", "qty": qty, "cap": number(rule.cap_qty)})
    if rule.out_of_stock_threshold > 0:
        if qty < rule.out_of_stock_threshold:
            qty = 0
        steps.append(
            {
                "step": "threshold",
                "qty": qty,
                "threshold": number(rule.out_of_stock_threshold),
            }
        )
    if rule.pack_size > 1:
        qty = qty // rule.pack_size * rule.pack_size
        steps.append({"step": "pack", "qty": qty, "pack_size": rule.pack_size})
    qty, stale_step = _stale(qty, rule)
    if stale_step:
        steps.append(stale_step)
    return qty, steps


def _stale(qty, rule):
    """A stale channel (no sign of life for longer than its window) is
    offered only ``stale_percent`` % of its quantity, in whole packs, until
    it recovers: (qty, step or None)."""
    if rule.stale_percent is None:
        return qty, None
    percent = min(100.0, max(0.0, rule.stale_percent))
    reduced = whole_units(qty * percent / 100.0)
    reduced = reduced // rule.pack_size * rule.pack_size
    return reduced, {"step": "stale", "qty": reduced, "percent": number(percent)}


def apply_rules(pool, rule, safety=None):
    """The whole stack for one channel: ``(quantity, steps)``.

    :param pool: basis quantity over the rule's sources
    :param rule: :class:`RuleParams`
    :param safety: :class:`Safety` of an override, else the rule's own

    A rule in partition mode is computed as the only member of its
    partition; use :func:`apply_partition` for several channels.
    """
    if rule.allocation_mode == PARTITION:
        return apply_partition(pool, [(rule, safety)])[0]
    pool, pool_step = _pool(pool)
    steps = [pool_step]
    available, safety_step = _safety(pool, safety or rule_safety(rule))
    if safety_step:
        steps.append(safety_step)
    qty = whole_units(available * rule.allocation_percent / 100.0)
    steps.append(
        {
            "step": "allocation",
            "qty": qty,
            "mode": SHARED,
            "percent": number(rule.allocation_percent),
        }
    )
    if rule.floor_qty > 0:
        qty = max(qty, min(whole_units(rule.floor_qty), whole_units(available)))
        steps.append({"step": "floor", "qty": qty, "floor": number(rule.floor_qty)})
    qty, limit_steps = _limits(qty, rule)
    return qty, tuple(steps + limit_steps)


def partition_shares(shares):
    """Effective shares (percent): scaled down when they sum over 100."""
    shares = [max(0.0, share) for share in shares]
    total = sum(shares)
    scale = 100.0 / total if total > 100.0 else 1.0
    return [share * scale for share in shares], min(total, 100.0)


def apply_partition(pool, members):
    """Split one pool between the channels of a hard partition.

    :param members: list of ``(RuleParams, Safety or None)``, one per channel
    :return: list of ``(quantity, steps)``, in the order of ``members``

    Semantics, with ``P`` the pool in whole units:

    1. the shares (``allocation_percent``) are scaled down proportionally
       when they sum over 100 %, so that together they never exceed the pool;
       when they sum to less, the rest of the pool is not allocated;
    2. each channel gets ``floor(available * share / 100)``, where
       ``available`` is the pool after the channel's own safety stock;
    3. the remainder, ``floor(P * min(100, sum of shares) / 100)`` minus what
       step 2 gave, goes one unit at a time to the channels that lost a
       fraction to rounding, by priority (lowest number first, then rule
       id), never beyond a channel's available stock;
    4. floors are then topped up, by priority, from what the partition left
       of the pool (``P`` minus everything given), never beyond a channel's
       available stock;
    5. cap, threshold and pack only lower each channel's number.

    So the channels of a partition never receive more than ``P`` together.
    """
    count = len(members)
    if not count:
        return []
    pool, pool_step = _pool(pool)
    pool_units = whole_units(pool)
    availables, safety_steps = [], []
    for rule, safety in members:
        available, step = _safety(pool, safety or rule_safety(rule))
        availables.append(whole_units(available))
        safety_steps.append(step)
    shares = [member[0].allocation_percent for member in members]
    effective, total = partition_shares(shares)
    target = whole_units(pool_units * total / 100.0)
    exact = [availables[i] * effective[i] / 100.0 for i in range(count)]
    given = [min(whole_units(exact[i]), availables[i]) for i in range(count)]
    order = sorted(
        range(count), key=lambda i: (members[i][0].priority, members[i][0].key, i)
    )
    rounded = [0] * count
    remainder = target - sum(given)
    for i in order:
        if remainder <= 0:
            break
        if exact[i] - given[i] > EPSILON and given[i] < availables[i]:
            given[i] += 1
            rounded[i] = 1
            remainder -= 1
    # float noise must never break the promise: take back from the last ones
    for i in reversed(order):
        while sum(given) > target and given[i] > 0:
            given[i] -= 1
    allocated = list(given)
    left = pool_units - sum(given)
    for i in order:
        want = whole_units(members[i][0].floor_qty) - given[i]
        extra = min(want, left, availables[i] - given[i])
        if extra > 0:
            given[i] += extra
            left -= extra
    results = []
    for i, (rule, _given_safety) in enumerate(members):
        steps = [pool_step]
        if safety_steps[i]:
            steps.append(safety_steps[i])
        steps.append(
            {
                "step": "allocation",
                "qty": allocated[i],
                "mode": PARTITION,
                "percent": number(shares[i]),
                "share": number(round(effective[i], 6)),
                "rounding": rounded[i],
                "channels": count,
            }
        )
        if rule.floor_qty > 0:
            steps.append(
                {"step": "floor", "qty": given[i], "floor": number(rule.floor_qty)}
            )
        qty, limit_steps = _limits(given[i], rule)
        results.append((qty, tuple(steps + limit_steps)))
    return results
