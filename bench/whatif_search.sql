-- What if: POST /registrations/search (admin) with pg_trgm GIN indexes and one index-friendly
-- query per searched column, instead of one OR over a five-table join.
-- Everything happens in one transaction that is ROLLED BACK: the schema is left unchanged.
--
--   psql postgresql://postgres@127.0.0.1:5432/hospital_bench -v q='王' -f bench/whatif_search.sql
--
-- Compare with the plans of the service's own statement in bench/results/explain-search.txt.
\set ON_ERROR_STOP on
\timing on
BEGIN;
SET LOCAL statement_timeout = 0;
SELECT '%' || replace(replace(replace(:'q', '\', '\\'), '%', '\%'), '_', '\_') || '%' AS pattern
\gset
CREATE INDEX whatif_patients_name_trgm ON patients USING gin (name gin_trgm_ops);
CREATE INDEX whatif_registrations_notes_trgm ON registrations USING gin (notes gin_trgm_ops);
CREATE INDEX whatif_registrations_schedule_id ON registrations (schedule_id);
ANALYZE patients;
ANALYZE registrations;

EXPLAIN (ANALYZE, BUFFERS)
WITH matches AS (
    SELECT r.id FROM registrations r WHERE r.notes ILIKE :'pattern'
    UNION
    SELECT r.id FROM registrations r
     WHERE r.patient_id IN (SELECT id FROM patients WHERE name ILIKE :'pattern')
    UNION
    SELECT r.id FROM registrations r
     WHERE r.schedule_id IN (
        SELECT s.id FROM schedules s
          JOIN doctors d ON d.id = s.doctor_id
          JOIN departments dp ON dp.id = s.department_id
         WHERE d.name ILIKE :'pattern' OR dp.name ILIKE :'pattern')
)
SELECT r.*, count(*) OVER () AS _total
  FROM registrations r JOIN matches m ON m.id = r.id
 ORDER BY r.id
 LIMIT 10;

ROLLBACK;
