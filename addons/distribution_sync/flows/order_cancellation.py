"""Order cancellation: the channel cancelled an order.

Before anything shipped, the sales order is cancelled, which cancels its
open transfers and so releases their reservations. Once goods left, Odoo
cannot undo it alone: a ``cancel_after_shipping`` exception asks a person to
arrange a return or a refund, and the order is left as it is.

Channels that send cancellations as order updates (an order whose status is
``cancelled``) go through the same :func:`cancel_order`.

A cancellation is final, so it applies whenever it arrives; its
``cancelled_at`` becomes the version of the order applied last, so that an
older order update arriving after it changes nothing.
"""

from odoo.exceptions import UserError, ValidationError

from odoo.addons.distribution_connector.errors import PermanentError

from . import InboundFlow
from .common import ORDER_MODEL, is_delivery, parse_datetime, unknown_order


def cancel_order(exchange, order, reason=None):
    """Cancel ``order`` for its channel; nothing to do when it is cancelled
    already.

    :raise PermanentError: ``cancel_after_shipping`` when a delivery of the
        order is done (the order is not changed), ``cancel_failed`` when Odoo
        refuses to cancel it
    """
    env = exchange.env
    external_id = order.distribution_external_id or order.name
    if order.state == "cancel":
        return order
    shipped = order.picking_ids.filtered(lambda p: is_delivery(p) and p.state == "done")
    if shipped:
        raise PermanentError(
            f"The channel cancelled order {external_id} but {order.name} has "
            f"shipped already ({', '.join(shipped.mapped('name'))}): the sales "
            "order was left as it is. Arrange a return or a refund with the "
            "customer, then ignore this exception.",
            kind="cancel_after_shipping",
            key=external_id,
        )
    try:
        with env.cr.savepoint():
            # _action_cancel, not action_cancel: the latter refuses locked
            # orders, and a channel's cancellation is not a user's whim
            order._action_cancel()
    except (UserError, ValidationError) as err:
        raise PermanentError(
            f"Order {order.name} could not be cancelled: {err}",
            kind="cancel_failed",
            key=external_id,
        ) from err
    order.message_post(
        body=env._(
            "Cancelled by %(backend)s (exchange %(exchange)s).%(reason)s",
            backend=exchange.backend_id.name,
            exchange=exchange.id,
            reason=f" {reason}" if reason else "",
        )
    )
    return order


class OrderCancellation(InboundFlow):
    kind = "order_cancellation"

    def run(self):
        external_id = self.data["external_id"]
        # the order import's lock: a cancellation never races its order
        self.bindings._lock(self.backend, ORDER_MODEL, external_id)
        binding = self.bindings._find(self.backend, ORDER_MODEL, external_id)
        order = binding._record() if binding else self.env[ORDER_MODEL]
        if not order:
            raise unknown_order(self.backend, external_id, json_path="$.external_id")
        cancel_order(self.exchange, order, self.data.get("reason"))
        cancelled_at = parse_datetime(self.data.get("cancelled_at"))
        if cancelled_at and (
            not binding.external_updated_at
            or cancelled_at > binding.external_updated_at
        ):
            binding.external_updated_at = cancelled_at
        return order
