"""ProgressLog: a log line within long epochs when Keras prints one line per epoch."""

import logging

import keras
import numpy as np

from src.train.callbacks import ProgressLog


def test_progress_lines_name_the_step_metrics_speed_and_time_left(caplog):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    y = np.arange(64) % 3
    logger = logging.getLogger("test_progress_log")
    with caplog.at_level(logging.INFO, logger="test_progress_log"):
        model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[ProgressLog(0.0, 8, logger)])
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 * 8  # every_s=0: one line per step, 8 steps per epoch
    assert lines[0].startswith("epoch 1/2: step 1/8 (12 %), loss ") and "accuracy " in lines[0]
    assert "images/s" in lines[0] and " left in the epoch" in lines[0]
    assert lines[-1].startswith("epoch 2/2: step 8/8 (100 %)")


def test_no_line_before_the_interval_has_passed(caplog):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = np.zeros((16, 4), "float32"), np.zeros(16, "int64")
    logger = logging.getLogger("test_progress_log_quiet")
    with caplog.at_level(logging.INFO, logger="test_progress_log_quiet"):
        model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[ProgressLog(3600.0, 8, logger)])
    assert not caplog.records
