"""The app outside this repository's cdk.json: with an empty context (no feature flags, as
in another project's app or a newer CDK's defaults), every construct still gets the
behaviour it relies on, because it sets that itself."""

from __future__ import annotations

import json
from pathlib import Path

from aws_cdk import cx_api

from linreg_infra.app import build_app
from template import access_log_bucket_id, bucket_policy_statements


def test_the_app_synthesizes_without_cdk_json_context(tmp_path: Path) -> None:
    (artifact,) = build_app({}, outdir=str(tmp_path)).synth().stacks
    resources = json.loads(Path(artifact.template_full_path).read_text())["Resources"]
    log_bucket = access_log_bucket_id(resources)
    log_delivery = [
        s
        for s in bucket_policy_statements(resources, log_bucket)
        if s["Effect"] == "Allow" and s["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    ]

    # ACLs stay off: S3 delivers the access logs by the log bucket's policy.
    assert "AccessControl" not in resources[log_bucket]["Properties"]
    assert len(log_delivery) == 1
    # Nothing for cdk-nag to report either.
    assert [
        f"{m.id}: {m.entry.data}"
        for m in artifact.messages
        if m.level != cx_api.SynthesisMessageLevel.INFO
    ] == []
