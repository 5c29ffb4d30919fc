import hashlib
import json

from odoo import fields, models

from odoo.addons.distribution_connector.errors import PermanentError

from ..adapters import csv_mapping
from ..adapters.csv import CsvAdapter
from ..adapters.csv_mapping import DOCUMENTS, FILE_KIND, INBOUND_DOCUMENTS
from ..flows.order_export import TOPIC as ORDER_FILE_TOPIC
from ..flows.order_export import CsvOrderExport


class DistributionExchange(models.Model):
    _inherit = "distribution.exchange"

    csv_file_id = fields.Many2one(
        "distribution.exchange",
        string="From file",
        readonly=True,
        index="btree_not_null",
        ondelete="set null",
        help="The CSV file this object or rejected row was read from.",
    )
    csv_part_ids = fields.One2many(
        "distribution.exchange",
        "csv_file_id",
        string="Objects and rejected rows",
        readonly=True,
    )

    csv_text = fields.Text(
        string="File as the partner wrote it",
        compute="_compute_csv_text",
        help="The file's bytes decoded with the backend's encoding.",
    )

    def _compute_csv_text(self):
        for exchange in self:
            backend = exchange.backend_id
            is_file = exchange.kind == FILE_KIND or exchange.topic == ORDER_FILE_TOPIC
            if backend.adapter != "csv" or not is_file or not exchange.raw_body:
                exchange.csv_text = False
                continue
            exchange.csv_text = exchange._get_raw_bytes().decode(
                backend.csv_encoding or "utf-8", errors="replace"
            )

    def _get_flow_class(self):
        if self.direction == "out" and self.topic == ORDER_FILE_TOPIC:
            return CsvOrderExport
        return super()._get_flow_class()

    def _apply(self):
        if self.direction == "in" and self.kind == FILE_KIND:
            return self._csv_split()
        return super()._apply()

    def _csv_split(self):
        """Split a polled CSV file into one inbound exchange per canonical
        object (its rows grouped, ``csv_mapping.GROUP_BY``), each applied by
        its flow in a job of its own, and one exchange in error per row that
        cannot be read, with an exception naming the file, the line and the
        column: the rest of the file goes through. A file that cannot be
        read at all (encoding, a mapped header missing) fails whole.

        Splitting again (a retry) finds the exchanges made the first time.
        """
        backend = self.backend_id
        adapter = backend._get_adapter()
        document = self.topic
        if document not in INBOUND_DOCUMENTS or not isinstance(adapter, CsvAdapter):
            raise PermanentError(
                f"{backend.name} does not read {document} CSV files.",
                kind="unsupported_topic",
                key=document,
            )
        name = self.external_ref or self.external_event_id
        try:
            header, rows = adapter.parse_file(document, self._get_raw_bytes())
        except csv_mapping.FileError as err:
            raise PermanentError(
                f"{name}: {err}", kind="invalid_payload", key=name
            ) from err
        kind = DOCUMENTS[document][1]
        for key, group in csv_mapping.group_rows(document, rows).items():
            # the object's own reference: the order, location or receipt
            self._csv_part(kind, header, group, "|".join(key), key[0], name)
        for row in rows:
            if row.errors:
                part = self._csv_part(
                    kind,
                    header,
                    [row],
                    f"line:{row.line}",
                    f"{name} line {row.line}",
                    name,
                    dispatch=False,
                )
                if part and part.state == "received":
                    part._record_failure(self._csv_row_error(name, row))
        return None

    def _csv_part(self, kind, header, rows, key, reference, file_name, dispatch=True):
        """The inbound exchange of some rows of this file (made once)."""
        document = self.topic
        payload = {
            "file": file_name,
            "document": document,
            "header": header,
            "rows": [{"line": row.line, "cells": row.cells} for row in rows],
        }
        digest = hashlib.sha256(key.encode()).hexdigest()[:40]
        part, created = self._insert_inbound(
            self.backend_id,
            kind,
            kind,
            f"csv:{self.id}:{digest}",
            reference[:255],
            json.dumps(payload, ensure_ascii=False).encode(),
            "application/json",
            {"x-correlation-id": self.correlation_id},
            dispatch=dispatch,
        )
        if not created:
            return None
        part.csv_file_id = self
        return part

    def _csv_row_error(self, file_name, row):
        first, *others = row.errors
        message = first.message(file_name)
        if others:
            message += "; " + "; ".join(
                f"column {error.column}: {error.reason}" for error in others
            )
        return PermanentError(
            message,
            kind="invalid_payload",
            key=f"{file_name} line {row.line}",
            json_path=first.column,
        )

    def _csv_order_exchange(self, backend, order):
        """The outbound exchange sending ``order`` to ``backend`` as a file:
        one per order and backend."""
        event_id = f"sale.order/{order.id}"
        exchange = self.search(
            [
                ("backend_id", "=", backend.id),
                ("direction", "=", "out"),
                ("topic", "=", ORDER_FILE_TOPIC),
                ("external_event_id", "=", event_id),
            ],
            limit=1,
        )
        return exchange or self.create(
            {
                "backend_id": backend.id,
                "direction": "out",
                "topic": ORDER_FILE_TOPIC,
                "kind": "order",
                "external_event_id": event_id,
                "external_ref": order.name,
                "content_type": "text/csv",
                "res_model": order._name,
                "res_id": order.id,
            }
        )
