-- The schema create_all() made for issuer_sandbox before migrations (commit 99841fe), for postgresql.
-- tests/test_migrations.py loads it to check that seed upgrades such a database in place.

CREATE TABLE cardholders (
	id SERIAL NOT NULL,
	name VARCHAR(80) NOT NULL,
	phone VARCHAR(16) NOT NULL,
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	CONSTRAINT pk_cardholders PRIMARY KEY (id)
);
CREATE INDEX ix_cardholders_phone ON cardholders (phone);

CREATE TABLE fault_rules (
	id SERIAL NOT NULL,
	endpoint VARCHAR(80) NOT NULL,
	latency_ms INTEGER NOT NULL,
	error_status INTEGER,
	error_code VARCHAR(60),
	remaining_failures INTEGER,
	drop_response_after_commit BOOLEAN NOT NULL,
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	CONSTRAINT pk_fault_rules PRIMARY KEY (id)
);
CREATE INDEX ix_fault_rules_endpoint ON fault_rules (endpoint);

CREATE TABLE ledger_transactions (
	id SERIAL NOT NULL,
	kind VARCHAR(20) NOT NULL,
	description VARCHAR(200) NOT NULL,
	reference VARCHAR(80) NOT NULL,
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	CONSTRAINT pk_ledger_transactions PRIMARY KEY (id)
);

CREATE TABLE partner_clients (
	id SERIAL NOT NULL,
	client_id VARCHAR(64) NOT NULL,
	secret_hash VARCHAR(255) NOT NULL,
	merchant_name VARCHAR(80) NOT NULL,
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	CONSTRAINT pk_partner_clients PRIMARY KEY (id),
	CONSTRAINT uq_partner_clients_client_id UNIQUE (client_id)
);

CREATE TABLE programmes (
	id SERIAL NOT NULL,
	code VARCHAR(20) NOT NULL,
	name VARCHAR(80) NOT NULL,
	conversion_rate VARCHAR(16) NOT NULL,
	currency_code VARCHAR(3) NOT NULL,
	point_increment INTEGER NOT NULL,
	minimum_points INTEGER NOT NULL,
	maximum_points_per_redemption BIGINT DEFAULT 1000000 NOT NULL,
	CONSTRAINT pk_programmes PRIMARY KEY (id),
	CONSTRAINT uq_programmes_code UNIQUE (code)
);

CREATE TABLE request_log (
	id SERIAL NOT NULL,
	at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	client_id VARCHAR(64) NOT NULL,
	method VARCHAR(8) NOT NULL,
	path VARCHAR(300) NOT NULL,
	endpoint VARCHAR(80) NOT NULL,
	status INTEGER NOT NULL,
	latency_ms INTEGER NOT NULL,
	request_uuid VARCHAR(64) NOT NULL,
	idempotency_key VARCHAR(80) NOT NULL,
	replayed BOOLEAN NOT NULL,
	fault VARCHAR(80) NOT NULL,
	request_body TEXT NOT NULL,
	response_body TEXT NOT NULL,
	CONSTRAINT pk_request_log PRIMARY KEY (id)
);
CREATE INDEX ix_request_log_at ON request_log (at);
CREATE INDEX ix_request_log_path ON request_log (path);
CREATE INDEX ix_request_log_status ON request_log (status);

CREATE TABLE sandbox_settings (
	key VARCHAR(40) NOT NULL,
	value VARCHAR(200) NOT NULL,
	CONSTRAINT pk_sandbox_settings PRIMARY KEY (key)
);

CREATE TABLE access_tokens (
	id SERIAL NOT NULL,
	token_hash VARCHAR(64) NOT NULL,
	partner_client_id INTEGER NOT NULL,
	scope VARCHAR(40) NOT NULL,
	issued_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	expires_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	CONSTRAINT pk_access_tokens PRIMARY KEY (id),
	CONSTRAINT uq_access_tokens_token_hash UNIQUE (token_hash),
	CONSTRAINT fk_access_tokens_partner_client_id_partner_clients FOREIGN KEY(partner_client_id) REFERENCES partner_clients (id)
);
CREATE INDEX ix_access_tokens_partner_client_id ON access_tokens (partner_client_id);

