"""run: a compiled Plan deployed as one Prefect flow run, and the one-off commands.

- flow.py      the Prefect shell: the ``compose-up`` flow, one task per step, the final state
- steps.py     a step's body (no Prefect): upstream waits, outcome, abort on failure
- jobs.py      jobs and pre_start hooks: a fresh container, retries, a deadline on it
- services.py  long-running services: carry out the converge decision, health waits
- prepare.py   before the first container: networks, volumes, builds, images, converge
- state.py     ``RunState`` (per-run bookkeeping), ``StepOutcome``, the verdict
- output.py    prefixed, masked output
- cleanup.py   stopping what a run started (by id, and by flow-run label from any process)
- report.py    the plan and summary artifacts, and the terminal summary
- oneoff.py    `run` and `exec`;  accounting.py: size-seconds

The entry point, ``compose_up``, is imported from ``prefect_compose.run.flow`` (importing
this package does not import Prefect).
"""
