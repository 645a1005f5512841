-- Every SQL-callable function of the extension, given NULLs, negative,
-- huge and malformed numbers, odd strings and wrong relations, one
-- argument at a time (the others plausible), and all arguments NULL.
-- Each call runs in a subtransaction that is always rolled back: it must
-- either work or raise a clean error (an SQLSTATE outside class XX,
-- internal errors), and never take the backend down.
SET statement_timeout = '5min';
SELECT eventlog.create_topic('bad_args_t', partitions => 2);
INSERT INTO eventlog_topics.bad_args_t ("partition", key, value)
SELECT g % 2, 'k' || g, jsonb_build_object('g', g) FROM generate_series(1, 20) g;
CREATE TEMP TABLE bad_args_result (fn text, call text, state text, msg text);

CREATE FUNCTION pg_temp.bad_values(t regtype) RETURNS text[] LANGUAGE sql AS $$
SELECT CASE t
    WHEN 'text'::regtype THEN array['NULL', '''''', 'repeat(''x'', 100000)',
        'E''\u00e9\U0001F600''', '''eventlog_topics.bad_args_t''', '''pg_class''', '''-1''',
        '''bad args''']
    WHEN 'integer'::regtype THEN array['NULL', '-1', '0', '(-2147483647 - 1)', '2147483647']
    WHEN 'bigint'::regtype THEN array['NULL', '-1', '(-9223372036854775807 - 1)',
        '9223372036854775807', '4611686018427387904']
    WHEN 'interval'::regtype THEN array['NULL', '''-1 s''', '''1 ms''', '''-178000000 years''',
        '''178000000 years''']
    WHEN 'timestamp with time zone'::regtype THEN array['NULL', '''infinity''', '''-infinity''',
        '''4713-01-01 BC''', '''294276-12-31''']
    WHEN 'jsonb'::regtype THEN array['NULL', '''[]''', '''"s"''', '''{"a": {"b": 1}}''',
        '''1e1000''', '''{"h": 1}''', 'jsonb_build_object(''pad'', repeat(''x'', 2000000))']
    WHEN 'boolean'::regtype THEN array['NULL']
    WHEN 'bytea'::regtype THEN array['NULL', '''\x''', 'decode(repeat(''ff'', 100000), ''hex'')']
    WHEN 'name'::regtype THEN array['NULL', '''''', '''public''', '''regress_no_such_role''',
        'repeat(''x'', 100)']
    WHEN 'regclass'::regtype THEN array['NULL', '''pg_class''', '''eventlog.topic_config''',
        '''0''', '''eventlog_segments.nope''']
    ELSE array['NULL'] END $$;

CREATE FUNCTION pg_temp.good_value(t regtype) RETURNS text LANGUAGE sql AS $$
SELECT CASE t
    WHEN 'text'::regtype THEN '''bad_args_t'''
    WHEN 'integer'::regtype THEN '1'
    WHEN 'bigint'::regtype THEN '0'
    WHEN 'interval'::regtype THEN '''0'''
    WHEN 'timestamp with time zone'::regtype THEN 'now()'
    WHEN 'jsonb'::regtype THEN '''{}'''
    WHEN 'boolean'::regtype THEN 'false'
    WHEN 'bytea'::regtype THEN '''\x00'''
    WHEN 'name'::regtype THEN 'current_user'
    WHEN 'regclass'::regtype THEN '''eventlog_topics.bad_args_t'''
    ELSE 'NULL' END $$;

CREATE FUNCTION pg_temp.try(fn text, call text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    st text;
    m text;
BEGIN
    BEGIN
        EXECUTE 'SELECT count(*) FROM ' || call;
        RAISE SQLSTATE 'ZZ999';		-- roll back what worked, too
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, m = MESSAGE_TEXT;
    END;
    INSERT INTO bad_args_result VALUES (fn, left(call, 200), st, m);
END $$;

DO $$
DECLARE
    f record;
    i int;
    v text;
    good text[];
    args text[];
BEGIN
    FOR f IN
        SELECT p.oid::regproc::text AS fn,
               string_to_array(p.proargtypes::text, ' ')::oid[] AS types  -- from 1
          FROM pg_proc p
          JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                          AND d.deptype = 'e'
          JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pg_eventlog'
         WHERE p.prorettype NOT IN ('event_trigger'::regtype, 'table_am_handler'::regtype)
         ORDER BY 1
    LOOP
        good := array(SELECT format('(%s)::%s', pg_temp.good_value(t), t::regtype)
                        FROM unnest(f.types) t);
        PERFORM pg_temp.try(f.fn, format('%s(%s)', f.fn, array_to_string(good, ', ')));
        PERFORM pg_temp.try(f.fn, format('%s(%s)', f.fn,
            array_to_string(array(SELECT format('NULL::%s', t::regtype)
                                    FROM unnest(f.types) t), ', ')));
        FOR i IN 1 .. coalesce(array_length(f.types, 1), 0) LOOP
            FOREACH v IN ARRAY pg_temp.bad_values(f.types[i]) LOOP
                args := good;
                args[i] := format('(%s)::%s', v, f.types[i]::regtype);
                PERFORM pg_temp.try(f.fn, format('%s(%s)', f.fn, array_to_string(args, ', ')));
            END LOOP;
        END LOOP;
    END LOOP;
END $$;

-- every function was called, many times
SELECT count(DISTINCT fn) AS functions, count(*) > 300 AS many_calls FROM bad_args_result;
-- no internal error, no crash
SELECT fn, call, state, msg FROM bad_args_result WHERE state LIKE 'XX%' OR state IS NULL;
-- every refusal has an SQLSTATE of its own class (not the generic P0001)
SELECT fn, call, state, msg FROM bad_args_result
 WHERE state NOT IN ('ZZ999') AND state NOT SIMILAR TO '(22|23|3D|42|53|54|55|57|0A|3F|P0002)%'
 ORDER BY 1, 2;
-- which refusals, per function (a change here is a change of behaviour)
SELECT fn, string_agg(DISTINCT state, ' ' ORDER BY state) AS states, count(*) AS calls
  FROM bad_args_result GROUP BY fn ORDER BY fn;
-- the topic is as it was: every call was rolled back
SELECT count(*) FROM eventlog_topics.bad_args_t;
SELECT eventlog.drop_topic('bad_args_t');
RESET statement_timeout;
