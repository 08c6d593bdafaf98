"""The distributed path: whether an upload goes there, starting its run on the state
machine, and recognising an execution that ended unfinished.

An upload above ``LINREG_DISTRIBUTED_ABOVE_BYTES`` (or a manifest of part files) is not
trained in place: the function starts a Step Functions execution named after the run, so
that duplicate deliveries start it once. The state machine then calls the same function
with ``{"linreg_step": ...}``:

- ``plan``: read the header(s), cut the object(s) into byte ranges (a ``.csv.gz`` is one
  part), write the plan (a JSON array) under the run's folder;
- ``part`` (one per plan item, in a Distributed Map): the range's statistics, written
  under the run's folder; an input problem is written as the part's result, not raised;
- ``reduce``: sum the parts (all of them, or nothing), train and publish as one run would;
- ``fail``: a failure record for a run the state machine could not finish.

The steps' work is ``distributed_steps``' (plan, part, the parts' sum); ``distributed_run``
makes each the run's outcome (a refused plan, the published model, a failure record).
Every step is safe to repeat: the state machine retries a step that raised (S3's
transient errors), and a retried step rewrites the same files.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, cast

from botocore.exceptions import ClientError

from linreg.config import Hyperparameters, Limits
from linreg.contract import MANIFEST_SUFFIX, STARTED_FILE, STATE_MACHINE_ARN_ENV
from linreg.errors import InputError
from linreg.payloads import RunPayload
from linreg.service import storage
from linreg.service.distributed_steps import distributed_above, distributed_folder
from linreg.service.layout import Layout, is_run_id, run_id_for
from linreg.service.storage import InputObject

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def state_machine(env: Mapping[str, str]) -> str | None:
    """The state machine to start, or ``None`` where there is none (local runs)."""
    return env.get(STATE_MACHINE_ARN_ENV) or None


def goes_distributed(upload: InputObject, env: Mapping[str, str]) -> bool:
    """Whether an upload trains on the state machine: a manifest always, a file above the
    size, and neither where no state machine is deployed."""
    if state_machine(env) is None:
        return False
    return upload.key.endswith(MANIFEST_SUFFIX) or upload.size > distributed_above(env)


def check_trainable_here(upload: InputObject) -> None:
    """A manifest names part files for the state machine; without one it cannot train."""
    if upload.key.endswith(MANIFEST_SUFFIX):
        raise InputError(
            "bad_manifest",
            f"{upload.key} is a manifest of part files, which only a deployment with the "
            "scale-out state machine trains",
        )


def check_distributable(upload: InputObject, hyperparameters: Hyperparameters, limits: Limits):
    """Refuse, before anything starts, what a distributed run could never train."""
    if not upload.key.endswith(MANIFEST_SUFFIX):
        storage.check_size(upload, limits.max_input_bytes)
    if hyperparameters.engine != "statistics":
        raise InputError(
            "invalid_hyperparameters",
            f"the {hyperparameters.engine} engine trains on the rows in one function; "
            f"s3://{upload.bucket}/{upload.key} trains in parts, from their statistics: "
            "use the statistics engine",
        )


def started_key(layout: Layout, run: RunPayload) -> str:
    return distributed_folder(layout, run) + STARTED_FILE


def start(sfn, arn: str, run: RunPayload, *, s3: S3Client, layout: Layout) -> bool:
    """Start the run's execution; ``False`` when another delivery started it first.

    StartExecution alone cannot tell: for an execution still running with the same name
    and input it succeeds again (API_StartExecution, "idempotent"), and only a closed one
    answers ExecutionAlreadyExists. So the first delivery also marks the run in S3, by a
    conditional write that exactly one delivery wins; every delivery still starts it, so a
    delivery that marked it and then failed leaves no run unstarted.
    """
    first = storage.put_if_absent(
        s3, run["bucket"], started_key(layout, run), json.dumps({"run_id": run["run_id"]}).encode()
    )
    try:
        sfn.start_execution(stateMachineArn=arn, name=run["run_id"], input=json.dumps(run))
    except ClientError as error:
        if storage.error_code(error) == "ExecutionAlreadyExists":
            return False
        raise
    return first


def is_execution_end(event: dict) -> bool:
    """EventBridge's word that a state machine execution ended (the stack sends only the
    unfinished ones: timed out, aborted or failed)."""
    return (
        event.get("source") == "aws.states"
        and event.get("detail-type") == "Step Functions Execution Status Change"
    )


def unfinished_run(event: dict, *, env: Mapping[str, str], layout: Layout) -> RunPayload | None:
    """The run of an execution that ended unfinished, with why, for its failure record;
    ``None`` for an event that is not about a run this deployment could have started."""
    detail = event.get("detail") or {}
    if detail.get("stateMachineArn") != state_machine(env):
        return None
    try:
        run = json.loads(detail.get("input") or "")
    except ValueError:
        return None
    if not _is_own_run(run, detail.get("name"), layout):
        return None
    status = str(detail.get("status", "FAILED"))
    cause = detail.get("cause") or f"the execution ended {status}"
    # _is_own_run has checked it is one of this function's run payloads.
    return cast(RunPayload, {**run, "error": {"Error": f"States.{status}", "Cause": str(cause)}})


def _is_own_run(run: object, name: object, layout: Layout) -> bool:
    """Whether ``run`` is an execution input the function made: named after its run id,
    which its upload's identity and settings give, for a key and name it would train."""
    if not isinstance(run, dict) or not isinstance(name, str) or not is_run_id(name):
        return False
    try:
        source, key = run["source"], run["key"]
        same_id = (
            name
            == run["run_id"]
            == run_id_for(
                etag=run["etag"],
                version_id=run["version_id"],
                last_modified=datetime.fromisoformat(source["last_modified"]),
                settings=run["settings"],
            )
        )
    except (KeyError, TypeError, ValueError):
        return False
    model = layout.model_name(key) if isinstance(key, str) else None
    return (
        same_id
        and model is not None
        and model == run["name"]
        and layout.name_problem(model, key=key) is None
    )