CREATE TABLE cards (
	id SERIAL NOT NULL,
	cardholder_id INTEGER NOT NULL,
	number VARCHAR(19) NOT NULL,
	last4 VARCHAR(4) NOT NULL,
	brand VARCHAR(20) NOT NULL,
	kind VARCHAR(10) NOT NULL,
	programme_id INTEGER,
	status VARCHAR(10) NOT NULL,
	credit_limit_cents BIGINT NOT NULL,
	outstanding_cents BIGINT NOT NULL,
	sms_deliverable BOOLEAN NOT NULL,
	behaviour VARCHAR(120) NOT NULL,
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	CONSTRAINT pk_cards PRIMARY KEY (id),
	CONSTRAINT fk_cards_cardholder_id_cardholders FOREIGN KEY(cardholder_id) REFERENCES cardholders (id),
	CONSTRAINT uq_cards_number UNIQUE (number),
	CONSTRAINT fk_cards_programme_id_programmes FOREIGN KEY(programme_id) REFERENCES programmes (id)
);
CREATE INDEX ix_cards_last4 ON cards (last4);

CREATE TABLE card_statement_lines (
	id SERIAL NOT NULL,
	card_id INTEGER NOT NULL,
	kind VARCHAR(30) NOT NULL,
	amount_cents BIGINT NOT NULL,
	currency_code VARCHAR(3) NOT NULL,
	description VARCHAR(200) NOT NULL,
	merchant_name VARCHAR(80) NOT NULL,
	reference VARCHAR(64) NOT NULL,
	transaction_date TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	posting_date DATE NOT NULL,
	CONSTRAINT pk_card_statement_lines PRIMARY KEY (id),
	CONSTRAINT fk_card_statement_lines_card_id_cards FOREIGN KEY(card_id) REFERENCES cards (id)
);
CREATE INDEX ix_card_statement_lines_card_id ON card_statement_lines (card_id);

CREATE TABLE ledger_accounts (
	id SERIAL NOT NULL,
	code VARCHAR(60) NOT NULL,
	kind VARCHAR(20) NOT NULL,
	name VARCHAR(120) NOT NULL,
	card_id INTEGER,
	programme_id INTEGER,
	balance BIGINT NOT NULL,
	CONSTRAINT pk_ledger_accounts PRIMARY KEY (id),
	CONSTRAINT ck_ledger_accounts_cardholder_not_negative CHECK (kind <> 'CARDHOLDER' OR balance >= 0),
	CONSTRAINT uq_ledger_accounts_code UNIQUE (code),
	CONSTRAINT uq_ledger_accounts_card_id UNIQUE (card_id),
	CONSTRAINT fk_ledger_accounts_card_id_cards FOREIGN KEY(card_id) REFERENCES cards (id),
	CONSTRAINT fk_ledger_accounts_programme_id_programmes FOREIGN KEY(programme_id) REFERENCES programmes (id)
);

CREATE TABLE payments (
	id SERIAL NOT NULL,
	payment_id VARCHAR(40) NOT NULL,
	partner_client_id INTEGER NOT NULL,
	idempotency_key VARCHAR(80) NOT NULL,
	request_fingerprint VARCHAR(64) NOT NULL,
	merchant_reference VARCHAR(64) NOT NULL,
	card_id INTEGER,
	last4 VARCHAR(4) NOT NULL,
	brand VARCHAR(20) NOT NULL,
	amount_cents BIGINT NOT NULL,
	refunded_cents BIGINT NOT NULL,
	currency_code VARCHAR(3) NOT NULL,
	status VARCHAR(20) NOT NULL,
	decline_code VARCHAR(40),
	response_body TEXT NOT NULL,
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	CONSTRAINT pk_payments PRIMARY KEY (id),
	CONSTRAINT uq_payments_partner_client_id UNIQUE (partner_client_id, idempotency_key),
	CONSTRAINT uq_payments_payment_id UNIQUE (payment_id),
	CONSTRAINT fk_payments_partner_client_id_partner_clients FOREIGN KEY(partner_client_id) REFERENCES partner_clients (id),
	CONSTRAINT fk_payments_card_id_cards FOREIGN KEY(card_id) REFERENCES cards (id)
);
CREATE INDEX ix_payments_card_id ON payments (card_id);
CREATE INDEX ix_payments_merchant_reference ON payments (merchant_reference);

