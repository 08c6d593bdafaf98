"""What AWS Step Functions enforces and moto 5.2.5's interpreter does not, put into moto
while a block runs, so that a definition which fails on AWS fails in the tests too.

    with strict_step_functions.enforced(retry_wait_scale=0.01) as waits:
        ...  # start executions in moto; ``waits`` lists every retry's wait in seconds

Each rule quotes the AWS page it comes from; tests/infra/test_strict_step_functions.py has
one test per rule, and each of them fails with its rule taken out.

- **256 KiB on state data** (quotas "Maximum input or output size for a task, state, or
  execution", https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html):
  moto checks a state's output and a Lambda task's answer, not what a state is given, nor a
  Map's collected child results before ResultSelector and ResultPath work on them. Step
  Functions checks those too (the ResultWriter section of
  https://docs.aws.amazon.com/step-functions/latest/dg/input-output-resultwriter.html; aws-cdk
  issue 24799): a Distributed Map whose children's answers add up past 256 KiB fails even
  with ``ResultPath: null``. A StartExecution input and each child execution's input are
  held to the same limit (the StartExecution API reference: input at most 262,144 bytes).
- **``States.ALL`` is not all** (concepts-error-handling, "Error names",
  https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html): it
  "can't catch the States.DataLimitExceeded terminal error" nor States.Runtime, so neither a
  Retry nor a Catch on States.ALL handles them; moto lets both catch everything.
- **A failed child fails the Map** (the failure threshold of a Distributed Map,
  https://docs.aws.amazon.com/step-functions/latest/dg/state-map-distributed.html#maprun-fail-threshold):
  past ToleratedFailureCount or ToleratedFailurePercentage (zero of each unless set), the
  Map Run fails with ``States.ExceedToleratedFailureThreshold``. moto records the failed
  child as ``null`` and lets the Map succeed.
- **A Lambda task's answer is the whole Invoke response** (the output example of
  https://docs.aws.amazon.com/step-functions/latest/dg/connect-lambda.html): besides
  ``Payload`` and ``StatusCode``, Step Functions adds ``SdkHttpMetadata`` (every HTTP header,
  twice) and ``SdkResponseMetadata``, about 1 kB per call. moto leaves them out, so a Map of
  children answering with the whole response looked four times smaller than on AWS.
- **StartExecution's idempotency** (the StartExecution API reference: the same name and
  input as a *running* execution returns it; a closed one, or other input, is
  ``ExecutionAlreadyExists``): moto already does this, so there is nothing to add; the tests
  pin it.

Retries wait as AWS makes them (IntervalSeconds, BackoffRate, MaxDelaySeconds, jitter),
times ``retry_wait_scale``: the tests shrink the waits, not the schedule.
"""

from __future__ import annotations

import time
import types
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest import mock

from moto.stepfunctions.exceptions import ValidationException
from moto.stepfunctions.parser.api import ExecutionFailedEventDetails, HistoryEventType
from moto.stepfunctions.parser.asl.component.common.error_name import error_equals_decl
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
    StatesErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.common.path.result_path import ResultPath
