-- What if: the exact count of POST /registrations/search (admin) counted row by row, against
-- the sums of the counters the service reads (registration_term_counts, migration 0011).
-- Read-only, in one transaction that is ROLLED BACK.
--
--   psql postgresql://postgres@127.0.0.1:5432/hospital_bench -v q='王' -f bench/whatif_search.sql
--
-- Each answer is followed by its time (\timing). The plans of the service's own statements
-- are in bench/results/explain-search.txt.
\set ON_ERROR_STOP on
\timing on
BEGIN;
SET LOCAL statement_timeout = 0;
SELECT '%' || replace(replace(replace(:'q', '\', '\\'), '%', '\%'), '_', '\_') || '%' AS pattern,
       lower(:'q') AS word
\gset

-- 1. Row by row: every matching registration joined and counted (0.5-1 s for a broad query
--    over a million rows: the count the list envelope needs, before the counters).
SELECT count(*) AS counted_row_by_row
  FROM registrations AS r
  JOIN patients AS p ON p.id = r.patient_id
  JOIN schedules AS s ON s.id = r.schedule_id
  JOIN doctors AS d ON d.id = s.doctor_id
  JOIN departments AS dp ON dp.id = s.department_id
 WHERE r.notes ILIKE :'pattern' OR p.name ILIKE :'pattern' OR d.name ILIKE :'pattern'
    OR dp.name ILIKE :'pattern' OR r.status = :'word';

-- 2. From the counters, the way the service counts the broad branches: the registrations
--    on the schedules of a matching doctor or department ('' counters), plus those of the
--    other schedules counted under the query's word: a status ('completed') or one
--    character of the patient's name ('王'), the only terms besides ''. Notes and longer
--    patient names, which the service counts from rows, are left out here: the two numbers
--    agree when those add nothing (as for a surname, a department, a doctor, a status).
WITH matching AS (
    SELECT s.id FROM schedules AS s
     WHERE s.department_id = ANY (ARRAY(SELECT id FROM departments
                                         WHERE name ILIKE :'pattern'))
    UNION ALL
    SELECT s.id FROM schedules AS s JOIN doctors AS d ON d.id = s.doctor_id
     WHERE d.name ILIKE :'pattern')
SELECT (SELECT coalesce(sum(n), 0) FROM registration_term_counts
         WHERE term = '' AND schedule_id = ANY (ARRAY(SELECT id FROM matching)))
     + (SELECT coalesce(sum(n), 0) FROM registration_term_counts
         WHERE term = :'word' AND schedule_id NOT IN (SELECT id FROM matching))
       AS summed_from_counters;

ROLLBACK;
