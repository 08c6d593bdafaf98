"""The stack's state machine run in moto, with the function's steps served by a Python
callable in this process: for the tests (tests/infra) and ``linreg invoke
--distributed-above``. Needs the development install (moto, and aws-cdk-lib to synthesize).

    from linreg.local.state_machine import run_state_machine

    execution = run_state_machine(template, steps, {"bucket": ..., "key": ..., ...})
    assert execution.status == "SUCCEEDED", execution.cause

- ``template``: the synthesized stack (an ``aws_cdk.assertions.Template`` or its
  ``to_json()`` dict). Its one ``AWS::StepFunctions::StateMachine`` definition is taken
  with every intrinsic resolved (``definition``): the training function's ARN becomes
  ``FUNCTION_ARN``, the data bucket's name ``bucket``, the partition, region and account
  moto's.
- ``steps(event) -> dict``: what the function does for one Lambda step; ``event`` is the
  payload the state machine sent (``{"linreg_step": "plan", ...}``). Its return value is the
  Lambda response payload (JSON). An exception becomes a Lambda function error (its
  ``errorType`` is the exception's class name), as the Lambda runtime reports an unhandled
  one. For the real function: ``lambda event: handler.lambda_handler(event, None)``.
  Distributed Map children run as threads of this process, so ``steps`` must be
  thread-safe.
- ``input``: the execution input (a dict).
- ``s3_setup(s3)``: optional; called with a moto S3 client after ``bucket`` exists and
  before the execution starts, to put uploads in place.

It runs inside ``mock_aws`` with moto executing state machines and Lambda without Docker;
moto's Lambda backend is patched so that an invoke of any function calls ``steps``. Inside
another ``mock_aws`` (the ``s3`` fixture), it shares that mock's S3: the bucket is created
only if missing, and the caller can read the results afterwards. It returns an
``Execution``: status, parsed output, error and cause, every step call in order, and the
bucket's objects at the end.

moto 5.2.5 executes a Distributed Map in Standard mode with the S3 JSON item reader,
ItemSelector, MaxConcurrency and ResultPath null. Where it is more permissive than AWS (the
256 KiB limit on a Map's collected results and on a child's input, a failed child, what
``States.ALL`` catches, the HTTP metadata in a Lambda task's answer), the runner holds it to
AWS's rules: see ``linreg.local.strict_step_functions``. Retries really wait, ``retry_wait_scale``
times their time (the tests use 0.01).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import boto3
from moto import mock_aws
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.config import default_user_config

from linreg.local import strict_step_functions
from linreg.service import storage

REGION = "us-east-1"
PARTITION = "aws"
ACCOUNT = DEFAULT_ACCOUNT_ID
FUNCTION_NAME = "linreg-train"
FUNCTION_ARN = f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT}:function:{FUNCTION_NAME}"
ROLE_ARN = f"arn:{PARTITION}:iam::{ACCOUNT}:role/linreg-state-machine"
MOTO_CONFIG = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}
PSEUDO_PARAMETERS = {
    "AWS::Partition": PARTITION,
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::URLSuffix": "amazonaws.com",
}


@dataclass(frozen=True)
class Call:
    """One Lambda step: the payload it got, and what it returned or the error it raised."""

    event: dict
    result: Any = None
    error: BaseException | None = None


@dataclass(frozen=True)
class Execution:
    """How an execution ended. ``output`` is the parsed output (None unless it succeeded);
    ``error`` and ``cause`` are the Fail state's (None unless it failed)."""

    status: str
    output: Any
    error: str | None
    cause: str | None
    calls: list[Call] = field(default_factory=list)
    objects: dict[str, bytes] = field(default_factory=dict)
    retry_waits: list[float] = field(default_factory=list)

    def calls_of(self, step: str) -> list[Call]:
        """The calls whose payload names ``step`` ("plan", "part", "reduce", "fail")."""
        return [call for call in self.calls if call.event.get("linreg_step") == step]


# --- the definition, with its intrinsics resolved -----------------------------------------


def _resources(template: Any) -> dict:
    rendered = template.to_json() if hasattr(template, "to_json") else template
    return rendered["Resources"]


