"""The rule stack as pure functions: each step alone, then stacked."""

from odoo.tests.common import BaseCase

from ..engine.rules import RuleParams, Safety, apply_partition, apply_rules


def steps_of(result):
    return [(step["step"], step["qty"]) for step in result[1]]


class TestRuleSteps(BaseCase):
    def test_pool_only(self):
        self.assertEqual(
            steps_of(apply_rules(37.0, RuleParams())),
            [("pool", 37), ("allocation", 37)],
        )

    def test_negative_pool_counts_as_zero(self):
        self.assertEqual(apply_rules(-5.0, RuleParams())[0], 0)

    def test_fractional_pool_publishes_whole_units(self):
        self.assertEqual(apply_rules(7.9, RuleParams())[0], 7)

    def test_safety_fixed(self):
        qty, steps = apply_rules(100.0, RuleParams(safety_fixed=8))
        self.assertEqual(qty, 92)
        self.assertEqual(steps[1]["units"], 8)

    def test_safety_percent_of_the_pool(self):
        self.assertEqual(apply_rules(200.0, RuleParams(safety_percent=10))[0], 180)

    def test_safety_fixed_and_percent_add_up(self):
        self.assertEqual(
            apply_rules(200.0, RuleParams(safety_fixed=5, safety_percent=10))[0], 175
        )

    def test_safety_never_goes_below_zero(self):
        self.assertEqual(apply_rules(3.0, RuleParams(safety_fixed=10))[0], 0)

    def test_override_replaces_the_rule_safety(self):
        rule = RuleParams(safety_fixed=50)
        qty, steps = apply_rules(100.0, rule, Safety(2, 0, "product", 7))
        self.assertEqual(qty, 98)
        self.assertEqual((steps[1]["source"], steps[1]["source_id"]), ("product", 7))

    def test_shared_percent_rounds_down(self):
        self.assertEqual(apply_rules(99.0, RuleParams(allocation_percent=50))[0], 49)

    def test_floor_raises_a_small_share(self):
        rule = RuleParams(allocation_percent=10, floor_qty=5)
        self.assertEqual(apply_rules(20.0, rule)[0], 5)

    def test_floor_never_beyond_available(self):
        rule = RuleParams(allocation_percent=10, floor_qty=5, safety_fixed=17)
        self.assertEqual(apply_rules(20.0, rule)[0], 3)

    def test_cap(self):
        self.assertEqual(apply_rules(500.0, RuleParams(cap_qty=40))[0], 40)

    def test_cap_zero_means_no_cap(self):
        self.assertEqual(apply_rules(500.0, RuleParams(cap_qty=0))[0], 500)

    def test_threshold(self):
        rule = RuleParams(out_of_stock_threshold=5)
        self.assertEqual(apply_rules(4.0, rule)[0], 0)
        self.assertEqual(apply_rules(5.0, rule)[0], 5)

    def test_pack_rounds_down(self):
        self.assertEqual(apply_rules(23.0, RuleParams(pack_size=6))[0], 18)

    def test_stacked_in_order(self):
        rule = RuleParams(
            safety_fixed=3,
            safety_percent=10,
            allocation_percent=50,
            floor_qty=2,
            cap_qty=40,
            out_of_stock_threshold=4,
            pack_size=6,
        )
        # pool 130 -> safety 3 + 13 -> 114 -> 50 % -> 57 -> floor 2 -> 57
        # -> cap 40 -> threshold ok -> packs of 6 -> 36
        self.assertEqual(
            steps_of(apply_rules(130.0, rule)),
            [
                ("pool", 130),
                ("safety", 114),
                ("allocation", 57),
                ("floor", 57),
                ("cap", 40),
                ("threshold", 40),
                ("pack", 36),
            ],
        )

    def test_threshold_applies_after_the_cap(self):
        rule = RuleParams(cap_qty=3, out_of_stock_threshold=5)
        self.assertEqual(apply_rules(100.0, rule)[0], 0)


class TestPartition(BaseCase):
    def test_shares_split_the_pool_remainder_by_priority(self):
        members = [
            (RuleParams(0, 0, "partition", 50, priority=2, key=1), None),
            (RuleParams(0, 0, "partition", 50, priority=1, key=2), None),
        ]
        # 11 units, 50/50: 5 each, the 11th goes to priority 1
        self.assertEqual([qty for qty, _s in apply_partition(11.0, members)], [5, 6])

    def test_shares_over_100_are_scaled_down(self):
        members = [
            (
                RuleParams(allocation_mode="partition", allocation_percent=80, key=k),
                None,
            )
            for k in (1, 2, 3)
        ]
        results = apply_partition(30.0, members)
        self.assertEqual([qty for qty, _s in results], [10, 10, 10])
        self.assertAlmostEqual(results[0][1][1]["share"], 33.333333)

    def test_shares_under_100_leave_the_rest_unallocated(self):
        members = [
            (
                RuleParams(allocation_mode="partition", allocation_percent=30, key=k),
                None,
            )
            for k in (1, 2)
        ]
        self.assertEqual([qty for qty, _s in apply_partition(100.0, members)], [30, 30])

    def test_floor_comes_from_the_unallocated_rest(self):
        small = RuleParams(
            allocation_mode="partition", allocation_percent=5, floor_qty=10, key=1
        )
        big = RuleParams(allocation_mode="partition", allocation_percent=60, key=2)
        # 100 units: 5 + 60 given, 35 left: the floor takes 5 of them
        self.assertEqual(
            [qty for qty, _s in apply_partition(100.0, [(small, None), (big, None)])],
            [10, 60],
        )

    def test_floor_cannot_take_from_a_full_partition(self):
        small = RuleParams(
            allocation_mode="partition", allocation_percent=5, floor_qty=10, key=1
        )
        big = RuleParams(allocation_mode="partition", allocation_percent=95, key=2)
        results = apply_partition(100.0, [(small, None), (big, None)])
        self.assertEqual([qty for qty, _s in results], [5, 95])

    def test_each_channel_keeps_its_safety_stock(self):
        first = RuleParams(
            allocation_mode="partition", allocation_percent=50, safety_fixed=20, key=1
        )
        second = RuleParams(allocation_mode="partition", allocation_percent=50, key=2)
        # first: 50 % of (100 - 20); second: 50 % of 100
        self.assertEqual(
            [
                qty
                for qty, _s in apply_partition(100.0, [(first, None), (second, None)])
            ],
            [40, 50],
        )

    def test_single_partition_rule_through_apply_rules(self):
        rule = RuleParams(allocation_mode="partition", allocation_percent=40)
        qty, steps = apply_rules(10.0, rule)
        self.assertEqual(qty, 4)
        self.assertEqual(steps[-1]["mode"], "partition")
