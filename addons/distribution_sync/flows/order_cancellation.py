"""Order cancellation: the channel cancelled an order.

Before anything shipped, the sales order is cancelled, which cancels its
open transfers and so releases their reservations. Once goods left, Odoo
cannot undo it alone: a ``cancel_after_shipping`` exception asks a person to
arrange a return or a refund, and the order is left as it is.

Channels that send cancellations as order updates (an order whose status is
``cancelled``) go through the same :func:`cancel_order`.
"""

from odoo.exceptions import UserError, ValidationError

from odoo.addons.distribution_connector.errors import PermanentError

from . import InboundFlow, register_flow
from .common import ORDER_MODEL, bound_order, is_delivery, unknown_order


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


@register_flow
class OrderCancellation(InboundFlow):
    kind = "order_cancellation"

    def run(self):
        external_id = self.data["external_id"]
        # the order import's lock: a cancellation never races its order
        self.env["distribution.binding"]._lock(self.backend, ORDER_MODEL, external_id)
        order = bound_order(self.env, self.backend, external_id)
        if not order:
            raise unknown_order(self.backend, external_id, json_path="$.external_id")
        return cancel_order(self.exchange, order, self.data.get("reason"))
