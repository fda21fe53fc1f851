"""The Evaluation's rules, in one place: its status table, claim, heartbeat, finish, fail,
cancel and requeue, which evaluation counts for a submission, how evaluator errors become
failure reasons, and how lost builds and evaluations are recovered.

Flows (workers/flows.py), the reaper and the admin actions call these functions; none of them
writes an evaluation's status itself. The rows stay in `app.submissions.models`.
"""
