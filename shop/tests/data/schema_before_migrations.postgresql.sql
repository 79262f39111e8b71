-- The schema create_all() made for shop before migrations (commit 99841fe), for postgresql.
-- tests/test_migrations.py loads it to check that seed upgrades such a database in place.

CREATE TABLE categories (
	id SERIAL NOT NULL,
	slug VARCHAR(40) NOT NULL,
	name VARCHAR(80) NOT NULL,
	position INTEGER NOT NULL,
	CONSTRAINT pk_categories PRIMARY KEY (id),
	CONSTRAINT uq_categories_slug UNIQUE (slug)
);

CREATE TABLE users (
	id SERIAL NOT NULL,
	email VARCHAR(254) NOT NULL,
	name VARCHAR(80) NOT NULL,
	password_hash VARCHAR(255) NOT NULL,
	phone VARCHAR(16) NOT NULL,
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	CONSTRAINT pk_users PRIMARY KEY (id),
	CONSTRAINT uq_users_email UNIQUE (email)
);

CREATE TABLE card_links (
	id SERIAL NOT NULL,
	user_id INTEGER NOT NULL,
	card_last4 VARCHAR(4) NOT NULL,
	reward_link_code VARCHAR(64) NOT NULL,
	status VARCHAR(20) NOT NULL,
	masked_phone VARCHAR(16) NOT NULL,
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	activated_at TIMESTAMP WITHOUT TIME ZONE,
	otp_sent_at TIMESTAMP WITHOUT TIME ZONE,
	CONSTRAINT pk_card_links PRIMARY KEY (id),
	CONSTRAINT uq_card_links_user_id UNIQUE (user_id, card_last4),
	CONSTRAINT fk_card_links_user_id_users FOREIGN KEY(user_id) REFERENCES users (id)
);
CREATE INDEX ix_card_links_user_id ON card_links (user_id);

CREATE TABLE orders (
	id SERIAL NOT NULL,
	reference VARCHAR(20) NOT NULL,
	user_id INTEGER NOT NULL,
	status VARCHAR(20) NOT NULL,
	currency_code VARCHAR(3) NOT NULL,
	subtotal_cents BIGINT NOT NULL,
	delivery_fee_cents BIGINT NOT NULL,
	total_cents BIGINT NOT NULL,
	recipient_name VARCHAR(80) NOT NULL,
	recipient_phone VARCHAR(16) NOT NULL,
	address_line VARCHAR(200) NOT NULL,
	district VARCHAR(60) NOT NULL,
	card_last4 VARCHAR(4),
	card_brand VARCHAR(20),
	payment_id VARCHAR(40),
	card_issued_by_summit BOOLEAN NOT NULL,
	card_points_eligible BOOLEAN NOT NULL,
	decline_code VARCHAR(40),
	refunded_cents BIGINT NOT NULL,
	redemption_order_id VARCHAR(40),
	points_used BIGINT NOT NULL,
	statement_credit_cents BIGINT NOT NULL,
	points_reversed BIGINT NOT NULL,
	credit_reversed_cents BIGINT NOT NULL,
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	paid_at TIMESTAMP WITHOUT TIME ZONE,
	cancelled_at TIMESTAMP WITHOUT TIME ZONE,
	payment_attempts INTEGER NOT NULL,
	payment_check_needed BOOLEAN NOT NULL,
	points_check_needed BOOLEAN NOT NULL,
	refund_count INTEGER NOT NULL,
	reversal_count INTEGER NOT NULL,
	pending_cancellation VARCHAR(400) NOT NULL,
	points_increment INTEGER NOT NULL,
	points_skipped BOOLEAN NOT NULL,
	CONSTRAINT pk_orders PRIMARY KEY (id),
	CONSTRAINT uq_orders_reference UNIQUE (reference),
	CONSTRAINT fk_orders_user_id_users FOREIGN KEY(user_id) REFERENCES users (id)
);
CREATE INDEX ix_orders_status ON orders (status);
CREATE INDEX ix_orders_user_id ON orders (user_id);

CREATE TABLE products (
	id SERIAL NOT NULL,
	sku VARCHAR(20) NOT NULL,
	slug VARCHAR(120) NOT NULL,
	name VARCHAR(120) NOT NULL,
	description TEXT NOT NULL,
	category_id INTEGER NOT NULL,
	price_cents BIGINT NOT NULL,
	stock INTEGER NOT NULL,
	image VARCHAR(200) NOT NULL,
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	CONSTRAINT pk_products PRIMARY KEY (id),
	CONSTRAINT uq_products_sku UNIQUE (sku),
	CONSTRAINT uq_products_slug UNIQUE (slug),
	CONSTRAINT fk_products_category_id_categories FOREIGN KEY(category_id) REFERENCES categories (id)
);
CREATE INDEX ix_products_category_id ON products (category_id);

CREATE TABLE order_adjustments (
	id SERIAL NOT NULL,
	order_id INTEGER NOT NULL,
	kind VARCHAR(20) NOT NULL,
	reference VARCHAR(40) NOT NULL,
	external_id VARCHAR(40) NOT NULL,
	amount_cents BIGINT NOT NULL,
	points BIGINT NOT NULL,
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	CONSTRAINT pk_order_adjustments PRIMARY KEY (id),
	CONSTRAINT fk_order_adjustments_order_id_orders FOREIGN KEY(order_id) REFERENCES orders (id)
);
CREATE INDEX ix_order_adjustments_order_id ON order_adjustments (order_id);

CREATE TABLE order_lines (
	id SERIAL NOT NULL,
	order_id INTEGER NOT NULL,
	product_id INTEGER NOT NULL,
	product_name VARCHAR(120) NOT NULL,
	unit_price_cents BIGINT NOT NULL,
	quantity INTEGER NOT NULL,
	cancelled_quantity INTEGER NOT NULL,
	CONSTRAINT pk_order_lines PRIMARY KEY (id),
	CONSTRAINT fk_order_lines_order_id_orders FOREIGN KEY(order_id) REFERENCES orders (id),
	CONSTRAINT fk_order_lines_product_id_products FOREIGN KEY(product_id) REFERENCES products (id)
);
CREATE INDEX ix_order_lines_order_id ON order_lines (order_id);

CREATE TABLE pwp_events (
	id SERIAL NOT NULL,
	order_id INTEGER,
	user_id INTEGER,
	kind VARCHAR(30) NOT NULL,
	code VARCHAR(60) NOT NULL,
	detail VARCHAR(200) NOT NULL,
	at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	CONSTRAINT pk_pwp_events PRIMARY KEY (id),
	CONSTRAINT fk_pwp_events_order_id_orders FOREIGN KEY(order_id) REFERENCES orders (id),
	CONSTRAINT fk_pwp_events_user_id_users FOREIGN KEY(user_id) REFERENCES users (id)
);
CREATE INDEX ix_pwp_events_at ON pwp_events (at);
CREATE INDEX ix_pwp_events_kind ON pwp_events (kind);
CREATE INDEX ix_pwp_events_order_id ON pwp_events (order_id);
CREATE INDEX ix_pwp_events_user_id ON pwp_events (user_id);
