"""Order import: a canonical order becomes one sales order, exactly once.

What the order and its lines are created with passes through the backend's
``_prepare_order_vals`` and ``_prepare_line_vals``: an addon that needs more
(a field of its own, another route, a channel's extra data) extends those
with ``_inherit = "distribution.backend"``, not this class.
"""

import hashlib
import json

from odoo.exceptions import LockError, UserError, ValidationError
from odoo.tools import float_compare, float_round
from odoo.tools.sql import escape_psql

from odoo.addons.distribution_connector.errors import PermanentError, StaleEventError
from odoo.addons.queue_job.exception import RetryableJobError

from . import InboundFlow
from .common import (
    ORDER_MODEL,
    PARTNER_MODEL,
    PRODUCT_MODEL,
    find_product,
    format_datetime,
    parse_datetime,
)
from .order_cancellation import cancel_order

#: seconds before an import that found its products' stock locked by another
#: one runs again (that one commits within a fraction of a second)
STOCK_LOCK_RETRY = 2


def _lines_fingerprint(data):
    """What makes two versions of an order different for fulfilment.

    Numbers are compared as numbers: ``2`` and ``2.0`` are the same quantity.
    """
    relevant = [
        (
            line["sku"],
            float(line["quantity"]),
            float(line["unit_price"]),
            float(line.get("discount_amount") or 0),
        )
        for line in data["lines"]
    ]
    relevant += [(s.get("code"), float(s["price"])) for s in data.get("shipping") or []]
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()


