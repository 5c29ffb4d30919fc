"""Feeds API 2021-06-30 and documents: merchant-fulfilled stock as one
``JSON_LISTINGS_FEED``, and the documents Amazon hands out by presigned URL
(feed uploads, processing reports, report documents).

The feed's steps (the Feeds API use case guide): ``createFeedDocument``
gives a document id and a presigned URL; the feed (JSON, schema
``listings-feed-schema-v2``: ``header.sellerId``, ``messages[]`` with
``messageId``, ``sku``, ``operationType`` ``PATCH`` and the
``fulfillment_availability`` patch) is uploaded there with the content type
given to ``createFeedDocument``; ``createFeed`` submits it; ``getFeed`` is
polled until ``processingStatus`` is ``DONE`` (or ``CANCELLED``/``FATAL``);
``getFeedDocument`` of its ``resultFeedDocumentId`` gives the processing
report (schema ``listings-feed-processing-report-schema-v2``: ``summary``
and ``issues[]`` by ``messageId``), read back per SKU.

The feed is kept as an outbound exchange of the backend (topic
``JSON_LISTINGS_FEED``), written in a transaction of its own: its body is
the feed, its answer the processing report, its external reference the
feed id. An export job that gives up waiting (the feed is still queued at
Amazon) is retried by the runner with the same claim: it finds the feed of
its claim and polls it again instead of submitting a second one.
"""

import gzip
import hashlib
import json
import uuid

from odoo import fields
from odoo.orm.environments import Transaction

from odoo.addons.distribution_connector.adapters.tools import stock_result
from odoo.addons.distribution_connector.errors import PermanentError, TransientError
from odoo.addons.distribution_connector.http_client import BackendHttpClient

from .amazon_api import availability_patch

FEED_TYPE = "JSON_LISTINGS_FEED"
FEEDS = "/feeds/2021-06-30"
FEED_CONTENT_TYPE = "application/json; charset=UTF-8"
#: getFeed polls one export job waits in place, and the wait between two;
#: then the job is given back to the runner (Amazon takes minutes)
FEED_POLLS = 6
FEED_POLL_WAIT = 5
FEED_RETRY_AFTER = 120
#: the claim of the running stock export (distribution_stock_publish)
CLAIM_CONTEXT = "distribution_stock_export_claim"
#: topics of the outbound exchanges that carry stock to Amazon
STOCK_TOPICS = (FEED_TYPE, "patchListingsItem")
WAITING = frozenset({"IN_QUEUE", "IN_PROGRESS"})
FAILED = frozenset({"CANCELLED", "FATAL"})


class DocumentClient(BackendHttpClient):
    """Calls to Amazon's presigned document URLs: the URL carries its own
    signature, so no access token is sent (the call log keeps the path,
    never the signed query). Their bodies are not logged: documents may be
    compressed (binary), and the exchange of the feed or report keeps them."""

    log_bodies = False

    def auth_headers(self):
        return {}


def document_client(client):
    return DocumentClient(client.backend, session=client.session, sleep=client.sleep)


def listings_feed(seller_id, entries):
    """The ``JSON_LISTINGS_FEED`` body: one ``PATCH`` message a SKU setting
    its merchant-fulfilled quantity; ``entries`` are (sku, quantity), the
    message ids their position from 1."""
    return {
        "header": {"sellerId": seller_id, "version": "2.0", "issueLocale": "en_US"},
        "messages": [
            {
                "messageId": index,
                "sku": sku,
                "operationType": "PATCH",
                **availability_patch(quantity),
            }
            for index, (sku, quantity) in enumerate(entries, start=1)
        ],
    }


def report_errors(report, count):
    """``{messageId: message}`` of the messages the processing report
    rejects (an ``ERROR`` issue); checks the report's shape."""
    if not isinstance(report, dict) or not isinstance(report.get("summary"), dict):
        raise PermanentError(
            "The feed's processing report has no summary.", kind="invalid_response"
        )
    errors = {}
    for issue in report.get("issues") or []:
        if not isinstance(issue, dict) or issue.get("severity") != "ERROR":
            continue
        message_id = issue.get("messageId")
        if not isinstance(message_id, int) or not 1 <= message_id <= count:
            # an issue of the whole feed: every message failed with it
            text = f"{issue.get('code')}: {issue.get('message')}"
            return dict.fromkeys(range(1, count + 1), text)
        text = f"{issue.get('code')}: {issue.get('message')}"
        errors[message_id] = "; ".join(filter(None, [errors.get(message_id), text]))
    processed = report["summary"].get("messagesProcessed")
    if isinstance(processed, int) and processed < count:
        # messages Amazon did not process: which ones it does not say
        for message_id in range(1, count + 1):
            errors.setdefault(
                message_id,
                f"Amazon processed {processed} of {count} messages of the feed.",
            )
    return errors


