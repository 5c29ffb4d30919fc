from datetime import timedelta

from cryptography.fernet import Fernet
from freezegun import freeze_time

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests.common import TransactionCase, new_test_user

from ..tools import cipher
from .common import DistributionTestMixin, encryption_keys


class TestBackendSecrets(DistributionTestMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setUpDistribution()

    def _raw_row(self, backend):
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT * FROM distribution_backend WHERE id = %s", [backend.id]
        )
        return dict(
            zip([d.name for d in self.env.cr.description], self.env.cr.fetchone())
        )

    def test_secrets_never_stored_in_plain_text(self):
        backend = self.make_backend(
            "Plain check",
            secret="webhook-plain-secret-42",
            api_key="key-plain-77",
            api_secret="token-plain-99",
        )
        row = self._raw_row(backend)
        flat = repr(row)
        for plain in ("webhook-plain-secret-42", "key-plain-77", "token-plain-99"):
            self.assertNotIn(plain, flat)
        self.assertTrue(
            row["webhook_secret_enc"].startswith("gAAAAA"), "Fernet token expected"
        )
        self.assertEqual(backend._get_secret("api_secret"), "token-plain-99")

    def test_secrets_are_write_only(self):
        backend = self.make_backend("Write only", secret="never-shown-secret")
        backend.invalidate_recordset()
        self.assertFalse(backend.webhook_secret)
        self.assertTrue(backend.webhook_secret_set)
        self.assertFalse(backend.api_key_set)

    def test_saving_a_secret_without_key_is_a_clear_error(self):
        with (
            encryption_keys(""),
            self.assertRaisesRegex(UserError, "No encryption key is configured"),
        ):
            self.make_backend("No key", secret="cannot-store-me")

    def test_malformed_key_is_a_clear_error(self):
        with (
            encryption_keys("not-a-fernet-key"),
            self.assertRaisesRegex(UserError, "malformed"),
        ):
            cipher.encrypt("anything")

    def test_key_rotation_keeps_old_secrets_readable(self):
        old_key = Fernet.generate_key().decode()
        new_key = Fernet.generate_key().decode()
        with encryption_keys(old_key):
            backend = self.make_backend("Rotating keys", secret="rotate-me-please")
        with encryption_keys(f"{new_key},{old_key}"):
            self.assertEqual(backend._webhook_secrets(), ["rotate-me-please"])
            backend.action_reencrypt_secrets()
        with encryption_keys(new_key):
            self.assertEqual(backend._webhook_secrets(), ["rotate-me-please"])
        with (
            encryption_keys(old_key),
            self.assertRaisesRegex(UserError, "cannot be decrypted"),
        ):
            backend._webhook_secrets()

    def test_decrypted_secrets_follow_the_key_list(self):
        # decrypted values are kept per process, keyed by ciphertext and keys
        key = Fernet.generate_key().decode()
        with encryption_keys(key):
            token = cipher.encrypt("kept-in-memory-only")
            self.assertEqual(cipher.decrypt(token), "kept-in-memory-only")
            self.assertEqual(cipher.decrypt(token), "kept-in-memory-only")
        with (
            encryption_keys(Fernet.generate_key().decode()),
            self.assertRaisesRegex(UserError, "cannot be decrypted"),
        ):
            cipher.decrypt(token)
        with (
            encryption_keys(""),
            self.assertRaisesRegex(UserError, "No encryption key is configured"),
        ):
            cipher.decrypt(token)

    def test_rotated_webhook_secret_accepted_until_end_date(self):
        backend = self.make_backend(
            "Rotation", secret="first-secret-abc", webhook_secret_grace_hours=24
        )
        with freeze_time("2026-01-01 12:00:00"):
            backend.webhook_secret = "second-secret-def"
            self.assertEqual(
                backend.webhook_secret_previous_until,
                fields.Datetime.to_datetime("2026-01-02 12:00:00"),
            )
            self.assertEqual(
                backend._webhook_secrets(), ["second-secret-def", "first-secret-abc"]
            )
        with freeze_time("2026-01-02 12:00:01"):
            self.assertEqual(backend._webhook_secrets(), ["second-secret-def"])

    def test_revoke_previous_secret(self):
        backend = self.make_backend("Revoke", secret="first-secret-abc")
        backend.webhook_secret = "second-secret-def"
        backend.action_revoke_previous_webhook_secret()
        self.assertEqual(backend._webhook_secrets(), ["second-secret-def"])

    def test_webhook_tokens_are_unguessable_and_unique(self):
        other = self.make_backend("Other")
        tokens = {self.backend.sudo().webhook_token, other.sudo().webhook_token}
        self.assertEqual(len(tokens), 2)
        self.assertTrue(all(len(token) >= 40 for token in tokens))
        old = other.sudo().webhook_token
        other.action_regenerate_webhook_token()
        self.assertNotEqual(other.sudo().webhook_token, old)

    def test_redact_scrubs_every_secret(self):
        backend = self.make_backend(
            "Redact", secret="hook-secret-xyz", api_secret="api-token-xyz"
        )
        text = (
            "failed with hook-secret-xyz and api-token-xyz at "
            + backend.sudo().webhook_token
        )
        redacted = backend._redact(text)
        self.assertNotIn("hook-secret-xyz", redacted)
        self.assertNotIn("api-token-xyz", redacted)
        self.assertNotIn(backend.sudo().webhook_token, redacted)
        self.assertEqual(redacted.count("***"), 3)

    def test_ordered_warehouses(self):
        first = self.env["stock.warehouse"].create({"name": "Routing A", "code": "RTA"})
        second = self.env["stock.warehouse"].create(
            {"name": "Routing B", "code": "RTB"}
        )
        self.backend.warehouse_line_ids = [
            (0, 0, {"warehouse_id": first.id, "sequence": 20}),
            (0, 0, {"warehouse_id": second.id, "sequence": 10}),
        ]
        self.assertEqual(self.backend._ordered_warehouses().ids, [second.id, first.id])

    def test_plain_user_cannot_read_secrets_or_token(self):
        user = new_test_user(
            self.env,
            login="dist_user_sec",
            groups="distribution_connector.group_distribution_user",
        )
        backend = self.backend.with_user(user)
        self.assertEqual(backend.name, "Test channel")
        with self.assertRaises(AccessError):
            backend.read(["webhook_token"])
        with self.assertRaises(AccessError):
            backend.read(["webhook_secret_enc"])
        with self.assertRaises(AccessError):
            backend.write({"name": "renamed"})

    def test_multi_company_backend_isolation(self):
        company_b = self.env["res.company"].create({"name": "Company B (secrets)"})
        backend_b = self.make_backend("B channel", company=company_b)
        user_a = new_test_user(
            self.env,
            login="dist_mgr_a",
            groups="distribution_connector.group_distribution_manager",
            company_id=self.env.company.id,
            company_ids=[(6, 0, self.env.company.ids)],
        )
        visible = self.env["distribution.backend"].with_user(user_a).search([])
        self.assertIn(self.backend, visible)
        self.assertNotIn(backend_b, visible)
        with self.assertRaises(AccessError):
            backend_b.with_user(user_a).read(["name"])

    def test_grace_period_uses_now(self):
        backend = self.make_backend(
            "Grace", secret="grace-one-aaaa", webhook_secret_grace_hours=1
        )
        backend.webhook_secret = "grace-two-bbbb"
        delta = backend.webhook_secret_previous_until - fields.Datetime.now()
        self.assertTrue(timedelta(minutes=59) < delta <= timedelta(hours=1))
