"""PyTorch's training step timed in a process of its own (TensorFlow and PyTorch in one process
crash with a segmentation fault here, measured with TF 2.21 and torch 2.14.1):

    python -m src.bench.torch_train <torchvision name> <size> <batch> <steps> <warmup>

Prints JSON: the seconds of each timed step (forward + backward + SGD update, after ``warmup`` steps)
and the trainable parameter count.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

CLASSES = 10


def main(name: str, size: int, batch: int, steps: int, warmup: int) -> dict:
    import torch
    import torchvision

    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(num_classes=CLASSES)
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.normal(size=(batch, 3, size, size)).astype("float32"))
    y = torch.from_numpy(rng.integers(0, CLASSES, size=batch).astype("int64"))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = torch.nn.CrossEntropyLoss()
    model.train()
    seconds = []
    for i in range(warmup + steps):
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        optimizer.step()
        if i >= warmup:
            seconds.append(time.perf_counter() - start)
    return {"seconds": seconds, "params": sum(p.numel() for p in model.parameters() if p.requires_grad),
            "threads": torch.get_num_threads()}


if __name__ == "__main__":
    name, *numbers = sys.argv[1:]
    print(json.dumps(main(name, *map(int, numbers))))