def download(client, document, operation, topic):
    """The content of a document Amazon describes (``url``, optional
    ``compressionAlgorithm`` GZIP), as bytes."""
    url = document.get("url") if isinstance(document, dict) else None
    if not isinstance(url, str) or not url:
        raise PermanentError(
            f"Amazon answered {operation} without a document URL.",
            kind="invalid_response",
        )
    response = document_client(client).request(
        "GET", url, topic=topic, headers={"Accept": "*/*"}
    )
    content = response.content
    if document.get("compressionAlgorithm") == "GZIP":
        try:
            content = gzip.decompress(content)
        except OSError as err:
            raise PermanentError(
                f"The document of {operation} is not the GZIP it says it is.",
                kind="invalid_response",
            ) from err
    return content


def own_transaction(backend, work):
    """``work(env)`` in a transaction of its own, committed on return (the
    registry at hand, as the call log does): what it writes survives the
    export job's rollback when the job is given back to the runner."""
    registry = backend.env.registry
    with registry.cursor() as cr:
        cr.transaction = Transaction(registry)
        return work(backend.env(cr=cr, su=True))


def record_sku_results(backend, exchange_id, rejected, accepted):
    """An open exception a SKU Amazon rejected (``{sku: message}``), tied
    to the exchange of the feed or the patches, its stock level and
    product; the open ones of the SKUs accepted now are resolved."""
    backend_id = backend.id

    def work(env):
        exceptions = env["distribution.exception"]
        open_ones = exceptions.search(
            [
                ("backend_id", "=", backend_id),
                ("type", "=", "permanent"),
                ("state", "=", "open"),
                ("exchange_id.topic", "in", STOCK_TOPICS),
                ("key", "in", list(rejected) + list(accepted)),
            ]
        )
        by_key = {exc.key: exc for exc in open_ones}
        resolved = open_ones.filtered(lambda exc: exc.key in accepted)
        resolved.write({"state": "resolved", "resolved_at": fields.Datetime.now()})
        for sku, message in rejected.items():
            text = f"Amazon rejected the quantity of SKU {sku}: {message}"
            if sku in by_key:
                by_key[sku].write(
                    {
                        "exchange_id": exchange_id,
                        "message": text,
                        "occurrences": by_key[sku].occurrences + 1,
                    }
                )
                continue
            level = env["distribution.stock.level"].search(
                [
                    ("backend_id", "=", backend_id),
                    "|",
                    ("external_ref", "=", sku),
                    ("product_id.default_code", "=", sku),
                ],
                limit=1,
            )
            exceptions.create(
                {
                    "exchange_id": exchange_id,
                    "type": "permanent",
                    "key": sku,
                    "message": text,
                    "product_id": level.product_id.id,
                    "stock_level_id": level.id,
                }
            )

    if rejected or accepted:
        own_transaction(backend, work)


def patch_exchange(backend, answers):
    """An outbound exchange keeping the ``patchListingsItem`` answers that
    rejected SKUs (their exceptions hang on it); return its id."""

    def work(env):
        return (
            env["distribution.exchange"]
            .create(
                {
                    "backend_id": backend.id,
                    "direction": "out",
                    "topic": "patchListingsItem",
                    "kind": "stock_feed",
                    "external_event_id": f"patch:{uuid.uuid4().hex}",
                    "content_type": "application/json",
                    "raw_body": json.dumps(answers, indent=2),
                    "state": "done",
                    "processed_at": fields.Datetime.now(),
                    "attempts": 1,
                }
            )
            .id
        )

    return own_transaction(backend, work)


