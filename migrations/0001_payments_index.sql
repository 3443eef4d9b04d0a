-- The payments index (core/src/operators/payments_index.rs): one row per request, written from
-- its payment object after each change; operators search it, nothing decides by it.
CREATE TABLE payments (
  request_id TEXT PRIMARY KEY,
  tenant TEXT NOT NULL,
  dialect TEXT NOT NULL,
  subject TEXT NOT NULL,
  state TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  result_status INTEGER,
  submission_count INTEGER NOT NULL,
  callback_state TEXT NOT NULL,
  callback_attempts INTEGER NOT NULL
);

-- Every search is one tenant's, newest first (`created_ms DESC, request_id DESC`).
CREATE INDEX payments_by_tenant ON payments (tenant, created_ms DESC, request_id DESC);
CREATE INDEX payments_by_tenant_state ON payments (tenant, state, created_ms DESC, request_id DESC);
CREATE INDEX payments_by_tenant_subject ON payments (tenant, subject, created_ms DESC, request_id DESC);
CREATE INDEX payments_by_tenant_callback ON payments (tenant, callback_state, created_ms DESC, request_id DESC);
