-- A report's weight (thousandths) from its reporter's standing:
-- reports hide a photo once their weights, not their number, reach
-- the threshold. Earlier reports count fully.
ALTER TABLE photo_reports ADD COLUMN weight_milli BIGINT NOT NULL DEFAULT 1000;

CREATE INDEX photo_reports_reporter ON photo_reports (reporter_id);
