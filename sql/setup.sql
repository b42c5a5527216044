--
-- setup: helpers shared by the suites that follow.
--
-- err(sql) runs a statement and returns 'ok', or the error's SQLSTATE and
-- message (uuids masked, the option context appended), so that error tests
-- show the SQLSTATE without C source locations.
--
CREATE FUNCTION public.err(sql text) RETURNS text
LANGUAGE plpgsql AS $fn$
DECLARE
    st  text;
    msg text;
    ctx text;
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                            ctx = PG_EXCEPTION_CONTEXT;
    msg := regexp_replace(msg, '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}',
                          '<uuid>', 'g');
    ctx := split_part(ctx, E'\n', 1);
    IF ctx LIKE 'while %' THEN
        msg := msg || ' [' || ctx || ']';
    END IF;
    RETURN st || ': ' || msg;
END
$fn$;

