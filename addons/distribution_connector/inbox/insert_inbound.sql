-- How an inbound exchange is stored (distribution.exchange._insert_inbound).
-- Created at install and upgrade by distribution.exchange.init()
-- (inbox/insert_function.py), dropped at uninstall (hooks.py).
--
-- A function, so a webhook costs one round trip and less Python than plain
-- statements. Webhooks call it on connections that keep its plans
-- (inbox/connections.py); on Odoo's pooled connections, reset (DISCARD ALL)
-- whenever they are handed out, every call plans its statements again: each
-- is kept simple, and the ones a call does not need (the insert for a known
-- event, the running dispatcher's lookup while one waits) are not planned.
CREATE FUNCTION distribution_exchange_insert_inbound(
    p_backend integer, p_company integer, p_topic varchar, p_kind varchar,
    p_event varchar, p_ref varchar, p_correlation varchar,
    p_content_type varchar, p_body text, p_charset varchar, p_headers text, p_uid integer,
    p_dispatcher varchar,
    OUT exchange_id integer, OUT created boolean,
    OUT dispatcher_waiting boolean
) LANGUAGE plpgsql AS $function$
BEGIN
    LOOP
        -- a plain read first: a redelivery never waits for the transaction
        -- of a job updating the exchange, as the insert's conflict check would
        SELECT exchange.id INTO exchange_id FROM distribution_exchange exchange
         WHERE exchange.backend_id = p_backend AND exchange.direction = 'in'
           AND exchange.topic = p_topic AND exchange.external_event_id = p_event;
        IF FOUND THEN
            created := FALSE;
            dispatcher_waiting := TRUE;
            -- one more delivery, for the dashboards: a statistic, never
            -- worth a wait (not counted while a job holds the row)
            UPDATE distribution_exchange exchange
               SET duplicate_count = COALESCE(exchange.duplicate_count, 0) + 1
             WHERE exchange.id = (SELECT locked.id FROM distribution_exchange locked
                                   WHERE locked.id = exchange_id
                                     FOR UPDATE SKIP LOCKED);
            RETURN;
        END IF;
        INSERT INTO distribution_exchange (
            backend_id, company_id, direction, topic, kind,
            external_event_id, external_ref, correlation_id,
            content_type, raw_body, raw_body_charset, headers, received_at, state,
            attempts, duplicate_count,
            create_uid, create_date, write_uid, write_date)
        VALUES (
            p_backend, p_company, 'in', p_topic, p_kind,
            p_event, p_ref, p_correlation,
            p_content_type, p_body, p_charset, p_headers, now() at time zone 'UTC',
            'received', 0, 0,
            p_uid, now() at time zone 'UTC', p_uid, now() at time zone 'UTC')
        ON CONFLICT (backend_id, direction, topic, external_event_id) DO NOTHING
        RETURNING id INTO exchange_id;
        -- not inserted: another transaction committed the event meanwhile
        -- (only outside REPEATABLE READ, which raises a serialization
        -- failure instead); the read of the next turn finds it
        EXIT WHEN FOUND;
    END LOOP;
    created := TRUE;
    -- the waiting dispatcher is found on queue_job's partial index; the
    -- running one only when none waits: it reads the index of every job
    -- state, whose entries for jobs gone past 'started' pile up until vacuum
    dispatcher_waiting := EXISTS (
        SELECT 1 FROM queue_job job
         WHERE job.identity_key = p_dispatcher
           AND job.state IN ('pending', 'enqueued'));
    IF NOT dispatcher_waiting THEN
        dispatcher_waiting := EXISTS (
            SELECT 1 FROM queue_job job
             WHERE job.identity_key = p_dispatcher
               AND job.state = 'started'
               AND job.date_started > now() at time zone 'UTC' - interval '1 minute');
    END IF;
END
$function$
