"""Initial schema: the tables create_all() made before the app had migrations.

Revision ID: 71e46dc4db90
Revises:
Create Date: 2026-12-02 00:13:21.572474
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "71e46dc4db90"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "cardholders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cardholders")),
    )
    op.create_index(op.f("ix_cardholders_phone"), "cardholders", ["phone"], unique=False)
    op.create_table(
        "fault_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("endpoint", sa.String(length=80), nullable=False),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("error_status", sa.Integer(), nullable=True),
        sa.Column("error_code", sa.String(length=60), nullable=True),
        sa.Column("remaining_failures", sa.Integer(), nullable=True),
        sa.Column("drop_response_after_commit", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fault_rules")),
    )
    op.create_index(op.f("ix_fault_rules_endpoint"), "fault_rules", ["endpoint"], unique=False)
    op.create_table(
        "ledger_transactions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("reference", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_transactions")),
    )
    op.create_table(
        "partner_clients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("secret_hash", sa.String(length=255), nullable=False),
        sa.Column("merchant_name", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_clients")),
        sa.UniqueConstraint("client_id", name=op.f("uq_partner_clients_client_id")),
    )
    op.create_table(
        "programmes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("conversion_rate", sa.String(length=16), nullable=False),
        sa.Column("currency_code", sa.String(length=3), nullable=False),
        sa.Column("point_increment", sa.Integer(), nullable=False),
        sa.Column("minimum_points", sa.Integer(), nullable=False),
        sa.Column("maximum_points_per_redemption", sa.BigInteger(), server_default=sa.text("1000000"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programmes")),
        sa.UniqueConstraint("code", name=op.f("uq_programmes_code")),
    )
    op.create_table(
        "request_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("path", sa.String(length=300), nullable=False),
        sa.Column("endpoint", sa.String(length=80), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("request_uuid", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=80), nullable=False),
        sa.Column("replayed", sa.Boolean(), nullable=False),
        sa.Column("fault", sa.String(length=80), nullable=False),
        sa.Column("request_body", sa.Text(), nullable=False),
        sa.Column("response_body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_log")),
    )
    op.create_index(op.f("ix_request_log_at"), "request_log", ["at"], unique=False)
    op.create_index(op.f("ix_request_log_path"), "request_log", ["path"], unique=False)
    op.create_index(op.f("ix_request_log_status"), "request_log", ["status"], unique=False)
    op.create_table(
        "sandbox_settings",
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_sandbox_settings")),
    )
    op.create_table(
        "access_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("partner_client_id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=40), nullable=False),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_client_id"],
            ["partner_clients.id"],
            name=op.f("fk_access_tokens_partner_client_id_partner_clients"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_access_tokens_token_hash")),
    )
    op.create_index(op.f("ix_access_tokens_partner_client_id"), "access_tokens", ["partner_client_id"], unique=False)
    op.create_table(
        "cards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cardholder_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=19), nullable=False),
        sa.Column("last4", sa.String(length=4), nullable=False),
        sa.Column("brand", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("programme_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("credit_limit_cents", sa.BigInteger(), nullable=False),
        sa.Column("outstanding_cents", sa.BigInteger(), nullable=False),
        sa.Column("sms_deliverable", sa.Boolean(), nullable=False),
        sa.Column("behaviour", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["cardholder_id"], ["cardholders.id"], name=op.f("fk_cards_cardholder_id_cardholders")),
        sa.ForeignKeyConstraint(["programme_id"], ["programmes.id"], name=op.f("fk_cards_programme_id_programmes")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cards")),
        sa.UniqueConstraint("number", name=op.f("uq_cards_number")),
    )
    op.create_index(op.f("ix_cards_last4"), "cards", ["last4"], unique=False)
    op.create_table(
        "card_statement_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("card_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency_code", sa.String(length=3), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("merchant_name", sa.String(length=80), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("transaction_date", sa.DateTime(), nullable=False),
        sa.Column("posting_date", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(["card_id"], ["cards.id"], name=op.f("fk_card_statement_lines_card_id_cards")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_statement_lines")),
    )
    op.create_index(op.f("ix_card_statement_lines_card_id"), "card_statement_lines", ["card_id"], unique=False)
    op.create_table(
        "ledger_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("card_id", sa.Integer(), nullable=True),
        sa.Column("programme_id", sa.Integer(), nullable=True),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "kind <> 'CARDHOLDER' OR balance >= 0", name=op.f("ck_ledger_accounts_cardholder_not_negative")
        ),
        sa.ForeignKeyConstraint(["card_id"], ["cards.id"], name=op.f("fk_ledger_accounts_card_id_cards")),
        sa.ForeignKeyConstraint(
            ["programme_id"], ["programmes.id"], name=op.f("fk_ledger_accounts_programme_id_programmes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_accounts")),
        sa.UniqueConstraint("card_id", name=op.f("uq_ledger_accounts_card_id")),
        sa.UniqueConstraint("code", name=op.f("uq_ledger_accounts_code")),
    )
    op.create_table(
        "payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("payment_id", sa.String(length=40), nullable=False),
        sa.Column("partner_client_id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=80), nullable=False),
        sa.Column("request_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("merchant_reference", sa.String(length=64), nullable=False),
        sa.Column("card_id", sa.Integer(), nullable=True),
        sa.Column("last4", sa.String(length=4), nullable=False),
        sa.Column("brand", sa.String(length=20), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("refunded_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency_code", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("decline_code", sa.String(length=40), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["card_id"], ["cards.id"], name=op.f("fk_payments_card_id_cards")),
        sa.ForeignKeyConstraint(
            ["partner_client_id"], ["partner_clients.id"], name=op.f("fk_payments_partner_client_id_partner_clients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("partner_client_id", "idempotency_key", name=op.f("uq_payments_partner_client_id")),
        sa.UniqueConstraint("payment_id", name=op.f("uq_payments_payment_id")),
    )
    op.create_index(op.f("ix_payments_card_id"), "payments", ["card_id"], unique=False)
    op.create_index(op.f("ix_payments_merchant_reference"), "payments", ["merchant_reference"], unique=False)
    op.create_table(
        "reward_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("partner_client_id", sa.Integer(), nullable=False),
        sa.Column("merchant_customer_reference", sa.String(length=64), nullable=False),
        sa.Column("card_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("otp_hash", sa.String(length=64), nullable=True),
        sa.Column("otp_expires_at", sa.DateTime(), nullable=True),
        sa.Column("otp_sent_at", sa.DateTime(), nullable=True),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("resends_used", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("activated_at", sa.DateTime(), nullable=True),
        sa.Column("unlinked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["card_id"], ["cards.id"], name=op.f("fk_reward_links_card_id_cards")),
        sa.ForeignKeyConstraint(
            ["partner_client_id"],
            ["partner_clients.id"],
            name=op.f("fk_reward_links_partner_client_id_partner_clients"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reward_links")),
        sa.UniqueConstraint("code", name=op.f("uq_reward_links_code")),
    )
    op.create_index(op.f("ix_reward_links_card_id"), "reward_links", ["card_id"], unique=False)
    op.create_index(
        op.f("ix_reward_links_merchant_customer_reference"),
        "reward_links",
        ["merchant_customer_reference"],
        unique=False,
    )
    op.create_index(op.f("ix_reward_links_partner_client_id"), "reward_links", ["partner_client_id"], unique=False)
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("transaction_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("balance_after", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["ledger_accounts.id"], name=op.f("fk_ledger_entries_account_id_ledger_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["ledger_transactions.id"],
            name=op.f("fk_ledger_entries_transaction_id_ledger_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
    )
    op.create_index(op.f("ix_ledger_entries_account_id"), "ledger_entries", ["account_id"], unique=False)
    op.create_index(op.f("ix_ledger_entries_transaction_id"), "ledger_entries", ["transaction_id"], unique=False)
    op.create_table(
        "redemptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("partner_client_id", sa.Integer(), nullable=False),
        sa.Column("transaction_reference", sa.String(length=64), nullable=False),
        sa.Column("request_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("reward_link_id", sa.Integer(), nullable=False),
        sa.Column("card_id", sa.Integer(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("transaction_amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency_code", sa.String(length=3), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("points_reversed", sa.BigInteger(), nullable=False),
        sa.Column("credit_posting_date", sa.Date(), nullable=False),
        sa.Column("response_body", sa.Text(), nullable=False),
        sa.Column("ledger_transaction_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["card_id"], ["cards.id"], name=op.f("fk_redemptions_card_id_cards")),
        sa.ForeignKeyConstraint(
            ["ledger_transaction_id"],
            ["ledger_transactions.id"],
            name=op.f("fk_redemptions_ledger_transaction_id_ledger_transactions"),
        ),
        sa.ForeignKeyConstraint(
            ["partner_client_id"], ["partner_clients.id"], name=op.f("fk_redemptions_partner_client_id_partner_clients")
        ),
        sa.ForeignKeyConstraint(
            ["reward_link_id"], ["reward_links.id"], name=op.f("fk_redemptions_reward_link_id_reward_links")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_redemptions")),
        sa.UniqueConstraint("order_id", name=op.f("uq_redemptions_order_id")),
        sa.UniqueConstraint(
            "partner_client_id", "transaction_reference", name=op.f("uq_redemptions_partner_client_id")
        ),
    )
    op.create_index(op.f("ix_redemptions_card_id"), "redemptions", ["card_id"], unique=False)
    op.create_index(op.f("ix_redemptions_reward_link_id"), "redemptions", ["reward_link_id"], unique=False)
    op.create_table(
        "refunds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("refund_id", sa.String(length=40), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=80), nullable=False),
        sa.Column("request_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("response_body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["payment_id"], ["payments.id"], name=op.f("fk_refunds_payment_id_payments")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refunds")),
        sa.UniqueConstraint("payment_id", "idempotency_key", name=op.f("uq_refunds_payment_id")),
        sa.UniqueConstraint("refund_id", name=op.f("uq_refunds_refund_id")),
    )
    op.create_index(op.f("ix_refunds_payment_id"), "refunds", ["payment_id"], unique=False)
    op.create_table(
        "sms_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("body", sa.String(length=320), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.Column("reward_link_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["reward_link_id"], ["reward_links.id"], name=op.f("fk_sms_messages_reward_link_id_reward_links")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_messages")),
    )
    op.create_index(op.f("ix_sms_messages_phone"), "sms_messages", ["phone"], unique=False)
    op.create_table(
        "redemption_reversals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reversal_id", sa.String(length=40), nullable=False),
        sa.Column("redemption_id", sa.Integer(), nullable=False),
        sa.Column("partner_client_id", sa.Integer(), nullable=False),
        sa.Column("reversal_reference", sa.String(length=64), nullable=False),
        sa.Column("request_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("response_body", sa.Text(), nullable=False),
        sa.Column("ledger_transaction_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ledger_transaction_id"],
            ["ledger_transactions.id"],
            name=op.f("fk_redemption_reversals_ledger_transaction_id_ledger_transactions"),
        ),
        sa.ForeignKeyConstraint(
            ["partner_client_id"],
            ["partner_clients.id"],
            name=op.f("fk_redemption_reversals_partner_client_id_partner_clients"),
        ),
        sa.ForeignKeyConstraint(
            ["redemption_id"], ["redemptions.id"], name=op.f("fk_redemption_reversals_redemption_id_redemptions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_redemption_reversals")),
        sa.UniqueConstraint(
            "partner_client_id", "reversal_reference", name=op.f("uq_redemption_reversals_partner_client_id")
        ),
        sa.UniqueConstraint("reversal_id", name=op.f("uq_redemption_reversals_reversal_id")),
    )
    op.create_index(
        op.f("ix_redemption_reversals_redemption_id"), "redemption_reversals", ["redemption_id"], unique=False
    )


def downgrade():
    op.drop_index(op.f("ix_redemption_reversals_redemption_id"), table_name="redemption_reversals")
    op.drop_table("redemption_reversals")
    op.drop_index(op.f("ix_sms_messages_phone"), table_name="sms_messages")
    op.drop_table("sms_messages")
    op.drop_index(op.f("ix_refunds_payment_id"), table_name="refunds")
    op.drop_table("refunds")
    op.drop_index(op.f("ix_redemptions_reward_link_id"), table_name="redemptions")
    op.drop_index(op.f("ix_redemptions_card_id"), table_name="redemptions")
    op.drop_table("redemptions")
    op.drop_index(op.f("ix_ledger_entries_transaction_id"), table_name="ledger_entries")
    op.drop_index(op.f("ix_ledger_entries_account_id"), table_name="ledger_entries")
    op.drop_table("ledger_entries")
    op.drop_index(op.f("ix_reward_links_partner_client_id"), table_name="reward_links")
    op.drop_index(op.f("ix_reward_links_merchant_customer_reference"), table_name="reward_links")
    op.drop_index(op.f("ix_reward_links_card_id"), table_name="reward_links")
    op.drop_table("reward_links")
    op.drop_index(op.f("ix_payments_merchant_reference"), table_name="payments")
    op.drop_index(op.f("ix_payments_card_id"), table_name="payments")
    op.drop_table("payments")
    op.drop_table("ledger_accounts")
    op.drop_index(op.f("ix_card_statement_lines_card_id"), table_name="card_statement_lines")
    op.drop_table("card_statement_lines")
    op.drop_index(op.f("ix_cards_last4"), table_name="cards")
    op.drop_table("cards")
    op.drop_index(op.f("ix_access_tokens_partner_client_id"), table_name="access_tokens")
    op.drop_table("access_tokens")
    op.drop_table("sandbox_settings")
    op.drop_index(op.f("ix_request_log_status"), table_name="request_log")
    op.drop_index(op.f("ix_request_log_path"), table_name="request_log")
    op.drop_index(op.f("ix_request_log_at"), table_name="request_log")
    op.drop_table("request_log")
    op.drop_table("programmes")
    op.drop_table("partner_clients")
    op.drop_table("ledger_transactions")
    op.drop_index(op.f("ix_fault_rules_endpoint"), table_name="fault_rules")
    op.drop_table("fault_rules")
    op.drop_index(op.f("ix_cardholders_phone"), table_name="cardholders")
    op.drop_table("cardholders")