class OrderImport(InboundFlow):
    kind = "order"

    # -- entry point -------------------------------------------------------

    def run(self):
        external_id = self.data["external_id"]
        self.bindings._lock(self.backend, ORDER_MODEL, external_id)
        binding = self.bindings._find(self.backend, ORDER_MODEL, external_id)
        order = binding._record() if binding else self.env[ORDER_MODEL]
        if order:
            return self._update(binding, order)
        if binding:
            # the order was deleted in Odoo: bind the new one instead
            binding.unlink()
        return self._create()

    # -- creation ------------------------------------------------------------

    def _create(self):
        data = self.data
        currency = self._currency()
        partner, invoice_address, shipping_address = self._customer()
        pricelist = self._pricelist(partner, currency)
        line_commands = self._order_lines(data, currency)
        warehouse = self._warehouse(line_commands)
        if self.backend.auto_confirm and data.get("status") != "cancelled":
            self._lock_stock(line_commands)
        vals = {
            "partner_id": partner.id,
            "partner_invoice_id": invoice_address.id,
            "partner_shipping_id": shipping_address.id,
            "company_id": self.company.id,
            "client_order_ref": data.get("name") or data["external_id"],
            "origin": f"{self.backend.name}: {data.get('name') or data['external_id']}",
            "distribution_backend_id": self.backend.id,
            "distribution_external_id": data["external_id"],
            "order_line": line_commands,
            "note": data.get("note") or False,
        }
        if pricelist:
            vals["pricelist_id"] = pricelist.id
        if warehouse:
            vals["warehouse_id"] = warehouse.id
        if data.get("created_at"):
            vals["date_order"] = parse_datetime(data["created_at"])
        if self.backend.salesperson_id:
            vals["user_id"] = self.backend.salesperson_id.id
        if self.backend.sales_team_id:
            vals["team_id"] = self.backend.sales_team_id.id
        order = self.env[ORDER_MODEL].create(
            self.backend._prepare_order_vals(data, vals)
        )
        self.bindings.create(
            {
                "backend_id": self.backend.id,
                "res_model": ORDER_MODEL,
                "res_id": order.id,
                "external_id": data["external_id"],
                "external_updated_at": parse_datetime(data.get("updated_at")),
                "external_fingerprint": _lines_fingerprint(data),
            }
        )
        self._check_total(order)
        if data.get("status") == "cancelled":
            # Kept as a cancelled quotation rather than skipped: the binding
            # exists, so a cancellation event arriving next finds the order
            # cancelled already instead of opening an "unknown order".
            cancel_order(self.exchange, order, self.env._("Cancelled on the channel."))
        elif self.backend.auto_confirm:
            self._confirm(order)
        order.message_post(
            body=self.env._(
                "Imported from %(backend)s (exchange %(exchange)s, "
                "correlation id %(corr)s).",
                backend=self.backend.name,
                exchange=self.exchange.id,
                corr=self.exchange.correlation_id,
            )
        )
        return order

    def _lock_stock(self, line_commands):
        """Lock the quants the confirmation will reserve, before anything is
        created.

        Orders for the same products confirm one after the other: the
        reservation updates their quants, and a transaction that finds a
        quant updated by another one since it began fails and is run again
        whole. Taken first, the lock makes that failure cheap: it happens
        here, before the order is created, instead of in the middle of the
        confirmation. A quant locked by a running import is not waited for
        (its commit would fail this transaction all the same): the job runs
        again shortly, without counting an attempt; a quant updated since
        this transaction began fails it here (a serialization failure,
        which queue_job runs again).
        """
        product_ids = {vals["product_id"] for _cmd, _id, vals in line_commands}
        quants = (
            self.env["stock.quant"]
            .sudo()
            .search(
                [
                    ("product_id", "in", list(product_ids)),
                    ("location_id.usage", "=", "internal"),
                    ("company_id", "=", self.company.id),
                ],
                order="id",
            )
        )
        try:
            quants.lock_for_update(allow_referencing=True)
        except LockError as err:
            raise RetryableJobError(
                "The stock of these products is being reserved by another "
                "import: run again.",
                seconds=STOCK_LOCK_RETRY,
                ignore_retry=True,
            ) from err

    def _confirm(self, order):
        # No savepoint of its own: a failure ends the import, and the
        # exchange's savepoint (``_apply_in_savepoint``) undoes all of it. A
        # flushing savepoint here would also run the precommit hooks (the
        # stock levels' dirty marks) once more in every import.
        try:
            order.action_confirm()
        except (UserError, ValidationError) as err:
            raise PermanentError(
                f"Order {order.name} could not be confirmed: {err}",
                kind="confirm_failed",
            ) from err
        if self.data.get("created_at"):
            # confirming dates the order now: the customer ordered on the channel
            order.date_order = parse_datetime(self.data["created_at"])

    def _check_total(self, order):
        expected = self.data.get("total")
        if expected is None:
            return
        if order.currency_id.compare_amounts(order.amount_total, expected) != 0:
            order.message_post(
                body=self.env._(
                    "The channel's total is %(expected)s but the order's total is "
                    "%(actual)s: check taxes and discounts.",
                    expected=expected,
                    actual=order.amount_total,
                )
            )

    # -- later events for the same order ------------------------------------

    def _update(self, binding, order):
        data = self.data
        updated_at = parse_datetime(data.get("updated_at"))
        if updated_at and updated_at == binding.external_updated_at:
            return order  # the version applied, delivered again: done already
        self._check_newer(binding, order, updated_at)
        if data.get("status") == "cancelled":
            # channels that report cancellations as order updates
            cancel_order(
                self.exchange, order, self.env._("The channel's order is cancelled.")
            )
            binding.external_updated_at = updated_at
            return order
        if order.state in ("draft", "sent"):
            currency = self._currency()
            commands = [(5, 0, 0), *self._order_lines(data, currency)]
            order.write(
                {"order_line": commands, "note": data.get("note") or order.note}
            )
            binding.write(
                {
                    "external_updated_at": updated_at,
                    "external_fingerprint": _lines_fingerprint(data),
                }
            )
            if self.backend.auto_confirm:
                self._confirm(order)
            return order
        if _lines_fingerprint(data) != binding.external_fingerprint:
            raise PermanentError(
                f"The channel changed order {data['external_id']} after {order.name} "
                "was confirmed; the sales order was not changed. Review the "
                "differences and adjust it by hand, then ignore this exception.",
                kind="order_changed",
                key=data["external_id"],
            )
        binding.external_updated_at = updated_at
        return order

    def _check_newer(self, binding, order, updated_at):
        """Apply only a version newer than the one applied last: a late
        delivery or a replay of an older version changes nothing (the
        exchange is ignored, with the reason)."""
        applied = binding.external_updated_at
        if not applied or (updated_at and updated_at > applied):
            return
        external_id = self.data["external_id"]
        if updated_at:
            message = (
                f"This version of order {external_id} ({format_datetime(updated_at)})"
                f" is older than the one applied ({format_datetime(applied)}): "
                f"{order.name} was not changed."
            )
        else:
            message = (
                f"Order {external_id} carries no updated_at and its version of "
                f"{format_datetime(applied)} was applied: {order.name} was not "
                "changed."
            )
        raise StaleEventError(message, record=order, key=external_id)

    # -- customer -------------------------------------------------------------

    def _customer(self):
        """(customer, invoice address, shipping address), matched per backend:
        by binding, then email, then name and address; created otherwise."""
        customer = self.data["customer"]
        billing = self.data.get("billing_address") or {}
        shipping = self.data.get("shipping_address") or billing
        binding = self.bindings
        if customer.get("external_id"):
            binding = self.bindings._find(
                self.backend, PARTNER_MODEL, customer["external_id"]
            )
        partner = self._find_partner(customer, billing, binding)
        if not partner:
            partner = self.env[PARTNER_MODEL].create(
                {
                    "name": customer["name"],
                    "company_name": customer.get("company_name") or False,
                    "email": customer.get("email") or billing.get("email") or False,
                    "phone": customer.get("phone") or billing.get("phone") or False,
                    "vat": customer.get("vat") or False,
                    "company_id": self.company.id,
                    **self._address_vals(billing),
                }
            )
        if customer.get("external_id") and not binding:
            self.bindings.create(
                {
                    "backend_id": self.backend.id,
                    "res_model": PARTNER_MODEL,
                    "res_id": partner.id,
                    "external_id": customer["external_id"],
                }
            )
        invoice_address = self._address_partner(partner, billing, "invoice")
        shipping_address = self._address_partner(partner, shipping, "delivery")
        return partner, invoice_address, shipping_address

    def _partner_domain(self):
        return [
            ("company_id", "in", [False, self.company.id]),
            ("type", "=", "contact"),
        ]

    def _find_partner(self, customer, billing, binding):
        """The customer's partner: the one bound to its channel id
        (``binding``, possibly empty), else by email, else by name and
        address; empty when none matches."""
        partners = self.env[PARTNER_MODEL]
        partner = binding._record() if binding else partners
        if partner:
            return partner
        domain = self._partner_domain()
        email = customer.get("email")
        # =ilike: case-insensitive equality once % and _ are escaped
        if email:
            partner = partners.search(
                [*domain, ("email", "=ilike", escape_psql(email.strip()))], limit=1
            )
            if partner:
                return partner
        if billing.get("street") and billing.get("zip"):
            partner = partners.search(
                [
                    *domain,
                    ("name", "=ilike", escape_psql(customer["name"].strip())),
                    ("street", "=ilike", escape_psql(billing["street"].strip())),
                    ("zip", "=", billing["zip"].strip()),
                ],
                limit=1,
            )
            if partner:
                return partner
        return partners

    def _address_vals(self, address):
        vals = {
            "street": address.get("street") or False,
            "street2": address.get("street2") or False,
            "city": address.get("city") or False,
            "zip": address.get("zip") or False,
        }
        if address.get("country_code"):
            country = self.env["res.country"].search(
                [("code", "=", address["country_code"])], limit=1
            )
            if not country:
                raise PermanentError(
                    f"Unknown country code {address['country_code']}.",
                    kind="unknown_country",
                    key=address["country_code"],
                )
            vals["country_id"] = country.id
            if address.get("state_code"):
                state = self.env["res.country.state"].search(
                    [
                        ("country_id", "=", country.id),
                        ("code", "=", address["state_code"]),
                    ],
                    limit=1,
                )
                vals["state_id"] = state.id or False
        return vals

    def _address_partner(self, partner, address, address_type):
        """The partner itself when the address is its own, else a child
        address (reused when identical)."""
        if not address:
            return partner
        vals = self._address_vals(address)
        own = all(
            (partner[f].id if f in ("country_id", "state_id") else partner[f]) == v
            for f, v in vals.items()
            if v
        )
        if own and (not address.get("name") or address["name"] == partner.name):
            return partner
        name = address.get("name") or partner.name
        children = partner.child_ids.filtered(
            lambda c: (
                c.type == address_type
                and c.name == name
                and c.street == vals["street"]
                and c.zip == vals["zip"]
            )
        )
        if children:
            return children[0]
        return self.env[PARTNER_MODEL].create(
            {
                "parent_id": partner.id,
                "type": address_type,
                "name": name,
                "phone": address.get("phone") or False,
                "email": address.get("email") or False,
                "company_id": partner.company_id.id,
                **vals,
            }
        )

    # -- money ------------------------------------------------------------------

    def _currency(self):
        code = self.data["currency"]
        currency = (
            self.env["res.currency"]
            .with_context(active_test=False)
            .search([("name", "=", code)], limit=1)
        )
        if not currency:
            raise PermanentError(
                f"Unknown currency {code}.",
                kind="currency_mismatch",
                key=code,
                json_path="$.currency",
            )
        return currency

    def _pricelist(self, partner, currency):
        pricelist = (
            self.backend.pricelist_id
            or partner.with_company(self.company).property_product_pricelist
        )
        expected = pricelist.currency_id if pricelist else self.company.currency_id
        if expected != currency:
            raise PermanentError(
                f"The order is in {currency.name} but "
                + (
                    f"pricelist {pricelist.display_name} is in {expected.name}"
                    if pricelist
                    else f"company {self.company.name} sells in {expected.name}"
                )
                + ". Set a pricelist in that currency on the backend.",
                kind="currency_mismatch",
                key=currency.name,
                json_path="$.currency",
            )
        return pricelist

    def _taxes(self, taxes, json_path):
        found = self.env["account.tax"]
        included = bool(self.data.get("taxes_included"))
        for index, tax in enumerate(taxes or []):
            candidates = (
                self.env["account.tax"]
                .search(
                    [
                        *self.env["account.tax"]._check_company_domain(self.company),
                        ("type_tax_use", "=", "sale"),
                        ("amount_type", "=", "percent"),
                    ]
                )
                .filtered(
                    lambda t: (
                        float_compare(t.amount, tax["rate"], precision_digits=4) == 0
                        and t.price_include == included
                    )
                )
            )
            if not candidates:
                raise PermanentError(
                    f"No {'tax-included ' if included else ''}sales tax of "
                    f"{tax['rate']} % in {self.company.name}.",
                    kind="unknown_tax",
                    key=f"{tax['rate']}%",
                    json_path=f"{json_path}[{index}].rate",
                )
            found |= candidates[0]
        return found

    # -- lines --------------------------------------------------------------------

    def _product(self, sku, json_path):
        return find_product(self.env, self.backend, sku, json_path)

    def _order_lines(self, data, currency):
        unknown = []
        commands = []
        discount_digits = self.env["decimal.precision"].precision_get("Discount")
        for index, line in enumerate(data["lines"]):
            try:
                product = self._product(line["sku"], f"$.lines[{index}].sku")
            except PermanentError as err:
                unknown.append(err)
                continue
            quantity = line["quantity"]
            price = line["unit_price"]
            gross = quantity * price
            discount_amount = line.get("discount_amount") or 0.0
            discount = 0.0
            if discount_amount and gross:
                discount = float_round(
                    discount_amount / gross * 100, precision_digits=discount_digits
                )
                if currency.compare_amounts(
                    gross * (1 - discount / 100), gross - discount_amount
                ):
                    # no percentage carries this discount to the cent: net the price
                    price = (gross - discount_amount) / quantity
                    discount = 0.0
            vals = {
                "product_id": product.id,
                "product_uom_qty": quantity,
                "price_unit": price,
                "discount": discount,
                "tax_ids": [
                    (
                        6,
                        0,
                        self._taxes(line.get("taxes"), f"$.lines[{index}].taxes").ids,
                    )
                ],
            }
            if line.get("name"):
                vals["name"] = line["name"]
            if line.get("external_id"):
                vals["distribution_line_external_id"] = line["external_id"]
            commands.append((0, 0, self.backend._prepare_line_vals(line, vals)))
        if unknown:
            first = unknown[0]
            if len(unknown) > 1:
                first.message += (
                    " Also unknown: " + ", ".join(e.key for e in unknown[1:]) + "."
                )
            raise first
        for index, shipping in enumerate(data.get("shipping") or []):
            product = self.backend.shipping_product_id
            if not product:
                raise PermanentError(
                    f"Backend {self.backend.name} has no shipping product.",
                    kind="configuration",
                    json_path=f"$.shipping[{index}]",
                )
            commands.append(
                (
                    0,
                    0,
                    {
                        "product_id": product.id,
                        "product_uom_qty": 1,
                        "price_unit": shipping["price"],
                        "name": shipping.get("name") or product.name,
                        "tax_ids": [
                            (
                                6,
                                0,
                                self._taxes(
                                    shipping.get("taxes"), f"$.shipping[{index}].taxes"
                                ).ids,
                            )
                        ],
                    },
                )
            )
        return commands

    # -- routing -------------------------------------------------------------------

    def _warehouse(self, line_commands):
        """First warehouse of the backend that can serve every line from free
        stock; else the first one; None when the backend lists none."""
        warehouses = self.backend._ordered_warehouses()
        if not warehouses:
            return None
        needed = {}
        for _cmd, _id, vals in line_commands:
            product = self.env[PRODUCT_MODEL].browse(vals["product_id"])
            if product.is_storable:
                needed[product] = needed.get(product, 0.0) + vals["product_uom_qty"]
        for warehouse in warehouses:
            products = (
                self.env[PRODUCT_MODEL]
                .browse([p.id for p in needed])
                .with_context(warehouse_id=warehouse.id)
            )
            free = {p.id: p.free_qty for p in products}
            if all(
                float_compare(
                    free[product.id], qty, precision_rounding=product.uom_id.rounding
                )
                >= 0
                for product, qty in needed.items()
            ):
                return warehouse
        return warehouses[0]
