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


--
-- queue_digest(q): a digest of every row of queue q's tables (tasks, runs,
-- checkpoints, events, waits; those it has), what a refused call must
-- leave alone.
--
CREATE FUNCTION public.queue_digest(q text) RETURNS text
LANGUAGE plpgsql AS $fn$
DECLARE
    p    text;
    part text;
    acc  text := '';
BEGIN
    FOREACH p IN ARRAY ARRAY['t_', 'r_', 'c_', 'e_', 'w_'] LOOP
        IF to_regclass(format('durable_tasks.%I', p || q)) IS NOT NULL THEN
            EXECUTE format('SELECT coalesce(string_agg(x::text, %L ORDER BY x::text), %L)
                              FROM durable_tasks.%I x', ';', '', p || q) INTO part;
            acc := acc || '|' || part;
        END IF;
    END LOOP;
    RETURN md5(acc);
END
$fn$;

--
-- try_in(q, sql): like err(sql), with the DETAIL of a "not running" error,
-- and a refused call that changed a row of queue q says so.
--
CREATE FUNCTION public.try_in(q text, sql text) RETURNS text
LANGUAGE plpgsql AS $fn$
DECLARE
    before text := public.queue_digest(q);
    st     text;
    msg    text;
    det    text;
BEGIN
    BEGIN
        EXECUTE sql;
        RETURN 'ok';
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
    END;
    msg := st || ': ' || regexp_replace(msg, '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}',
                                        '<uuid>', 'g');
    IF det LIKE 'The run is %' THEN
        msg := msg || ' (' || det || ')';
    END IF;
    IF public.queue_digest(q) <> before THEN
        msg := msg || '  ** CHANGED ' || q || ' **';
    END IF;
    RETURN msg;
END
$fn$;

--
-- run_and_task(q, rid): run rid of queue q and its task, side by side (no
-- ids, no times).
--
CREATE FUNCTION public.run_and_task(q text, rid uuid)
RETURNS TABLE (run_state text, attempt integer, claimed_by text, has_lease boolean,
               task_state text, attempts integer, runs bigint, is_last_run boolean)
LANGUAGE plpgsql AS $fn$
BEGIN
    RETURN QUERY EXECUTE format(
        'SELECT r.state, r.attempt, r.claimed_by, r.claim_expires_at IS NOT NULL,
                t.state, t.attempts,
                (SELECT count(*) FROM durable_tasks.%I x WHERE x.task_id = t.task_id),
                t.last_run_id = r.run_id
           FROM durable_tasks.%I r JOIN durable_tasks.%I t USING (task_id)
          WHERE r.run_id = $1', 'r_' || q, 'r_' || q, 't_' || q) USING rid;
END
$fn$;