CREATE TABLE reward_links (
	id SERIAL NOT NULL,
	code VARCHAR(64) NOT NULL,
	partner_client_id INTEGER NOT NULL,
	merchant_customer_reference VARCHAR(64) NOT NULL,
	card_id INTEGER NOT NULL,
	status VARCHAR(20) NOT NULL,
	otp_hash VARCHAR(64),
	otp_expires_at TIMESTAMP WITHOUT TIME ZONE,
	otp_sent_at TIMESTAMP WITHOUT TIME ZONE,
	failed_attempts INTEGER NOT NULL,
	resends_used INTEGER NOT NULL,
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	activated_at TIMESTAMP WITHOUT TIME ZONE,
	unlinked_at TIMESTAMP WITHOUT TIME ZONE,
	CONSTRAINT pk_reward_links PRIMARY KEY (id),
	CONSTRAINT uq_reward_links_code UNIQUE (code),
	CONSTRAINT fk_reward_links_partner_client_id_partner_clients FOREIGN KEY(partner_client_id) REFERENCES partner_clients (id),
	CONSTRAINT fk_reward_links_card_id_cards FOREIGN KEY(card_id) REFERENCES cards (id)
);
CREATE INDEX ix_reward_links_card_id ON reward_links (card_id);
CREATE INDEX ix_reward_links_merchant_customer_reference ON reward_links (merchant_customer_reference);
CREATE INDEX ix_reward_links_partner_client_id ON reward_links (partner_client_id);

CREATE TABLE ledger_entries (
	id SERIAL NOT NULL,
	transaction_id INTEGER NOT NULL,
	account_id INTEGER NOT NULL,
	amount BIGINT NOT NULL,
	balance_after BIGINT NOT NULL,
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	CONSTRAINT pk_ledger_entries PRIMARY KEY (id),
	CONSTRAINT fk_ledger_entries_transaction_id_ledger_transactions FOREIGN KEY(transaction_id) REFERENCES ledger_transactions (id),
	CONSTRAINT fk_ledger_entries_account_id_ledger_accounts FOREIGN KEY(account_id) REFERENCES ledger_accounts (id)
);
CREATE INDEX ix_ledger_entries_account_id ON ledger_entries (account_id);
CREATE INDEX ix_ledger_entries_transaction_id ON ledger_entries (transaction_id);

