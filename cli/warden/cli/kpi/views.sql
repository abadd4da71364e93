-- Typed views over the generic event archive. Only these views know payload field names;
-- every KPI query reads them. A new event type or version needs a new view, never a new table.
SET TimeZone = 'UTC';

-- One row per report (a reprocessed report has a new event id but the same report id).
CREATE OR REPLACE TEMP VIEW reports AS
SELECT data->>'report_id'                                   AS report_id,
       data->>'channel'                                     AS channel,
       data->>'category'                                    AS category,
       data->>'policy_area'                                 AS policy_area,
       CAST(data->>'received_at' AS TIMESTAMPTZ)            AS received_at,
       CAST(data->'legal'->>'deadline' AS TIMESTAMPTZ)      AS legal_deadline,
       data->'legal'->>'order_type'                         AS order_type
FROM events
WHERE type LIKE 'warden.report.normalized.%'
QUALIFY row_number() OVER (PARTITION BY data->>'report_id' ORDER BY time, id) = 1;

CREATE OR REPLACE TEMP VIEW routings AS
SELECT data->>'case_id'                                     AS case_id,
       data->>'queue'                                       AS queue,
       data->>'reason'                                      AS reason,
       -- 'open', or 'decided' on the event routing emits when a decision closes the case
       coalesce(data->>'status', 'open')                    AS status,
       CAST(data->>'due_at' AS TIMESTAMPTZ)                 AS due_at,
       CAST(data->>'routed_at' AS TIMESTAMPTZ)              AS routed_at,
       data->'report_ids'                                   AS report_ids
FROM events
WHERE type LIKE 'warden.case.routed.%';

CREATE OR REPLACE TEMP VIEW case_reports AS
SELECT DISTINCT case_id, unnest(from_json(report_ids, '["VARCHAR"]')) AS report_id
FROM routings;

-- Decisions (v1 and v2); a reversal names the decision it reverses. A decision counts from
-- when it became final (v2 final_at: the approval, under four-eyes). The action mix reads
-- the first (primary) action of a v2 decision.
CREATE OR REPLACE TEMP VIEW decisions AS
SELECT data->>'decision_id'                                 AS decision_id,
       data->>'case_id'                                     AS case_id,
       coalesce(data->>'action', data->'actions'->0->>'code', 'unknown') AS action,
       coalesce(data->>'decided_by', data->>'reviewer_id')  AS reviewer_id,
       CAST(coalesce(data->>'final_at', data->>'decided_at') AS TIMESTAMPTZ) AS decided_at,
       data->>'approved_by'                                 AS approved_by,
       coalesce(data->>'reverses', data->>'reverses_decision_id') AS reverses,
       -- v2: fully | partially | not_automated; v1 producers may send a boolean
       coalesce(data->>'automated_decision' IN ('fully', 'true'), false) AS automated
FROM events
WHERE type LIKE 'warden.decision.recorded.%'
QUALIFY row_number() OVER (PARTITION BY data->>'decision_id' ORDER BY time, id) = 1;

-- The first decision of each case (reversals are not first actions).
CREATE OR REPLACE TEMP VIEW first_decisions AS
SELECT * FROM decisions WHERE reverses IS NULL
QUALIFY row_number() OVER (PARTITION BY case_id ORDER BY decided_at, decision_id) = 1;

CREATE OR REPLACE TEMP VIEW appeals AS
SELECT data->>'appeal_id'                                   AS appeal_id,
       data->>'decision_id'                                 AS decision_id,
       CAST(data->>'filed_at' AS TIMESTAMPTZ)               AS filed_at
FROM events
WHERE type LIKE 'warden.appeal.filed.%';

-- Four-eyes outcomes: a final decision with a second reviewer was approved; a pending one
-- closed as rejected was rejected (an expired one was neither and is not counted).
CREATE OR REPLACE TEMP VIEW approvals AS
SELECT decision_id, 'approved' AS outcome, decided_at AS happened_at
FROM decisions WHERE approved_by IS NOT NULL
UNION ALL
SELECT data->>'decision_id', 'rejected', CAST(data->>'closed_at' AS TIMESTAMPTZ)
FROM events
WHERE type LIKE 'warden.decision.approval_closed.%' AND data->>'outcome' = 'rejected';

CREATE OR REPLACE TEMP VIEW deliveries AS
SELECT n.data->>'notification_id'                           AS notification_id,
       coalesce(n.data->>'audience', n.data->>'recipient')  AS audience,
       n.data->>'status'                                    AS status,
       CAST(n.data->>'finished_at' AS TIMESTAMPTZ)          AS finished_at,
       source.time                                          AS caused_at
FROM events n
LEFT JOIN events source ON source.id = n.data->>'source_event_id'
WHERE n.type LIKE 'warden.notification.delivered.%';

-- Per report: when its case was first acted on.
CREATE OR REPLACE TEMP VIEW report_first_actions AS
SELECT r.*, min(d.decided_at) AS first_action_at,
       arg_min(d.case_id, d.decided_at) AS case_id
FROM reports r
LEFT JOIN case_reports cr USING (report_id)
LEFT JOIN first_decisions d ON d.case_id = cr.case_id AND d.decided_at >= r.received_at
GROUP BY ALL;

-- The queue and due time a case had when it was decided (its last routing before that).
CREATE OR REPLACE TEMP VIEW decided_cases AS
SELECT d.case_id, d.decision_id, d.decided_at,
       arg_max(ro.queue, ro.routed_at)  AS queue,
       arg_max(ro.due_at, ro.routed_at) AS due_at
FROM first_decisions d
JOIN routings ro ON ro.case_id = d.case_id AND ro.routed_at <= d.decided_at
GROUP BY ALL;
