"""Every operation of the referral service's served OpenAPI, fuzzed with schemathesis: no input
the schema allows (or nearly allows) gets a 5xx, and every response matches what the schema
declares for it. The operations come from the served schema, so new ones are covered too."""

import contextlib
import uuid
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from schemas.codes import Role
from tests.integration.referral_api.conftest import Tokens, register_organisation

pytestmark = [
    pytest.mark.integration,
    # Hypothesis warns when the global `random` state changes during a draw; the app's own
    # background tasks (Kafka clients' jittered retries) change it from another thread.
    pytest.mark.filterwarnings(
        "ignore:Do not use the `random` module inside strategies"
        ":hypothesis.errors.HypothesisDeprecationWarning"
    ),
]

CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]
MODES = [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
EXAMPLES = 25
# Whatever operation of whatever schema: the checks read it, this test only passes it on.
Operation = schemathesis.APIOperation[Any, Any, Any, Any]


def _send(client: TestClient, request: dict[str, Any]) -> Any:
    """Send schemathesis' requests-style request through the app's own test client."""
    assert not request.get("cookies"), "the API takes no cookies"
    extra: dict[str, Any] = {}
    if "json" in request:
        extra["json"] = request["json"]
    if request.get("data") is not None:
        extra["content"] = request["data"]
    return client.request(
        request["method"],
        request["url"],
        params=request.get("params"),
        headers=request["headers"],
        **extra,
    )


def _check(
    client: TestClient,
    operation: Operation,
    mode: schemathesis.GenerationMode,
    headers: dict[str, str],
) -> None:
    """Up to EXAMPLES cases of one operation in one mode, the same ones every run."""

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        case = data.draw(operation.as_strategy(generation_mode=mode))
        request = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
        try:
            response = _send(client, request)
        except Exception as error:
            # The test client re-raises what the app raised (a 500 on a real server).
            error.add_note(f"Reproduce with: {case.as_curl_command(headers=headers)}")
            raise
        case.validate_response(response, checks=CHECKS)

    # Unsatisfiable: nothing to make invalid (no parameter and no body) in negative mode.
    with contextlib.suppress(Unsatisfiable):
        run()


def _describe(error: BaseException) -> str:
    """The error and, for a group, each error inside it (schemathesis puts the
    reproduction there)."""
    text = "\n".join([str(error), *getattr(error, "__notes__", [])])
    if isinstance(error, BaseExceptionGroup):
        text += "".join("\n  - " + _describe(inner) for inner in error.exceptions)
    return text


def _fuzz(client: TestClient, headers: dict[str, str]) -> list[str]:
    """Every operation, each in both modes; the findings, one text each."""
    schema = schemathesis.openapi.from_dict(client.get("/openapi.json").json())
    findings: list[str] = []
    operations: list[Operation] = []
    for result in schema.get_all_operations():
        if isinstance(result, Ok):
            operations.append(result.ok())
        else:
            findings.append(f"an operation schemathesis cannot read: {result.err()}")
    assert operations
    for operation in operations:
        for mode in MODES:
            try:
                _check(client, operation, mode, headers)
            except (Exception, BaseExceptionGroup) as error:
                findings.append(f"{operation.label} [{mode.value}]: {_describe(error)}")
    return findings


def test_an_admin_gets_no_server_error_and_only_declared_responses(
    client: TestClient, tokens: Tokens
) -> None:
    organisation = uuid.UUID(register_organisation(client, tokens)["organisation_id"])

    findings = _fuzz(client, tokens.headers(organisation, Role.ADMIN))

    assert not findings, "\n\n".join(findings)


def test_a_filer_and_coordinator_gets_no_server_error_and_only_declared_responses(
    client: TestClient, tokens: Tokens
) -> None:
    organisation = uuid.UUID(register_organisation(client, tokens)["organisation_id"])

    findings = _fuzz(client, tokens.headers(organisation, Role.FILER, Role.COORDINATOR))

    assert not findings, "\n\n".join(findings)
