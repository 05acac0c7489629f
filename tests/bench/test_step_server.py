"""src.bench.step_server: a training step in a process of its own, stepped from the suite's rounds."""

from __future__ import annotations

import io
import json

import pytest

from src.bench.measure import timed_rounds
from src.bench.step_server import ProcessStepper, serve

FAKE = "tests.bench.fake_step_server"


def test_serve_answers_each_step_and_stops_at_quit():
    calls = []
    stdin = io.StringIO("step\nbogus\nstep\nquit\nstep\n")
    stdout = io.StringIO()
    served = serve(lambda: calls.append(1) or 0.25, {"params": 3}, stdin, stdout)
    replies = [json.loads(line) for line in stdout.getvalue().splitlines()]
    assert served == 2 and len(calls) == 2  # the step after 'quit' is not run
    assert replies[0] == {"ready": True, "params": 3}
    assert replies[1] == {"seconds": 0.25} and "unknown command 'bogus'" in replies[2]["error"]
    assert replies[3] == {"seconds": 0.25} and len(replies) == 4


def test_process_stepper_steps_on_demand_inside_timed_rounds():
    local = []
    with ProcessStepper(FAKE, "ok", env={"FAKE_FLAG": "seen"}) as remote:
        assert remote.ready["params"] == 7 and remote.ready["flag"] == "seen"
        ours, theirs = timed_rounds([lambda: local.append(1), remote], steps=3, warmup=1)
        assert len(remote.seconds) == 4 and len(local) == 4  # warm-up round included
        assert all(0.009 < s < 1.0 for s in remote.seconds)
        assert len(theirs) == 3 and all(t >= 0.009 for t in theirs) and len(ours) == 3
    assert remote._proc.poll() == 0  # closed: the server saw the end of its input and exited


def test_a_server_that_dies_at_start_is_reported_with_its_stderr():
    with pytest.raises(RuntimeError, match=r"failed during start \(exit 2\).*no such model 'resnet51'"):
        ProcessStepper(FAKE, "crash")


def test_a_server_that_dies_during_a_step_is_reported_with_its_stderr():
    with ProcessStepper(FAKE, "die_on_step") as remote:
        with pytest.raises(RuntimeError, match=r"failed during a step \(exit 3\).*out of memory"):
            remote()
