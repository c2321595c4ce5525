import type { PostgresServer } from '../../harness/postgres.js';

/** Several tables (170k rows), an index, a view and sequences: enough that a restore has to get everything right. */
export async function fillDatabase(pg: PostgresServer, db: string, customers = 120_000): Promise<void> {
  await pg.psql(`CREATE DATABASE ${db}`);
  await pg.psql(
    `CREATE SEQUENCE invoice_seq START 1000;
     CREATE TABLE customers (id bigserial PRIMARY KEY, name text NOT NULL, email text UNIQUE, created timestamptz NOT NULL, tags text[]);
     INSERT INTO customers (name, email, created, tags)
       SELECT 'name ' || g, 'user' || g || '@example.com', timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute',
              CASE WHEN g % 5 = 0 THEN ARRAY['vip', 'g' || (g % 7)] END
       FROM generate_series(1, ${customers}) g;
     CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers(id), amount numeric(12,2), note text);
     INSERT INTO orders (customer_id, amount, note)
       SELECT (g % ${customers}) + 1, (g * 7 % 10000) / 100.0, CASE WHEN g % 3 = 0 THEN NULL ELSE repeat('x', g % 50) END
       FROM generate_series(1, 50000) g;
     CREATE INDEX orders_customer_idx ON orders (customer_id);
     CREATE VIEW big_orders AS SELECT * FROM orders WHERE amount > 50;
     SELECT setval('invoice_seq', 4242);`,
    db,
  );
}

/** Everything the round trip must preserve, as one comparable string per aspect. */
export async function snapshotDatabase(pg: PostgresServer, db: string): Promise<Record<string, string>> {
  const one = async (sql: string) => (await pg.psql(sql, db)).trim();
  return {
    customers: await one('SELECT count(*) || \':\' || md5(string_agg(c::text, \'|\' ORDER BY id)) FROM customers c'),
    orders: await one('SELECT count(*) || \':\' || md5(string_agg(o::text, \'|\' ORDER BY id)) FROM orders o'),
    view: await one('SELECT count(*) FROM big_orders'),
    invoiceSeq: await one('SELECT last_value || \',\' || is_called FROM invoice_seq'),
    customerSeq: await one('SELECT last_value FROM customers_id_seq'),
    indexes: await one("SELECT string_agg(indexdef, ';' ORDER BY indexname) FROM pg_indexes WHERE schemaname = 'public'"),
    constraints: await one("SELECT string_agg(conname || ' ' || pg_get_constraintdef(oid), ';' ORDER BY conname) FROM pg_constraint WHERE connamespace = 'public'::regnamespace"),
  };
}

export async function wipeDatabase(pg: PostgresServer, db: string): Promise<void> {
  await pg.psql('DROP SCHEMA public CASCADE; CREATE SCHEMA public;', db);
}
