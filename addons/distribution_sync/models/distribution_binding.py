from odoo import api, fields, models
from odoo.exceptions import AccessError, ValidationError
from odoo.fields import Domain
from odoo.tools import SQL

from odoo.addons.distribution_connector.errors import TransientError
from odoo.addons.distribution_connector.tools.access import is_manager

from .distribution_exception import MAPPING_TYPES

#: models a binding may point to (the Reference field's choices)
BINDABLE_MODELS = [
    ("product.product", "Product"),
    ("res.partner", "Customer"),
    ("sale.order", "Sales order"),
    ("stock.picking", "Transfer"),
    ("stock.location", "Location"),
]


class DistributionBinding(models.Model):
    """Links an external id of a backend to one Odoo record.

    Unique per (backend, model, external id): one channel order gives one
    sales order, one channel SKU maps to one product, whatever the retries.
    """

    _name = "distribution.binding"
    _description = "Distribution Binding"
    _order = "backend_id, res_model, external_id"
    _rec_name = "external_id"

    backend_id = fields.Many2one(
        "distribution.backend", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(
        related="backend_id.company_id", store=True, index=True
    )
    res_model = fields.Char(string="Model", required=True, index=True)
    res_id = fields.Many2oneReference(
        string="Record id", model_field="res_model", required=True
    )
    record_ref = fields.Reference(
        BINDABLE_MODELS,
        string="Odoo record",
        compute="_compute_record_ref",
        inverse="_inverse_record_ref",
    )
    external_id = fields.Char(
        required=True,
        help="The backend's id: SKU, customer id, order id, location code... "
        "A transfer is bound under the kind of object it answers to, e.g. "
        "shipment:<3PL shipment id>, return:<refund id>, fulfillment:<id>.",
    )
    external_updated_at = fields.Datetime(
        help="The backend's last change time applied to the record: older "
        "events never overwrite newer data."
    )
    external_fingerprint = fields.Char(
        readonly=True,
        copy=False,
        help="Digest of the backend's data last applied to the record: a later "
        "event is a change when its digest differs.",
    )

    waiting_exception_count = fields.Integer(
        string="Waiting exceptions",
        compute="_compute_waiting_exception_count",
        help="Open exceptions of this backend waiting on this external id "
        "(an unknown SKU or location): replay them once it is mapped.",
    )

    _external_unique = models.Constraint(
        "UNIQUE(backend_id, res_model, external_id)",
        "This external id is already bound for this backend.",
    )
    _record_index = models.Index("(res_model, res_id)")

    @api.depends("res_model", "res_id")
    def _compute_record_ref(self):
        for binding in self:
            binding.record_ref = (
                f"{binding.res_model},{binding.res_id}"
                if binding.res_model and binding.res_id
                else False
            )

    def _inverse_record_ref(self):
        for binding in self:
            if binding.record_ref:
                binding.res_model = binding.record_ref._name
                binding.res_id = binding.record_ref.id

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            ref = vals.get("record_ref")
            if ref and not vals.get("res_model"):
                model, res_id = (
                    ref.split(",") if isinstance(ref, str) else (ref._name, ref.id)
                )
                vals.update(res_model=model, res_id=int(res_id))
        self._check_backends(vals_list)
        bindings = super().create(vals_list)
        bindings._check_user_may_change()
        return bindings

    def write(self, vals):
        self._check_backends([vals])
        self._check_user_may_change()
        result = super().write(vals)
        self._check_user_may_change()
        return result

    def _check_backends(self, vals_list):
        """A binding goes to a backend of the caller's companies."""
        backend_ids = {vals.get("backend_id") for vals in vals_list} - {None, False}
        backends = self.env["distribution.backend"].browse(sorted(backend_ids))
        backends.check_access("read")

    def _check_user_may_change(self):
        """Distribution Users maintain mappings (SKUs, locations) by hand;
        the bindings of orders, customers and transfers are the flows' own,
        changed by managers only.

        :raise AccessError: a user's change of another binding
        """
        if is_manager(self.env):
            return
        for binding in self:
            if binding.res_model not in MAPPING_TYPES:
                raise AccessError(
                    self.env._(
                        "Binding %(binding)s (%(model)s) is kept by the flows: "
                        "only a Distribution Manager may change it. Users map "
                        "SKUs and locations.",
                        binding=binding.external_id,
                        model=binding.res_model,
                    )
                )

    @api.model
    def _bindable_models(self):
        """Models a binding may point to."""
        return [model for model, _label in BINDABLE_MODELS]

    @api.constrains("backend_id", "res_model", "res_id")
    def _check_record(self):
        """A binding points at an existing record of a bindable model and of
        its backend's company (or shared by every company)."""
        bindable = self._bindable_models()
        for binding in self:
            if binding.res_model not in bindable or binding.res_model not in self.env:
                raise ValidationError(
                    self.env._(
                        "A binding cannot point to %(model)s records.",
                        model=binding.res_model,
                    )
                )
            record = self.env[binding.res_model].sudo().browse(binding.res_id)
            if not record.exists():
                raise ValidationError(
                    self.env._(
                        "Binding %(binding)s points to no record.",
                        binding=binding.external_id,
                    )
                )
            company = record.company_id if "company_id" in record._fields else None
            if company and company != binding.company_id:
                raise ValidationError(
                    self.env._(
                        "Binding %(binding)s of %(backend)s can only point to "
                        "a record of %(company)s, or of every company.",
                        binding=binding.external_id,
                        backend=binding.backend_id.name,
                        company=binding.company_id.name,
                    )
                )

    def _waiting_keys(self):
        """{(backend id, exception type, key)} these mappings answer."""
        return {
            (
                binding.backend_id.id,
                MAPPING_TYPES[binding.res_model],
                binding.external_id,
            )
            for binding in self
            if binding.res_model in MAPPING_TYPES and binding.res_id
        }

    def _waiting_domain(self):
        """Open exceptions of the backends of these mappings waiting on them."""
        exceptions = self.env["distribution.exception"]
        backends = self.env["distribution.backend"]
        return Domain.OR(
            exceptions._waiting_on_domain([(exc_type, key)], backends.browse(backend))
            for backend, exc_type, key in self._waiting_keys()
        )

    def _waiting_exceptions(self):
        return self.env["distribution.exception"].search(self._waiting_domain())

    @api.depends("backend_id", "res_model", "res_id", "external_id")
    def _compute_waiting_exception_count(self):
        counts = dict(
            ((backend.id, exc_type, key), count)
            for backend, exc_type, key, count in self.env[
                "distribution.exception"
            ]._read_group(
                self._waiting_domain(), ["backend_id", "type", "key"], ["__count"]
            )
        )
        for binding in self:
            (key,) = binding._waiting_keys() or {None}
            binding.waiting_exception_count = counts.get(key, 0)

    def action_replay_waiting_exceptions(self):
        """Replay what waited on these mappings: once each."""
        return self._waiting_exceptions()._replay()

    def _record(self):
        """The bound record, or an empty recordset when it was deleted."""
        self.ensure_one()
        return self.env[self.res_model].browse(self.res_id).exists()

    @api.model
    def _find(self, backend, model, external_id):
        return self.search(
            [
                ("backend_id", "=", backend.id),
                ("res_model", "=", model),
                ("external_id", "=", external_id),
            ],
            limit=1,
        )

    @api.model
    def _lock(self, backend, model, external_id):
        """Serialize work on one external object until the transaction ends.

        Two workers importing the same channel order never both create it.
        The lock is tried, not waited for: Odoo's transactions are REPEATABLE
        READ, so a worker that waited would go on with a snapshot taken
        before the other one committed, blind to what it created. The loser
        retries later, in a new transaction that sees it. The unique
        constraint is the last line.

        :raise TransientError: another transaction holds the lock
        """
        self.env.cr.execute(
            SQL(
                "SELECT pg_try_advisory_xact_lock(%s, hashtext(%s))",
                backend.id,
                f"{model}:{external_id}",
            )
        )
        if not self.env.cr.fetchone()[0]:
            raise TransientError(
                f"{external_id} ({model}) is being imported by another worker.",
                key=external_id,
            )
