"""An embedded S3 (moto's server on 127.0.0.1) for running the function with no AWS account."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

# Fake credentials keep boto3 from looking for real ones (and from ever signing for AWS).
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


@contextmanager
def embedded_s3() -> Iterator[str]:
    """Start an S3 server on a free loopback port and point boto3 at it; yields its URL.

    Inside the block every new boto3 S3 client talks to it (``AWS_ENDPOINT_URL_S3``);
    the environment is restored and the server stopped on exit.
    """
    from moto.server import ThreadedMotoServer

    # The server's request log would drown the command's own output.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    try:
        with mock.patch.dict(os.environ, {**FAKE_AWS, "AWS_ENDPOINT_URL_S3": url}):
            yield url
    finally:
        server.stop()


class LocalStateMachine:
    """A stand-in for the scale-out state machine's client, for ``linreg invoke``: an
    execution runs at once, in this process, through the function's own steps in the state
    machine's order (plan, the parts on a few threads, reduce; the fail step if one raises).
    The state machine itself is exercised in moto by the tests (tests/infra)."""

    def __init__(self, step, threads: int = 4) -> None:
        self.step, self.threads = step, threads
        self.outcomes: dict[str, dict] = {}

    def start_execution(self, *, stateMachineArn: str, name: str, input: str) -> dict:  # noqa: N803
        import json
        from concurrent.futures import ThreadPoolExecutor

        from botocore.exceptions import ClientError

        if name in self.outcomes:
            error = {"Error": {"Code": "ExecutionAlreadyExists", "Message": name}}
            raise ClientError(error, "StartExecution")
        run = json.loads(input)
        try:
            plan = self.step({**run, "linreg_step": "plan"})
            items = self._plan_items(plan)
            with ThreadPoolExecutor(self.threads) as pool:
                list(pool.map(lambda item: self.step({"linreg_step": "part", "item": item}), items))
            outcome = self.step({"linreg_step": "reduce", "run": {**run, "plan": plan}})
        except Exception as error:  # as the state machine catches any step's failure
            cause = {"Error": type(error).__name__, "Cause": str(error)}
            outcome = self.step({"linreg_step": "fail", "run": {**run, "error": cause}})
        self.outcomes[name] = outcome
        return {"executionArn": f"{stateMachineArn}:{name}"}

    @staticmethod
    def _plan_items(plan: dict) -> list[dict]:
        import json

        import boto3

        body = boto3.client("s3").get_object(Bucket=plan["bucket"], Key=plan["key"])["Body"]
        return json.loads(body.read())
