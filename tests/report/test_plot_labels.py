"""Point labels of the report plots do not overlap and stay inside the axes; log ticks are plain numbers."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from src.report.plot_labels import label_points, plain_log_x_axis  # noqa: E402


def test_labels_of_close_points_do_not_overlap_and_stay_left_of_the_right_edge():
    fig, ax = plt.subplots(figsize=(4, 3))
    points = [(1.0, 0.500, "first label"), (1.0, 0.501, "second label"), (1.0, 0.502, "third label"),
              (10.0, 0.7, "a label at the right edge")]
    ax.scatter([p[0] for p in points], [p[1] for p in points])
    texts = label_points(ax, points)
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in texts]
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    assert max(b.x1 for b in boxes) <= ax.get_window_extent(renderer).x1
    plt.close(fig)


def test_plain_log_axis_labels_ticks_as_plain_numbers():
    fig, ax = plt.subplots()
    ax.scatter([14, 140], [0.9, 0.95])
    plain_log_x_axis(ax)
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert "20" in labels and "100" in labels
    assert not any("10^" in label or "times" in label for label in labels)
    assert not [t for t in ax.xaxis.get_minorticklabels() if t.get_text()]
    plt.close(fig)
