"""Contract test: the official Python SDK (spine-sdk 0.2.0), a client nobody here wrote,
drives the emulator, and its models parse every response."""

from __future__ import annotations

import pytest
from spine import SpineClient
from spine.exceptions import AuthenticationError, BadRequestError, NotFoundError, SpineAPIError
from spine.models import CanvasDAG, TaskTree

MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def client(api):
    sdk = SpineClient(api_key=api.key, base_url=api.base_url)
    yield sdk
    sdk.close()


def test_create_with_files_wait_and_get(client, api, tmp_path):
    doc = tmp_path / "brief.md"
    doc.write_text("# Brief\n")
    handle = client.runs.create("Launch deck [emulate:duration=1]", template="slides",
                                files=[doc, ("logo.png", b"\x89PNG", "image/png")],
                                agent_instructions="Short. [emulate:tasks=5]")
    assert handle.create_response.status == "running"
    assert handle.create_response.estimated_duration_ms > 0
    result = handle.wait(poll_interval=0.1, max_poll_interval=0.2, timeout=30)
    assert [a.type for a in result.artifacts] == ["pptx"]
    assert result.artifacts[0].size_bytes > 0 and result.final_output
    run = client.runs.get(handle.run_id)
    assert run.status.value == "completed" and run.metadata.template_used == "slides"
    assert run.duration_ms == 1000 and run.canvas_id
    assert [r["user_agent"] for r in api.requests()][0].startswith("spine-sdk-python/")


def test_stream_progress_and_canvas(client, api):
    handle = client.runs.create("Research memo [emulate:duration=1.5] [emulate:tasks=12]",
                                template="memo", blocks=["prompt-block", "memo-block"])
    snapshots = list(handle.stream_progress(poll_interval=0.1))
    assert snapshots, "at least one progress snapshot while running"
    totals = [s.tasks_total for s in snapshots]
    assert totals == sorted(totals) and all(s.tasks_completed <= s.tasks_total for s in snapshots)
    run = handle.refresh()
    dag = client.canvas.get_dag(run.canvas_id)
    assert isinstance(dag, CanvasDAG)
    assert {n.type for n in dag.nodes} == {"prompt-block", "memo-block"}
    assert dag.edges[0].source_id == dag.nodes[0].id
    tree = client.canvas.get_tasks(run.canvas_id)
    assert isinstance(tree, TaskTree) and tree.completed and not tree.not_completed
    one = client.canvas.get_task(run.canvas_id, tree.completed[0].task_id)
    assert one.task_type == "parent-task" and one.children


def test_failed_and_partial_runs(client):
    failed = client.runs.create("x [emulate:outcome=failed] [emulate:duration=0.2]")
    with pytest.raises(SpineAPIError, match="Agent execution failed"):
        failed.wait(poll_interval=0.1, timeout=30)
    partial = client.runs.create("x [emulate:outcome=partial] [emulate:duration=0.2]")
    result = partial.wait(poll_interval=0.1, timeout=30)
    assert result.final_output
    assert partial.refresh().errors[0].recoverable is True


def test_error_classes(client, api):
    with pytest.raises(BadRequestError) as bad:
        client.runs.create("x", template="nope")
    assert bad.value.error_message.startswith("Invalid template: nope.")
    assert bad.value.request_id.startswith("req_")
    with pytest.raises(BadRequestError):
        client.runs.create("x", blocks=[])
    with pytest.raises(BadRequestError, match="Invalid run_id"):
        client.runs.get("not-a-uuid")
    with pytest.raises(NotFoundError) as missing:
        client.runs.get(MISSING)
    assert missing.value.error_message == f"Run not found: {MISSING}"
    with pytest.raises(NotFoundError):
        client.canvas.get_dag(MISSING)
    with pytest.raises(AuthenticationError):
        SpineClient(api_key="sk_live_wrong", base_url=api.base_url).runs.get(MISSING)


def test_sdk_retries_an_injected_503(client, api):
    api.emulator.fault("status", method="GET", path="/v1/run/*", status=503, retry_after=0)
    with pytest.raises(NotFoundError):
        client.runs.get(MISSING)
    assert [r["status"] for r in api.requests()] == [503, 404]


def test_construct_event_accepts_a_delivery_the_emulator_sent(tmp_path):
    from support.emulator import EmulatorHandle
    from support.webhooks import Receiver

    secret = "whsec_contract_secret"
    receiver = Receiver()
    emu = EmulatorHandle(tmp_path / "emu", "--webhook", receiver.url, "--webhook-secret", secret)
    try:
        key = emu.new_key()
        sdk = SpineClient(api_key=key, base_url=emu.base_url)
        handle = sdk.runs.create("Hooked [emulate:duration=0]")
        events = receiver.wait_for(handle.run_id, 2)
        parsed = [sdk.webhooks.construct_event(body, headers["Spine-Signature"], secret)
                  for headers, body in events]
        assert [e.type for e in parsed] == ["run.started", "run.completed"]
        assert parsed[1].data["object"]["run_id"] == handle.run_id
    finally:
        emu.close()
        receiver.close()
