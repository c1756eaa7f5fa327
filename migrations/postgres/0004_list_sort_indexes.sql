-- Lists sort by one column with the ticket number as tie-breaker (stable pages). Indexes on
-- (column, number) let the database read a page in order instead of sorting every live ticket.
CREATE INDEX tickets_created_number_idx ON tickets (created_at, number) WHERE deleted_at IS NULL;
CREATE INDEX tickets_updated_number_idx ON tickets (updated_at, number) WHERE deleted_at IS NULL;
CREATE INDEX tickets_priority_number_idx ON tickets (priority_rank, number) WHERE deleted_at IS NULL;
CREATE INDEX tickets_status_number_idx ON tickets (status, number) WHERE deleted_at IS NULL;
CREATE INDEX tickets_sla_number_idx ON tickets (sla_due_at, number) WHERE deleted_at IS NULL;
CREATE INDEX tickets_customer_created_number_idx ON tickets (customer_id, created_at, number) WHERE deleted_at IS NULL;
