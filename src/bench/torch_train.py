"""PyTorch's training step timed in a process of its own (TensorFlow and PyTorch in one process
crash with a segmentation fault here, measured with TF 2.21 and torch 2.14.1):

    python -m src.bench.torch_train <torchvision name> <size> <batch> <steps> <warmup> [cpu|cuda] [precision] [compile 0|1]

Prints JSON: the seconds of each timed step (forward + backward + SGD update, after ``warmup`` steps),
the trainable parameter count and the thread count. On ``cuda`` the model and batch live on the GPU in
channels-last layout with cuDNN autotuning (what a tuned PyTorch script does; Keras is NHWC already),
every step ends with a synchronisation, and ``precision`` is ``float32`` or autocast to
``mixed_bfloat16`` / ``mixed_float16`` (with a gradient scaler), the counterparts of Keras' policies.
With ``compile`` 1 the model runs through ``torch.compile`` (TorchInductor, default mode): PyTorch's own
answer to XLA, compiled during the warm-up steps; ``first_step_s`` reports how long the first step took.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

CLASSES = 10  # peers.CLASSES; not imported from there, because peers imports Keras (this worker runs without it)
AUTOCAST = {"float32": None, "mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}


def main(name: str, size: int, batch: int, steps: int, warmup: int, device: str = "cpu",
         precision: str = "float32", compile_model: bool = False) -> dict:
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
    seconds, first_step_s = [], 0.0
    for i in range(warmup + steps):
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device, dtype=getattr(torch, half or "float32"), enabled=half is not None):
            loss = loss_fn(forward(x), y)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        if on_gpu:
            torch.cuda.synchronize()
        if i == 0:
            first_step_s = time.perf_counter() - start
        if i >= warmup:
            seconds.append(time.perf_counter() - start)
    return {"seconds": seconds, "params": sum(p.numel() for p in model.parameters() if p.requires_grad),
            "threads": torch.get_num_threads(), "compiled": compile_model, "first_step_s": first_step_s,
            "device": torch.cuda.get_device_name() if on_gpu else "cpu", "torch": torch.__version__,
            "tf32": f"cudnn={torch.backends.cudnn.allow_tf32},matmul={torch.backends.cuda.matmul.allow_tf32}"}


if __name__ == "__main__":
    name, size, batch, steps, warmup, *rest = sys.argv[1:]
    device, precision, compiled = (rest + ["cpu", "float32", "0"][len(rest):])[:3]
    print(json.dumps(main(name, int(size), int(batch), int(steps), int(warmup), device, precision, bool(int(compiled)))))
