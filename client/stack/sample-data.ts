/**
 * Sample `corporate_intel` data for the local stack: the same four tables our users run
 * (companies, filings, events, embeddings) with text, numbers, timestamps, JSON and float arrays,
 * two secondary indexes and a foreign key; about 10 MB, loaded once at first `stack up`.
 * Deterministic (setseed) so that two stacks hold the same rows.
 */
export const SAMPLE_DATA_SQL = `
SELECT setseed(0.1905);
CREATE TEMP TABLE wl AS SELECT string_to_array(
  'revenue growth quarter fiscal market share acquisition merger subsidiary board director shareholder ' ||
  'dividend guidance outlook risk liability litigation compliance regulatory audit cash flow margin ' ||
  'capital goodwill segment europe asia americas customer contract backlog supply chain inventory ' ||
  'software platform cloud subscription license partnership strategy restructuring equity debt credit ' ||
  'interest hedge currency tax forecast estimate annual report filing statement analyst rating target ' ||
  'energy healthcare retail manufacturing telecom security privacy research patent product launch', ' ') AS a;
CREATE FUNCTION pg_temp.prose(len int) RETURNS text LANGUAGE sql AS
$$ SELECT string_agg(a[1 + floor(random() * array_length(a, 1))::int], ' ') FROM wl, generate_series(1, len) $$;

CREATE TABLE companies (
  id int PRIMARY KEY, name text NOT NULL, domain text NOT NULL, industry text NOT NULL,
  founded date, employees int, revenue numeric(16,2), description text);
INSERT INTO companies
SELECT i, 'Company ' || i || ' ' || initcap(pg_temp.prose(2)), 'c' || i || '.example.com',
       (ARRAY['energy','healthcare','retail','software','telecom','finance'])[1 + i % 6],
       date '1950-01-01' + (random() * 26000)::int, (random() * 200000)::int,
       round((random() * 1e10)::numeric, 2), pg_temp.prose(30 + (random() * 40)::int)
FROM generate_series(1, 500) i;

CREATE TABLE filings (
  id bigint PRIMARY KEY, company_id int NOT NULL REFERENCES companies(id), filed_at timestamptz NOT NULL,
  form_type text NOT NULL, amount numeric(16,2), body text NOT NULL);
INSERT INTO filings
SELECT i, 1 + (random() * 499)::int, timestamptz '2015-01-01' + random() * interval '3900 days',
       (ARRAY['10-K','10-Q','8-K','S-1','DEF 14A'])[1 + i % 5], round((random() * 1e9)::numeric, 2),
       pg_temp.prose(60 + (random() * 100)::int)
FROM generate_series(1, 8000) i;
CREATE INDEX filings_company_idx ON filings(company_id, filed_at);

CREATE TABLE events (
  id bigint PRIMARY KEY, company_id int NOT NULL, ts timestamptz NOT NULL, kind text NOT NULL, payload jsonb);
INSERT INTO events
SELECT i, 1 + (random() * 499)::int, timestamptz '2020-01-01' + random() * interval '2000 days',
       (ARRAY['price','news','rating','insider','filing'])[1 + i % 5],
       jsonb_build_object('price', round((random() * 500)::numeric, 2), 'volume', (random() * 1e7)::int,
                          'source', md5(i::text), 'tags', jsonb_build_array(i % 7, i % 11))
FROM generate_series(1, 30000) i;
CREATE INDEX events_ts_idx ON events(ts);

CREATE TABLE embeddings (id int PRIMARY KEY, company_id int NOT NULL, vec real[] NOT NULL);
INSERT INTO embeddings
SELECT i, 1 + (i % 500), ARRAY(SELECT (random() * 2 - 1)::real FROM generate_series(1, 64 + 0 * i))
FROM generate_series(1, 2000) i;
ANALYZE;
`;