class ListingsFeed:
    """One stock batch as a ``JSON_LISTINGS_FEED``: submitted once, polled,
    its processing report read back into one result an item."""

    def __init__(self, adapter, client):
        self.adapter = adapter
        self.backend = adapter.backend
        self.client = client

    def export(self, items, entries):
        """``entries``: (item, sku, quantity) of the batch; return one
        ``stock_result`` an entry."""
        feed = listings_feed(
            self.backend.amazon_seller_id, [(sku, qty) for _i, sku, qty in entries]
        )
        body = json.dumps(feed, sort_keys=True)
        exchange = self._exchange(body, len(entries))
        feed_id = exchange.external_ref
        if not feed_id:
            feed_id = self._submit(exchange, body)
        status = self._poll(feed_id)
        if status["processingStatus"] in FAILED:
            report = self._report(status, required=False)
            self._close(exchange, "error", report)
            raise PermanentError(
                f"Amazon ended feed {feed_id} as {status['processingStatus']}.",
                kind="permanent",
                details=json.dumps(report)[:4000] if report else None,
            )
        report = self._report(status)
        errors = report_errors(report, len(entries))
        self._close(exchange, "done", report)
        results = []
        rejected = {}
        for index, (item, sku, quantity) in enumerate(entries, start=1):
            if index in errors:
                results.append(stock_result(item, "error", None, errors[index]))
                rejected[sku] = errors[index]
            else:
                results.append(stock_result(item, "ok", quantity))
        record_sku_results(
            self.backend,
            exchange.id,
            rejected,
            [sku for _i, sku, _q in entries if sku not in rejected],
        )
        return results

    # -- the feed's exchange, in a transaction of its own ---------------------------

    def _event_id(self, body):
        """The same claim (a retried export job) finds its feed again; a
        call outside a claimed export always submits a new one."""
        claim = self.backend.env.context.get(CLAIM_CONTEXT) or uuid.uuid4().hex
        digest = hashlib.sha256(body.encode()).hexdigest()[:16]
        return f"feed:{claim}:{digest}"

    def _own(self, work):
        return own_transaction(self.backend, work)

    def _exchange(self, body, count):
        event_id = self._event_id(body)
        backend_id = self.backend.id

        def find_or_create(env):
            exchanges = env["distribution.exchange"]
            found = exchanges.search(
                [
                    ("backend_id", "=", backend_id),
                    ("direction", "=", "out"),
                    ("topic", "=", FEED_TYPE),
                    ("external_event_id", "=", event_id),
                ],
                limit=1,
            )
            if found and found.state == "processing":
                return found.id
            if found:
                # done before: this call sends it again under a new id
                return None
            return exchanges.create(
                {
                    "backend_id": backend_id,
                    "direction": "out",
                    "topic": FEED_TYPE,
                    "kind": "stock_feed",
                    "external_event_id": event_id,
                    "content_type": FEED_CONTENT_TYPE,
                    "raw_body": body,
                    "state": "processing",
                    "attempts": 1,
                }
            ).id

        exchange_id = self._own(find_or_create)
        if exchange_id is None:
            self.backend = self.backend.with_context(**{CLAIM_CONTEXT: False})
            return self._exchange(body, count)
        return self.backend.env["distribution.exchange"].sudo().browse(exchange_id)

    def _write(self, exchange, vals):
        self._own(
            lambda env: env["distribution.exchange"].browse(exchange.id).write(vals)
        )
        exchange.invalidate_recordset()

    def _close(self, exchange, state, report):
        self._write(
            exchange,
            {
                "state": state,
                "processed_at": fields.Datetime.now(),
                "response_body": json.dumps(report, indent=2) if report else False,
            },
        )

    # -- Feeds API calls ------------------------------------------------------------

    def _submit(self, exchange, body):
        client = self.client
        document = client.call(
            "POST",
            f"{FEEDS}/documents",
            operation="createFeedDocument",
            topic="stock",
            json={"contentType": FEED_CONTENT_TYPE},
        )
        if not isinstance(document, dict) or not all(
            isinstance(document.get(key), str) and document.get(key)
            for key in ("feedDocumentId", "url")
        ):
            raise PermanentError(
                "Amazon answered createFeedDocument without a document id and URL.",
                kind="invalid_response",
            )
        document_client(client).request(
            "PUT",
            document["url"],
            topic="stock",
            json=json.loads(body),
            headers={"Content-Type": FEED_CONTENT_TYPE},
        )
        answer = client.call(
            "POST",
            f"{FEEDS}/feeds",
            operation="createFeed",
            topic="stock",
            json={
                "feedType": FEED_TYPE,
                "marketplaceIds": self.backend._amazon_marketplace_ids("mfn"),
                "inputFeedDocumentId": document["feedDocumentId"],
            },
        )
        feed_id = answer.get("feedId") if isinstance(answer, dict) else None
        if not isinstance(feed_id, str) or not feed_id:
            raise PermanentError(
                "Amazon answered createFeed without a feed id.",
                kind="invalid_response",
            )
        self._write(exchange, {"external_ref": feed_id})
        return feed_id

    def _poll(self, feed_id):
        """``getFeed`` until it is done, a few times in place; still waiting
        after that gives the job back to the runner (retried later with the
        same claim, which finds this feed again)."""
        for poll in range(FEED_POLLS):
            if poll:
                self.client.sleep(FEED_POLL_WAIT)
            status = self.client.call(
                "GET",
                f"{FEEDS}/feeds/{feed_id}",
                operation="getFeed",
                topic="stock",
            )
            state = status.get("processingStatus") if isinstance(status, dict) else None
            if state not in WAITING | FAILED | {"DONE"}:
                raise PermanentError(
                    f"Amazon answered getFeed of {feed_id} without a known status.",
                    kind="invalid_response",
                )
            if state not in WAITING:
                return status
        raise TransientError(
            f"Amazon has not processed feed {feed_id} yet ({state}).",
            retry_after=FEED_RETRY_AFTER,
        )

    def _report(self, status, required=True):
        document_id = status.get("resultFeedDocumentId")
        if not document_id:
            if not required:
                return None
            raise PermanentError(
                f"Feed {status.get('feedId')} is DONE without a processing report.",
                kind="invalid_response",
            )
        document = self.client.call(
            "GET",
            f"{FEEDS}/documents/{document_id}",
            operation="getFeedDocument",
            topic="stock",
        )
        content = download(self.client, document, "getFeedDocument", "stock")
        try:
            return json.loads(content)
        except ValueError as err:
            raise PermanentError(
                "The feed's processing report is not JSON.", kind="invalid_response"
            ) from err
