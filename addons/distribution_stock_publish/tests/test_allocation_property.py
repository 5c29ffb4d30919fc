"""Properties of the allocation over random pools, shares, safety stocks,
floors, caps, thresholds and packs (pure functions, no database)."""

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from odoo.tests.common import BaseCase

from ..engine.rules import RuleParams, apply_partition, apply_rules, partition_shares

TOLERANCE = 1e-6

pools = st.one_of(
    st.integers(min_value=-50, max_value=100000).map(float),
    st.floats(min_value=-50, max_value=100000, allow_nan=False, allow_infinity=False),
)


@st.composite
def rules(draw, mode, with_floor=True):
    return RuleParams(
        safety_fixed=draw(st.sampled_from([0, 0, 1, 5, 40])),
        safety_percent=draw(st.sampled_from([0, 0, 5, 12.5, 50])),
        allocation_mode=mode,
        allocation_percent=draw(
            st.one_of(
                st.integers(min_value=0, max_value=100).map(float),
                st.floats(min_value=0, max_value=100, allow_nan=False),
            )
        ),
        priority=draw(st.integers(min_value=0, max_value=5)),
        floor_qty=draw(st.sampled_from([0, 0, 1, 3, 25])) if with_floor else 0,
        cap_qty=draw(st.sampled_from([0, 0, 1, 7, 100, 5000])),
        out_of_stock_threshold=draw(st.sampled_from([0, 0, 1, 2.5, 10])),
        pack_size=draw(st.sampled_from([1, 1, 2, 6, 12])),
        key=draw(st.integers(min_value=1, max_value=10**6)),
    )


def available_of(pool, rule):
    pool = max(0.0, pool)
    return max(0.0, pool - rule.safety_fixed - pool * rule.safety_percent / 100.0)


def check_limits(case, qty, rule, pool):
    case.assertEqual(qty, int(qty))
    case.assertGreaterEqual(qty, 0)
    case.assertLessEqual(qty, available_of(pool, rule) + TOLERANCE)
    if rule.cap_qty:
        case.assertLessEqual(qty, rule.cap_qty)
    case.assertEqual(qty % rule.pack_size, 0)
    case.assertTrue(qty == 0 or qty >= rule.out_of_stock_threshold)


PROPERTY = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


class TestAllocationProperties(BaseCase):
    @PROPERTY
    @given(pool=pools, members=st.lists(rules("partition"), min_size=1, max_size=6))
    def test_partition_never_allocates_more_than_the_pool(self, pool, members):
        results = apply_partition(pool, [(rule, None) for rule in members])
        quantities = [qty for qty, _steps in results]
        self.assertLessEqual(sum(quantities), max(0.0, pool) + TOLERANCE)
        for qty, rule in zip(quantities, members, strict=True):
            check_limits(self, qty, rule, pool)

    @PROPERTY
    @given(
        pool=pools,
        members=st.lists(rules("partition", with_floor=False), min_size=1, max_size=6),
    )
    def test_partition_without_floors_respects_the_shares(self, pool, members):
        results = apply_partition(pool, [(rule, None) for rule in members])
        effective, total = partition_shares([r.allocation_percent for r in members])
        whole_pool = math.floor(max(0.0, pool) + 1e-9)
        quantities = [qty for qty, _steps in results]
        # together: never more than the shares' part of the pool
        self.assertLessEqual(sum(quantities), whole_pool * total / 100 + TOLERANCE)
        for qty, rule, share in zip(quantities, members, effective, strict=True):
            # at most the exact share rounded up (rounding leftovers go one
            # unit at a time by priority); 1e-9 is the rules' float tolerance
            exact = math.floor(available_of(pool, rule) + 1e-9) * share / 100
            self.assertLessEqual(qty, math.ceil(exact - 1e-9))

    @PROPERTY
    @given(pool=pools, rule=rules("shared", with_floor=False))
    def test_shared_pool_never_exceeds_its_percentage(self, pool, rule):
        qty, steps = apply_rules(pool, rule)
        self.assertLessEqual(
            qty, max(0.0, pool) * rule.allocation_percent / 100 + TOLERANCE
        )
        self.assertLessEqual(
            qty, available_of(pool, rule) * rule.allocation_percent / 100 + TOLERANCE
        )
        check_limits(self, qty, rule, pool)
        self.assertEqual(steps[-1]["qty"], qty)

    @PROPERTY
    @given(pool=pools, rule=rules("shared"))
    def test_shared_floor_stays_within_the_available_stock(self, pool, rule):
        qty, _steps = apply_rules(pool, rule)
        share = available_of(pool, rule) * rule.allocation_percent / 100
        self.assertLessEqual(qty, max(share, rule.floor_qty) + TOLERANCE)
        check_limits(self, qty, rule, pool)