def _names(resources: dict, bucket: str) -> dict[tuple[str, str | None], str]:
    """(logical id, attribute or None for Ref) -> its value in moto, for the resources a
    definition may name: the training function, the data bucket, the state machine."""
    names: dict[tuple[str, str | None], str] = {}
    for logical_id, resource in resources.items():
        kind, properties = resource["Type"], resource.get("Properties", {})
        if kind == "AWS::Lambda::Function" and properties.get("PackageType") == "Image":
            names[(logical_id, None)] = FUNCTION_NAME
            names[(logical_id, "Arn")] = FUNCTION_ARN
        elif kind == "AWS::S3::Bucket" and "LoggingConfiguration" in properties:
            names[(logical_id, None)] = bucket
            names[(logical_id, "Arn")] = f"arn:{PARTITION}:s3:::{bucket}"
        elif kind == "AWS::StepFunctions::StateMachine":
            name = properties["StateMachineName"]
            arn = f"arn:{PARTITION}:states:{REGION}:{ACCOUNT}:stateMachine:{name}"
            names[(logical_id, None)] = arn
            names[(logical_id, "Arn")] = arn
            names[(logical_id, "Name")] = name
    return names


def resolve(value: Any, names: dict[tuple[str, str | None], str]) -> Any:
    """``value`` with Ref, Fn::GetAtt, Fn::Join, Fn::Select and Fn::Split worked out;
    fails on any other intrinsic, or a resource ``names`` does not know."""
    if isinstance(value, list):
        return [resolve(item, names) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) != 1 or not next(iter(value)).startswith(("Ref", "Fn::")):
        return {key: resolve(item, names) for key, item in value.items()}
    ((function, argument),) = value.items()
    if function == "Ref":
        if argument in PSEUDO_PARAMETERS:
            return PSEUDO_PARAMETERS[argument]
        return names[(argument, None)]
    if function == "Fn::GetAtt":
        logical_id, attribute = argument if isinstance(argument, list) else argument.split(".")
        return names[(logical_id, attribute)]
    if function == "Fn::Join":
        separator, parts = argument
        return separator.join(resolve(part, names) for part in parts)
    if function == "Fn::Select":
        index, items = argument
        return resolve(items, names)[int(index)]
    if function == "Fn::Split":
        separator, text = argument
        return resolve(text, names).split(separator)
    raise ValueError(f"cannot resolve {function} in a state machine definition")


