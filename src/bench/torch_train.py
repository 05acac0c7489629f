"""PyTorch's training step timed in a process of its own (TensorFlow and PyTorch in one process
crash with a segmentation fault here, measured with TF 2.21 and torch 2.14.1):

    python -m src.bench.torch_train <torchvision name> <size> <batch> <steps> <warmup> [cpu|cuda] [precision] [compile 0|1]
    python -m src.bench.torch_train --serve <torchvision name> <size> <batch> [cpu|cuda] [precision]

Prints JSON: the seconds of each timed step (forward + backward + SGD update, after ``warmup`` steps),
the trainable parameter count and the thread count. On ``cuda`` the model and batch live on the GPU in
channels-last layout with cuDNN autotuning (what a tuned PyTorch script does; Keras is NHWC already),
every step ends with a synchronisation, and ``precision`` is ``float32`` or autocast to
``mixed_bfloat16`` / ``mixed_float16`` (with a gradient scaler), the counterparts of Keras' policies.
With ``compile`` 1 the model runs through ``torch.compile`` (TorchInductor, default mode): PyTorch's own
answer to XLA, compiled during the warm-up steps; ``first_step_s`` reports how long the first step took.
With ``--serve`` the process sets up once and then runs one step per request (src/bench/step_server.py),
so the suite can time it in interleaved rounds beside Keras.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable

import numpy as np

from src.bench.step_server import serve

CLASSES = 10  # peers.CLASSES; not imported from there, because peers imports Keras (this worker runs without it)
AUTOCAST = {"float32": None, "mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}


def build_step(name: str, size: int, batch: int, device: str = "cpu", precision: str = "float32",
               compile_model: bool = False) -> tuple[Callable[[], float], dict]:
    """(one training step of torchvision's ``name`` on a fixed batch, returning its seconds; facts about
    the run: trainable parameters, threads, device, versions)."""
    import torch
    import torchvision

    if precision not in AUTOCAST:
        raise SystemExit(f"precision {precision!r}: use one of {', '.join(AUTOCAST)}")
    torch.manual_seed(0)
    on_gpu = device == "cuda"
    layout = torch.channels_last if on_gpu else torch.contiguous_format
    torch.backends.cudnn.benchmark = on_gpu
    model = getattr(torchvision.models, name)(num_classes=CLASSES).to(device, memory_format=layout)
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.normal(size=(batch, 3, size, size)).astype("float32")).to(device, memory_format=layout)
    y = torch.from_numpy(rng.integers(0, CLASSES, size=batch).astype("int64")).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    forward = torch.compile(model) if compile_model else model
    loss_fn = torch.nn.CrossEntropyLoss()
    half = AUTOCAST[precision]
    scaler = torch.amp.GradScaler(device, enabled=precision == "mixed_float16")
    model.train()

    def step() -> float:
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device, dtype=getattr(torch, half or "float32"), enabled=half is not None):
            loss = loss_fn(forward(x), y)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        if on_gpu:
            torch.cuda.synchronize()
        return time.perf_counter() - start

    facts = {"params": sum(p.numel() for p in model.parameters() if p.requires_grad),
             "threads": torch.get_num_threads(), "compiled": compile_model,
             "device": torch.cuda.get_device_name() if on_gpu else "cpu", "torch": torch.__version__,
             "tf32": f"cudnn={torch.backends.cudnn.allow_tf32},matmul={torch.backends.cuda.matmul.allow_tf32}"}
    return step, facts


def main(name: str, size: int, batch: int, steps: int, warmup: int, device: str = "cpu",
         precision: str = "float32", compile_model: bool = False) -> dict:
    step, facts = build_step(name, size, batch, device, precision, compile_model)
    seconds = [step() for _ in range(warmup + steps)]
    return {"seconds": seconds[warmup:], "first_step_s": seconds[0] if seconds else 0.0, **facts}


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:  # stepped on demand by src.bench.step_server.ProcessStepper
        name, size, batch, *rest = sys.argv[2:]
        device, precision = (rest + ["cpu", "float32"][len(rest):])[:2]
        step, facts = build_step(name, int(size), int(batch), device, precision)
        serve(step, facts)
    else:
        name, size, batch, steps, warmup, *rest = sys.argv[1:]
        device, precision, compiled = (rest + ["cpu", "float32", "0"][len(rest):])[:3]
        print(json.dumps(main(name, int(size), int(batch), int(steps), int(warmup), device, precision,
                              bool(int(compiled)))))