from moto.stepfunctions.parser.asl.component.common.result_selector import ResultSelector
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor.distributed_item_processor_worker import (  # noqa: E501 - moto's module path
    DistributedItemProcessorWorker,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.component.state.state import CommonStateField
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.models import StepFunctionsParserBackend
from moto.stepfunctions.parser.quotas import MAX_STATE_SIZE_UTF8_BYTES, is_within_size_quota

# What States.ALL does not match (concepts-error-handling).
UNCATCHABLE_BY_ALL = (
    StatesErrorNameType.StatesStatesDataLimitExceeded,
    StatesErrorNameType.StatesRuntime,
)
DATA_LIMIT = StatesErrorNameType.StatesStatesDataLimitExceeded
THRESHOLD = StatesErrorNameType.StatesExceedToleratedFailureThreshold


def failure(env: Environment, error: StatesErrorNameType, cause: str) -> FailureEventException:
    """The exception moto's interpreter raises for a state that failed with ``error``."""
    return FailureEventException(
        failure_event=FailureEvent(
            env=env,
            error_name=StatesErrorName(typ=error),
            event_type=HistoryEventType.TaskFailed,
            # moto declares EventDetails total, and reads only the one key a failure has.
            event_details=EventDetails(  # type: ignore[typeddict-item]
                executionFailedEventDetails=ExecutionFailedEventDetails(
                    error=error.to_name(), cause=cause
                )
            ),
        )
    )


def check_size(env: Environment, value: Any, what: str) -> None:
    if not is_within_size_quota(value):
        limit = MAX_STATE_SIZE_UTF8_BYTES
        raise failure(env, DATA_LIMIT, f"{what} exceeds the service limit of {limit} bytes")


# --- the rules: each returns what to patch, and the replacement ---------------------------


def state_input_within_quota() -> list:
    """A state's input, as it enters the state. moto checks every state's output, so what
    this adds is a Distributed Map child's input (its item after ItemSelector)."""
    original = CommonStateField._eval_state_input

    def _eval_state_input(self, env: Environment) -> None:
        check_size(env, env.states.get_input(), f"The input of the state '{self.name}'")
        original(self, env)

    return [(CommonStateField, "_eval_state_input", _eval_state_input)]


def result_within_quota() -> list:
    """A state's result as its work made it (a Map's: every child's answer), before
    ResultSelector and ResultPath, which AWS applies only after the check."""

    def checked(original: Callable) -> Callable:
        def _eval_body(self, env: Environment) -> None:
            name = env.next_state_name
            check_size(env, env.stack[-1], f"The result of the state '{name}'")
            original(self, env)

        return _eval_body

    return [
        (ResultSelector, "_eval_body", checked(ResultSelector._eval_body)),
        (ResultPath, "_eval_body", checked(ResultPath._eval_body)),
    ]


def catch_all_spares_terminal_errors() -> list:
    """``States.ALL`` in a Retry or Catch does not match DataLimitExceeded or Runtime."""
    declaration = error_equals_decl.ErrorEqualsDecl
    original = declaration._eval_body
    wildcard = StatesErrorName(typ=StatesErrorNameType.StatesALL)

    def _eval_body(self, env: Environment) -> None:
        error = env.stack[-1]
        terminal = isinstance(error, StatesErrorName) and error.typ in UNCATCHABLE_BY_ALL
        if terminal and wildcard in self.error_names:
            env.stack.pop()
            env.stack.append(error in self.error_names and error != wildcard)
            return
        original(self, env)

    return [(declaration, "_eval_body", _eval_body)]


def map_fails_past_tolerance() -> list:
    """Failed (or timed-out) children past the tolerated count or percentage fail the Map
    Run. Only a tolerance that is set counts; with neither set, none is tolerated."""
    original = DistributedItemProcessorWorker._eval_job

    def _eval_job(self, env: Environment, job: Any) -> None:
        original(self, env, job)
        record = self._map_run_record
        failed = record.item_counter.failed.get() + record.item_counter.timed_out.get()
        if failed and past_tolerance(
            failed,
            total=self._job_pool._jobs_number,
            count=record.tolerated_failure_count,
            percentage=record.tolerated_failure_percentage,
        ):
            cause = "The specified tolerated failure threshold was exceeded"
            job.job_output = failure(env, THRESHOLD, cause)

    return [(DistributedItemProcessorWorker, "_eval_job", _eval_job)]


def past_tolerance(failed: int, *, total: int, count: int, percentage: float) -> bool:
    if not count and not percentage:
        return True
    over_count = bool(count) and failed > count
    over_percentage = bool(percentage) and 100.0 * failed / total > percentage
    return over_count or over_percentage


def execution_input_within_quota() -> list:
    """StartExecution's input: at most 262,144 bytes (the API's length constraint)."""
    original = StepFunctionsParserBackend.start_execution

    def start_execution(
        self, state_machine_arn: str, name: Any = None, execution_input: Any = None, **rest: Any
    ):
        size = len((execution_input or "").encode())
        if size > MAX_STATE_SIZE_UTF8_BYTES:
            raise ValidationException(
                f"1 validation error detected: Value at 'input' failed to satisfy constraint: "
                f"Member must have length less than or equal to {MAX_STATE_SIZE_UTF8_BYTES} "
                f"(it has {size})"
            )
        return original(self, state_machine_arn, name, execution_input, **rest)

    return [(StepFunctionsParserBackend, "start_execution", start_execution)]


def lambda_answers_carry_http_metadata() -> list:
    """A ``lambda:invoke`` task's result with the HTTP metadata Step Functions adds."""
    original = lambda_eval_utils.execute_lambda_function_integration

    def execute_lambda_function_integration(env: Environment, **arguments: Any) -> None:
        original(env=env, **arguments)
        env.stack.append({**env.stack.pop(), **http_metadata()})

    return [
        (
            lambda_eval_utils,
            "execute_lambda_function_integration",
            execute_lambda_function_integration,
        )
    ]


def http_metadata() -> dict:
    """SdkHttpMetadata and SdkResponseMetadata as Step Functions writes them (values made up,
    lengths as AWS's)."""
    request_id = str(uuid.uuid4())
    headers = {
        "Connection": "keep-alive",
        "Content-Length": "64",
        "Content-Type": "application/json",
        "Date": time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime()),
        "X-Amz-Executed-Version": "$LATEST",
        "x-amzn-Remapped-Content-Length": "0",
        "x-amzn-RequestId": request_id,
        "X-Amzn-Trace-Id": f"root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]};"
        f"parent={uuid.uuid4().hex[:16]};sampled=0;lineage=1:{uuid.uuid4().hex[:8]}:0",
    }
    return {
        "SdkHttpMetadata": {
            "AllHttpHeaders": {name: [value] for name, value in headers.items()},
            "HttpHeaders": headers,
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": {"RequestId": request_id},
    }


RULES = (
    state_input_within_quota,
    result_within_quota,
    catch_all_spares_terminal_errors,
    map_fails_past_tolerance,
    execution_input_within_quota,
    lambda_answers_carry_http_metadata,
)


def scaled_sleep(scale: float, waits: list[float]) -> types.SimpleNamespace:
    """A stand-in for the ``time`` module of moto's retrier, which only sleeps with it."""

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds * scale)

    return types.SimpleNamespace(sleep=sleep)


@contextmanager
def enforced(*, retry_wait_scale: float = 1.0) -> Iterator[list[float]]:
    """moto holding to every rule in RULES, and retries waiting ``retry_wait_scale`` times
    their time, until the block ends. Yields the list of retry waits (the seconds AWS would
    wait), filled as retries happen."""
    waits: list[float] = []
    with ExitStack() as stack:
        for rule in RULES:
            for owner, attribute, replacement in rule():
                stack.enter_context(mock.patch.object(owner, attribute, replacement))
        stack.enter_context(
            mock.patch.object(retrier_decl, "time", scaled_sleep(retry_wait_scale, waits))
        )
        yield waits
