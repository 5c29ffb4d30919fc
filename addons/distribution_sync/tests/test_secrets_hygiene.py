from odoo.tests.common import TransactionCase

from odoo.addons.distribution_connector.errors import PermanentError
from odoo.addons.queue_job.tests.common import trap_jobs

from ..flows.order_import import OrderImport
from .common import OrderImportMixin

#: where a job's unexpected errors are logged (the job failure ladder)
JOB_POLICY_LOGGER = "odoo.addons.distribution_connector.job_policy"
WEBHOOK_SECRET = "whsec-plain-5b1c7e2f9a"
API_KEY = "client-id-plain-77aa31"
API_SECRET = "shpat-plain-access-token-9f3d"


class TestSecretsHygiene(OrderImportMixin, TransactionCase):
    """No plain secret reaches a table, a job or an exception text."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpOrderImport()
        cls.backend = cls.make_backend(
            "Leaky channel",
            secret=WEBHOOK_SECRET,
            api_key=API_KEY,
            api_secret=API_SECRET,
        )
        cls.token = cls.backend.sudo().webhook_token

    def rows_text(self, table, where="", params=()):
        self.env.flush_all()
        self.env.cr.execute(f"SELECT * FROM {table} {where}", params)
        return "\n".join(repr(row) for row in self.env.cr.fetchall())

    def assertNoSecret(self, text, what, secrets=(WEBHOOK_SECRET, API_KEY, API_SECRET)):
        self.assertTrue(text, f"nothing read from {what}")
        for secret in secrets:
            self.assertNotIn(secret, text, f"a plain secret is stored in {what}")

    def fail_with_secret(self):
        """An order failing with the access token in its error text, as a
        channel API answering '401 for token ...' would."""

        def refuse(flow):
            raise PermanentError(
                f"The channel refused access token {API_SECRET} (webhook secret "
                f"{WEBHOOK_SECRET})",
                kind="permanent",
                details=f"Traceback: token={API_SECRET} key={API_KEY}",
            )

        self.patch(OrderImport, "run", refuse)

    def test_secrets_are_only_ciphertext(self):
        self.assertEqual(self.backend._get_secret("api_secret"), API_SECRET)
        self.assertEqual(self.backend._webhook_secrets(), [WEBHOOK_SECRET])
        self.assertTrue(self.backend.sudo().api_secret_enc)
        self.assertFalse(self.backend.api_secret, "the secret is write-only")

        self.fail_with_secret()
        body, headers = self.signed(WEBHOOK_SECRET, self.order_payload(), "evt-secret")
        adapter = self.backend._get_adapter()
        kept = adapter.trace_headers(
            {name.lower(): value for name, value in headers.items()}
        )
        exchange, _created = self.Exchange._insert_inbound(
            self.backend,
            "order",
            "order",
            "evt-secret",
            "CH-1001",
            body,
            "application/json",
            kept,
        )
        # the webhook enqueues one real job: no trap
        exchange._enqueue_processing()
        job = (
            self.env["queue.job"]
            .search(
                [
                    ("model_name", "=", "distribution.exchange"),
                    ("method_name", "=", "process"),
                ]
            )
            .filtered(lambda j: j.records == exchange)
        )
        self.assertEqual(len(job), 1)
        self.assertEqual(job.method_name, "process")

        exchange.process()
        exception = self.assertOneException(exchange, "permanent")

        backend_row = self.rows_text(
            "distribution_backend", "WHERE id = %s", [self.backend.id]
        )
        self.assertNoSecret(backend_row, "distribution_backend")
        self.assertIn(self.token, backend_row)  # the token is an id, not a secret
        self.assertNoSecret(
            self.rows_text("distribution_exchange", "WHERE id = %s", [exchange.id]),
            "distribution_exchange",
        )
        self.assertNotIn("x-distribution-signature", exchange.headers)
        self.assertNoSecret(
            self.rows_text("distribution_exception", "WHERE id = %s", [exception.id]),
            "distribution_exception",
        )
        self.assertNoSecret(
            self.rows_text("queue_job", "WHERE id = %s", [job.id]),
            "queue_job",
            secrets=(WEBHOOK_SECRET, API_KEY, API_SECRET, self.token),
        )
        self.env.cr.execute(
            "SELECT args::text, kwargs::text, records::text FROM queue_job "
            "WHERE id = %s",
            [job.id],
        )
        self.assertNoSecret(
            repr(self.env.cr.fetchone()),
            "the job arguments",
            secrets=(WEBHOOK_SECRET, API_KEY, API_SECRET, self.token),
        )
        messages = self.rows_text(
            "mail_message",
            "WHERE (model = 'distribution.backend' AND res_id = %s) "
            "OR (model = 'distribution.exception' AND res_id = %s)",
            [self.backend.id, exception.id],
        )
        self.assertNoSecret(messages, "mail_message")
        tracking = self.rows_text(
            "mail_tracking_value",
            "WHERE mail_message_id IN (SELECT id FROM mail_message "
            "WHERE model = 'distribution.backend' AND res_id = %s)",
            [self.backend.id],
        )
        for secret in (WEBHOOK_SECRET, API_KEY, API_SECRET):
            self.assertNotIn(secret, tracking)

    def test_error_texts_are_redacted(self):
        self.fail_with_secret()
        exchange = self.import_order(self.order_payload())
        exception = self.assertOneException(exchange, "permanent")
        for text in (exception.message, exception.sudo().details, exchange.error):
            self.assertNotIn(API_SECRET, text)
            self.assertNotIn(WEBHOOK_SECRET, text)
            self.assertIn("***", text)
        self.assertNotIn(API_KEY, exception.sudo().details)
        self.assertIn("The channel refused access token ***", exception.message)

    def test_unexpected_error_traceback_is_redacted(self):
        def crash(flow):
            raise RuntimeError(
                f"connection to https://api.example.com/?token={API_SECRET} failed"
            )

        self.patch(OrderImport, "run", crash)
        with self.assertLogs(JOB_POLICY_LOGGER, "ERROR") as logged:
            exchange = self.import_order(self.order_payload())
        self.assertIn("Unexpected error processing exchange", logged.output[0])
        self.assertNotIn(API_SECRET, "".join(logged.output))
        exception = self.assertOneException(exchange, "internal")
        self.assertIn("RuntimeError", exception.message)
        self.assertIn("Traceback", exception.sudo().details)
        for text in (exception.message, exception.sudo().details, exchange.error):
            self.assertNotIn(API_SECRET, text)

    def test_retry_job_carries_ids_only(self):
        self.fail_with_secret()
        exchange = self.import_order(self.order_payload())
        with trap_jobs() as trap:
            exchange.exception_ids.action_retry()
            trap.assert_jobs_count(1, only=exchange.process)
            job = trap.enqueued_jobs[0]
        self.assertEqual((job.args, job.kwargs), ((), {}))
        self.assertEqual(job.recordset, exchange)
        self.assertNotIn(self.token, job.description)
        self.assertNotIn(API_SECRET, job.description)