CREATE TABLE redemptions (
	id SERIAL NOT NULL,
	order_id VARCHAR(40) NOT NULL,
	partner_client_id INTEGER NOT NULL,
	transaction_reference VARCHAR(64) NOT NULL,
	request_fingerprint VARCHAR(64) NOT NULL,
	reward_link_id INTEGER NOT NULL,
	card_id INTEGER NOT NULL,
	points BIGINT NOT NULL,
	amount_cents BIGINT NOT NULL,
	transaction_amount_cents BIGINT NOT NULL,
	currency_code VARCHAR(3) NOT NULL,
	description VARCHAR(200) NOT NULL,
	status VARCHAR(20) NOT NULL,
	points_reversed BIGINT NOT NULL,
	credit_posting_date DATE NOT NULL,
	response_body TEXT NOT NULL,
	ledger_transaction_id INTEGER NOT NULL,
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	CONSTRAINT pk_redemptions PRIMARY KEY (id),
	CONSTRAINT uq_redemptions_partner_client_id UNIQUE (partner_client_id, transaction_reference),
	CONSTRAINT uq_redemptions_order_id UNIQUE (order_id),
	CONSTRAINT fk_redemptions_partner_client_id_partner_clients FOREIGN KEY(partner_client_id) REFERENCES partner_clients (id),
	CONSTRAINT fk_redemptions_reward_link_id_reward_links FOREIGN KEY(reward_link_id) REFERENCES reward_links (id),
	CONSTRAINT fk_redemptions_card_id_cards FOREIGN KEY(card_id) REFERENCES cards (id),
	CONSTRAINT fk_redemptions_ledger_transaction_id_ledger_transactions FOREIGN KEY(ledger_transaction_id) REFERENCES ledger_transactions (id)
);
CREATE INDEX ix_redemptions_card_id ON redemptions (card_id);
CREATE INDEX ix_redemptions_reward_link_id ON redemptions (reward_link_id);

CREATE TABLE refunds (
	id SERIAL NOT NULL,
	refund_id VARCHAR(40) NOT NULL,
	payment_id INTEGER NOT NULL,
	idempotency_key VARCHAR(80) NOT NULL,
	request_fingerprint VARCHAR(64) NOT NULL,
	amount_cents BIGINT NOT NULL,
	status VARCHAR(20) NOT NULL,
	response_body TEXT NOT NULL,
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	CONSTRAINT pk_refunds PRIMARY KEY (id),
	CONSTRAINT uq_refunds_payment_id UNIQUE (payment_id, idempotency_key),
	CONSTRAINT uq_refunds_refund_id UNIQUE (refund_id),
	CONSTRAINT fk_refunds_payment_id_payments FOREIGN KEY(payment_id) REFERENCES payments (id)
);
CREATE INDEX ix_refunds_payment_id ON refunds (payment_id);

CREATE TABLE sms_messages (
	id SERIAL NOT NULL,
	phone VARCHAR(16) NOT NULL,
	body VARCHAR(320) NOT NULL,
	sent_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	reward_link_id INTEGER,
	CONSTRAINT pk_sms_messages PRIMARY KEY (id),
	CONSTRAINT fk_sms_messages_reward_link_id_reward_links FOREIGN KEY(reward_link_id) REFERENCES reward_links (id)
);
CREATE INDEX ix_sms_messages_phone ON sms_messages (phone);

CREATE TABLE redemption_reversals (
	id SERIAL NOT NULL,
	reversal_id VARCHAR(40) NOT NULL,
	redemption_id INTEGER NOT NULL,
	partner_client_id INTEGER NOT NULL,
	reversal_reference VARCHAR(64) NOT NULL,
	request_fingerprint VARCHAR(64) NOT NULL,
	points BIGINT NOT NULL,
	amount_cents BIGINT NOT NULL,
	response_body TEXT NOT NULL,
	ledger_transaction_id INTEGER NOT NULL,
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	CONSTRAINT pk_redemption_reversals PRIMARY KEY (id),
	CONSTRAINT uq_redemption_reversals_partner_client_id UNIQUE (partner_client_id, reversal_reference),
	CONSTRAINT uq_redemption_reversals_reversal_id UNIQUE (reversal_id),
	CONSTRAINT fk_redemption_reversals_redemption_id_redemptions FOREIGN KEY(redemption_id) REFERENCES redemptions (id),
	CONSTRAINT fk_redemption_reversals_partner_client_id_partner_clients FOREIGN KEY(partner_client_id) REFERENCES partner_clients (id),
	CONSTRAINT fk_redemption_reversals_ledger_transaction_id_ledger_tr_3eaf FOREIGN KEY(ledger_transaction_id) REFERENCES ledger_transactions (id)
);
CREATE INDEX ix_redemption_reversals_redemption_id ON redemption_reversals (redemption_id);