def definition(template: Any, bucket: str) -> dict:
    """The one state machine's definition (ASL), every intrinsic resolved for moto."""
    resources = _resources(template)
    machines = [r for r in resources.values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    assert len(machines) == 1, f"expected one state machine, found {len(machines)}"
    properties = machines[0]["Properties"]
    names = _names(resources, bucket)
    text = resolve(properties["DefinitionString"], names)
    for name, value in resolve(properties.get("DefinitionSubstitutions", {}), names).items():
        text = text.replace("${" + name + "}", str(value))
    return json.loads(text)


def state_machine_name(template: Any) -> str:
    (name,) = [
        r["Properties"]["StateMachineName"]
        for r in _resources(template).values()
        if r["Type"] == "AWS::StepFunctions::StateMachine"
    ]
    return name


# --- running it ---------------------------------------------------------------------------


def _backing(steps: Callable[[dict], Any], calls: list[Call], lock: threading.Lock):
    """A stand-in for moto's LambdaSimpleBackend.invoke(function_name, qualifier, body,
    headers, response_headers) -> bytes: the payload ``steps`` returns, as JSON, or a
    function error the way Lambda reports an unhandled exception (the X-Amz-Function-Error
    header, and errorType and errorMessage in the payload)."""

    def invoke(
        backend: LambdaSimpleBackend,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: dict,
    ) -> bytes:
        assert function_name in (FUNCTION_ARN, FUNCTION_NAME), function_name
        event = json.loads(body or "{}")
        try:
            result = steps(event)
        except Exception as error:  # noqa: BLE001 - Lambda reports any exception
            with lock:
                calls.append(Call(event, error=error))
            response_headers["x-amz-function-error"] = "Unhandled"
            payload = {"errorType": type(error).__name__, "errorMessage": str(error)}
            return json.dumps(payload).encode()
        with lock:
            calls.append(Call(event, result=result))
        return json.dumps(result).encode()

    return invoke


@contextmanager
def serving(
    template: Any,
    steps: Callable[[dict], Any],
    bucket: str,
    *,
    retry_wait_scale: float = 1.0,
) -> Iterator[Served]:
    """The template's state machine created in moto, its Lambda steps served by ``steps``,
    and ``bucket`` made if missing, until the block ends."""
    with serving_definition(
        definition(template, bucket),
        steps,
        bucket=bucket,
        name=state_machine_name(template),
        retry_wait_scale=retry_wait_scale,
    ) as served:
        yield served


@contextmanager
def serving_definition(
    asl: dict,
    steps: Callable[[dict], Any],
    *,
    bucket: str,
    name: str,
    retry_wait_scale: float = 1.0,
) -> Iterator[Served]:
    """``serving`` for a definition already resolved (``asl``), named ``name``. moto holds
    to what AWS enforces and it does not (strict_step_functions); retries wait
    ``retry_wait_scale`` times what AWS would wait."""
    calls: list[Call] = []
    lock = threading.Lock()
    # patch.dict restores moto's configuration afterwards, even when this mock is nested in
    # another one (a nested mock_aws leaves its configuration in place when it stops).
    with (
        mock.patch.dict(default_user_config),
        # MOTO_CONFIG is one of moto's DefaultConfig dicts, which its overloads spell out.
        mock_aws(config=MOTO_CONFIG),  # type: ignore[call-overload]
        mock.patch.object(LambdaSimpleBackend, "invoke", _backing(steps, calls, lock)),
        strict_step_functions.enforced(retry_wait_scale=retry_wait_scale) as waits,
    ):
        s3 = boto3.client("s3", region_name=REGION)
        if bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
            s3.create_bucket(Bucket=bucket)
        sfn = boto3.client("stepfunctions", region_name=REGION)
        arn = sfn.create_state_machine(
            name=name, definition=json.dumps(asl), roleArn=ROLE_ARN, type="STANDARD"
        )["stateMachineArn"]
        try:
            yield Served(sfn=sfn, s3=s3, arn=arn, calls=calls, retry_waits=waits)
        finally:
            sfn.delete_state_machine(stateMachineArn=arn)


@dataclass(frozen=True)
class Served:
    """What ``serving`` set up: the clients, the state machine's ARN, the step calls."""

    sfn: Any
    s3: Any
    arn: str
    calls: list[Call]
    retry_waits: list[float] = field(default_factory=list)

    def wait(self, execution_arn: str, timeout_seconds: float = 60.0) -> dict:
        """The execution, once it no longer runs (describe_execution's answer)."""
        return _wait(self.sfn, execution_arn, timeout_seconds)


def run_state_machine(
    template: Any,
    steps: Callable[[dict], Any],
    input: dict,  # noqa: A002 - the execution's input, as Step Functions calls it
    *,
    bucket: str,
    s3_setup: Callable[[Any], None] | None = None,
    timeout_seconds: float = 60.0,
    retry_wait_scale: float = 1.0,
) -> Execution:
    """Create the template's state machine in moto, back the function with ``steps``, run
    one execution with ``input`` and wait for it to end (see the module's docstring)."""
    with serving(template, steps, bucket, retry_wait_scale=retry_wait_scale) as served:
        if s3_setup is not None:
            s3_setup(served.s3)
        execution_arn = served.sfn.start_execution(
            stateMachineArn=served.arn, input=json.dumps(input)
        )["executionArn"]
        described = served.wait(execution_arn, timeout_seconds)
        objects = _objects(served.s3, bucket)
    status = described["status"]
    return Execution(
        status=status,
        output=json.loads(described["output"]) if described.get("output") else None,
        error=described.get("error"),
        cause=described.get("cause"),
        calls=list(served.calls),
        objects=objects,
        retry_waits=list(served.retry_waits),
    )


def _wait(sfn: Any, execution_arn: str, timeout_seconds: float) -> dict:
    deadline = time.monotonic() + timeout_seconds
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            return described
        if time.monotonic() > deadline:
            raise TimeoutError(f"the execution still runs after {timeout_seconds} s")
        time.sleep(0.05)


def _objects(s3: Any, bucket: str) -> dict[str, bytes]:
    keys = storage.list_keys(s3, bucket, "")
    return {key: s3.get_object(Bucket=bucket, Key=key)["Body"].read() for key in keys}


def synthesized_template(**context: str) -> dict:
    """The stack's template as ``cdk synth`` makes it from this checkout (cdk.json's context,
    ``context`` over it). Needs aws-cdk-lib and Node.js, as ``make synth`` does."""
    import tempfile
    from pathlib import Path

    repo = Path(__file__).resolve().parents[3]
    _use_pinned_node(repo / "node_modules" / ".bin")
    from linreg_infra.app import build_app

    base = json.loads((repo / "cdk.json").read_text())["context"]
    with tempfile.TemporaryDirectory(prefix="linreg-cdk.out.") as outdir:
        (stack,) = build_app(context={**base, **context}, outdir=outdir).synth().stacks
        return json.loads(Path(stack.template_full_path).read_text())


def _use_pinned_node(folder) -> None:
    """Run the CDK's Node.js as ``make`` does: the Node 22 package.json pins, ahead of
    whatever Node the PATH has (an older one makes jsii print warnings on every run)."""
    import os

    if (folder / "node").exists() and not os.environ.get("PATH", "").startswith(str(folder)):
        os.environ["PATH"] = f"{folder}{os.pathsep}{os.environ.get('PATH', '')}"


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN of the execution ``name`` of a state machine."""
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:')}:{name}"
