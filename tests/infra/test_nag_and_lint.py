"""Security and correctness checks on both apps: cdk-nag's AWS Solutions rules (and the
suppressions that silence some of them), and cfn-lint."""

from __future__ import annotations

import re

import aws_cdk as cdk
from aws_cdk.assertions import Annotations, Match, Template
from cdk_nag import AwsSolutionsChecks

from linreg_infra.settings import CONTEXT_KEYS
from template import nag_suppressions

NAG_RULE = Match.string_like_regexp("AwsSolutions-.*")


def test_the_configured_app_sets_every_context_key(configured_context: dict) -> None:
    # Otherwise the checks below never see what an unset key would change.
    assert sorted(configured_context) == sorted(CONTEXT_KEYS)


# --- cdk-nag ------------------------------------------------------------------------------


def test_cdk_nag_reports_no_unsuppressed_errors(any_annotations: Annotations) -> None:
    errors = any_annotations.find_error("*", NAG_RULE)

    assert [f"{e.id}: {e.entry.data}" for e in errors] == []


def test_cdk_nag_reports_no_unsuppressed_warnings(any_annotations: Annotations) -> None:
    warnings = any_annotations.find_warning("*", NAG_RULE)

    assert [f"{w.id}: {w.entry.data}" for w in warnings] == []


def test_every_nag_suppression_is_on_one_resource_with_a_rule_and_a_reason(
    configured_template: Template,
) -> None:
    rendered = configured_template.to_json()
    suppressions = nag_suppressions(rendered["Resources"])

    assert "cdk_nag" not in rendered.get("Metadata", {}), "no stack-wide suppressions"
    assert suppressions
    for logical_id, suppression in suppressions:
        assert re.fullmatch(r"AwsSolutions-\w+", suppression["id"]), logical_id
        assert len(suppression["reason"]) >= 60, (logical_id, suppression)


def test_every_nag_suppression_silences_a_real_finding(own_configured_stack: cdk.Stack) -> None:
    # A suppression that matches nothing would hide the next real finding of its rule.
    # With log_ignores, cdk-nag notes each finding it suppressed as an info annotation.
    stack = own_configured_stack
    cdk.Aspects.of(stack).add(AwsSolutionsChecks(log_ignores=True))
    infos = Annotations.from_stack(stack).find_info("*", Match.any_value())
    noted = [(info.id.lstrip("/"), str(info.entry.data)) for info in infos]
    resources = Template.from_stack(stack).to_json()["Resources"]
    paths = {
        stack.resolve(construct.logical_id): construct.node.path
        for construct in stack.node.find_all()
        if isinstance(construct, cdk.CfnResource)
    }

    for logical_id, suppression in nag_suppressions(resources):
        path = paths[logical_id]
        for finding in suppression.get("applies_to") or [None]:
            note = f"CdkNagSuppression{f'[{finding}]' if finding else ''}: {suppression['id']} "
            assert any(where == path and note in text for where, text in noted), (path, note)


# --- cfn-lint -----------------------------------------------------------------------------


def test_cfn_lint_finds_no_errors(any_lint_findings: list) -> None:
    assert [str(m) for m in any_lint_findings if m.rule.id.startswith("E")] == []


def test_cfn_lint_warns_only_about_cdks_redundant_depends_on(any_lint_findings: list) -> None:
    # W3005: CDK adds DependsOn next to a GetAtt that already implies it. Harmless.
    assert [str(m) for m in any_lint_findings if m.rule.id not in ("W3005",)] == []
