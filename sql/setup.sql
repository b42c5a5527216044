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


--
-- claim_one(q, tid, lease) claims the pending run of task tid in queue q
-- (made due at once), and fails unless that is the run claim_task hands
-- out; returns its run_id.
--
CREATE FUNCTION public.claim_one(q text, tid uuid, lease integer DEFAULT 30) RETURNS uuid
LANGUAGE plpgsql AS $fn$
DECLARE
    c record;
BEGIN
    -- a direct write, behind this backend's claim floor: scan it all
    PERFORM set_config('durable_tasks.claim_full_scan_interval', '0', true);
    EXECUTE format('UPDATE durable_tasks.%I SET available_at = %L
                     WHERE task_id = $1 AND state = %L',
                   'r_' || q, '2000-01-01 00:00:00+00', 'pending') USING tid;
    SELECT * INTO c FROM durable_tasks.claim_task(q, 'one-worker',
                                                  claim_timeout_seconds => lease, qty => 1);
    IF c.task_id IS DISTINCT FROM tid THEN
        RAISE EXCEPTION 'claimed the wrong task';
    END IF;
    RETURN c.run_id;
END
$fn$;
