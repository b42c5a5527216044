-- figure 21, baseline: pgq's enqueue of figure 1's payload (event type = the
-- task name, data = the params) into pgq queue bench_q.
SELECT pgq.insert_event('bench_q', 'send_email', '{"user_id": 42, "template": "welcome"}');
