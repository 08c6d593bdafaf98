"""A distributed run's bookkeeping: its plan or its refusal, its outcome once the parts are
summed and trained, and its failure record when the state machine could not finish it.

What the state machine's ``plan``, ``reduce`` and ``fail`` steps answer; the work on the
data is ``distributed_steps``', the records are written as a single run writes them
(``attempt``). Every step is safe to repeat.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from linreg import pipeline
from linreg.config import Hyperparameters, Limits
from linreg.contract import TRANSITIONS_PER_DISTRIBUTED_RUN, TRANSITIONS_PER_PART
from linreg.deadline import Deadline
from linreg.errors import RunError, excerpt
from linreg.payloads import RunPayload
from linreg.service import distributed_reduce, distributed_steps
from linreg.service.attempt import Attempt, Outcome
from linreg.service.completion import Completion
from linreg.service.layout import Layout

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def plan_distributed(
    s3: S3Client,
    run: RunPayload,
    *,
    layout: Layout,
    env: Mapping[str, str],
    limits: Limits,
    completion: Completion | None = None,
) -> tuple[dict, Outcome | None]:
    """The state machine's first step: the plan's location and how long planning took (the
    run's cost counts it), or, for input it cannot train on (a bad manifest, a missing part,
    a header that does not match), the run's failure record written at once and its outcome,
    also in the answer as ``refused`` (the execution then ends, and succeeds: a user's
    mistake is not the service failing)."""
    started = time.perf_counter()
    try:
        planned = distributed_steps.plan(s3, run, layout=layout, env=env, limits=limits)
        return {**planned, "seconds": time.perf_counter() - started, "refused": None}, None
    except RunError as error:
        attempt = _distributed_attempt(s3, run, layout, completion)
        outcome = attempt.fail(error, settings=run["settings"])
    refused = {"bucket": None, "key": None, "parts": 0, "seconds": time.perf_counter() - started}
    return {**refused, "refused": outcome.as_dict()}, outcome


def finish_distributed(
    s3: S3Client,
    run: RunPayload,
    *,
    layout: Layout,
    env: Mapping[str, str] | None = None,
    limits: Limits | None = None,
    deadline: Deadline | None = None,
    completion: Completion | None = None,
) -> Outcome:
    """The state machine's last step: the parts' statistics summed, trained and published
    (or recorded) as one run of the whole file would be. A retry after an error (S3's, say)
    finds what the first try finished and completes the rest. The run's cost is the plan's,
    the parts' and this step's seconds, their requests and the state transitions."""
    attempt = _distributed_attempt(s3, run, layout, completion)
    settings = run["settings"]
    done = attempt.already_done()
    if done is not None:
        return done
    parts = run["plan"]["parts"]
    try:
        table, part_seconds = distributed_reduce.parts_dataset(
            s3, run, limits=limits or Limits(), env=env or {}, deadline=deadline
        )
        earlier = run["plan"].get("seconds", 0.0) + part_seconds

        def cost() -> dict:
            return attempt.completion.meter.cost(
                seconds=earlier + time.perf_counter() - attempt.started,
                requests=parts + 2,
                transitions=TRANSITIONS_PER_DISTRIBUTED_RUN + parts * TRANSITIONS_PER_PART,
            )

        execution = {"mode": "distributed", "parts": parts}
        result = pipeline.train(
            table,
            Hyperparameters.from_strings(settings),
            source=run["source"],
            run_id=run["run_id"],
            execution=execution,
            deadline=deadline,
            cost=cost,
        )
    except RunError as error:
        return attempt.fail(error, settings=settings)
    return attempt.finish(result, settings=settings)


def fail_distributed(
    s3: S3Client, run: RunPayload, *, layout: Layout, completion: Completion | None = None
) -> Outcome:
    """A failure record for a run the state machine could not finish, unless it finished
    after all: a run that was published (its latest.json move failed, say) is completed
    instead, so that no run is both published and recorded as failed."""
    attempt = _distributed_attempt(s3, run, layout, completion)
    done = attempt.already_done()
    if done is not None:
        return done
    cause = run.get("error") or {}
    error = RunError(
        "run_failed",
        "the distributed run could not finish: "
        f"{excerpt(str(cause.get('Error', 'error')))}: {str(cause.get('Cause', ''))[:500]}",
    )
    return attempt.fail(error, settings=run["settings"])


def _distributed_attempt(
    s3: S3Client, run: RunPayload, layout: Layout, completion: Completion | None
) -> Attempt:
    where = {"bucket": run["bucket"], "key": run["key"]}
    return Attempt(
        s3,
        layout,
        run["name"],
        run["run_id"],
        where,
        run["source"],
        completion=completion or Completion(),
    )
