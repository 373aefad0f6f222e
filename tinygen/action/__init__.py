"""The GitHub Action: a workflow event in, a pull request (or a commit on one) out.

event.py (payload → Event) · decide.py (Event → Decision, permission checks) ·
sanitize.py (visible text only) · status.py (the status comment) · outputs.py
($GITHUB_OUTPUT, job summary, annotations) · run.py (the orchestration).

Nothing heavy is imported here: ``tinygen --help`` must stay fast.
"""
