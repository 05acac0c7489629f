"""The grouped-conv benchmark compares implementations over one kernel shape, and times one of them."""

import keras
import numpy as np

from src.bench.grouped_conv import implementations, step_seconds


def test_narrow_groups_add_igcs_path_and_every_path_has_the_same_kernel():
    wide = implementations(channels=64, groups=8, kernel=3)  # 8 input channels per group
    narrow = implementations(channels=48, groups=24, kernel=3)  # IGC-L24M2's 2-channel groups
    assert set(wide) == {"split", "native", "dense"}
    on_tensorflow = keras.backend.backend() == "tensorflow"  # IGC's depthwise path runs there only
    assert set(narrow) == {"split", "native", "dense"} | ({"narrow"} if on_tensorflow else set())
    x = np.zeros((1, 6, 6, 48), "float32")
    shapes = {}
    for name, factory in narrow.items():
        layer = factory()
        assert keras.ops.shape(layer(x)) == (1, 6, 6, 48)
        shapes[name] = tuple(layer.kernel.shape)
    assert shapes["split"] == shapes["native"] == shapes.get("narrow", (3, 3, 2, 48)) == (3, 3, 2, 48)
    assert shapes["dense"] == (3, 3, 48, 48)


def test_step_seconds_times_each_repeat():
    times = step_seconds(implementations(8, 2, 1)["split"], (2, 4, 4, 8, 2, 1), repeats=2)
    assert len(times) == 2 and all(t > 0 for t in times)
