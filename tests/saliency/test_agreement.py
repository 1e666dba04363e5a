"""gradcam_agreement: IoU and Pearson by hand, references, and the answer on every side."""
import numpy as np
import pytest
import torch

from fmnist_lib.saliency.agreement import (agreement_by_class, agreement_reference_table,
                                          background_share, cam_agreement, frame_share,
                                          plot_agreement, reference_agreement, same_parts_answer,
                                          seeds_phrase, background_base_rate)

STATS = dict(mean=0.286, std=0.353)


def test_agreement_identical_opposite_disjoint():
    maps = np.random.rand(6, 28, 28)
    same = cam_agreement(maps, maps.copy())
    assert np.allclose(same["pearson"], 1) and np.allclose(same["iou"], 1)
    opposite = cam_agreement(maps, 1 - maps)
    assert np.allclose(opposite["pearson"], -1) and np.allclose(opposite["iou"], 0)
    left, right = np.zeros((1, 28, 28)), np.zeros((1, 28, 28))
    left[:, :, :10], right[:, :, 18:] = 1, 1
    assert cam_agreement(left, right)["iou"].item() == 0
    assert np.isnan(cam_agreement(np.zeros((1, 28, 28)), maps[:1])["pearson"].item())


def test_ties_do_not_make_empty_maps_agree():
    """Two all-zero maps: a stable sort would pick the same top-left pixels (IoU 1); random
    tie-breaking gives the chance value top / (2 - top)."""
    zeros = np.zeros((200, 28, 28))
    iou = cam_agreement(zeros, zeros)["iou"].mean()
    assert abs(iou - 0.2 / 1.8) < 0.01


def test_agreement_by_class():
    df = cam_agreement(np.random.rand(20, 28, 28), np.random.rand(20, 28, 28))
    table = agreement_by_class(df, np.arange(20) % 10)
    assert table.loc["All", "n"] == 20 and table["n"].iloc[:10].sum() == 20
    assert np.isclose(table.loc["All", "iou_mean"], df["iou"].mean())
    assert plot_agreement(df).axes


def test_background_and_frame_share():
    raw = np.zeros((2, 1, 28, 28))
    raw[:, :, 7:21, 7:21] = 0.8  # a garment in the middle, black around it (75 % background)
    x = torch.tensor((raw - STATS["mean"]) / STATS["std"], dtype=torch.float32)
    on_garment, on_background = np.zeros((28, 28)), np.ones((28, 28))
    on_garment[7:21, 7:21], on_background[7:21, 7:21] = 1.0, 0.0
    maps = np.stack([on_garment, on_background])
    assert np.allclose(background_share(x, maps, top=0.2, **STATS), [0.0, 1.0])
    assert np.allclose(background_share(x, np.ones((2, 28, 28)), top=1.0, **STATS), 0.75)
    frame = np.zeros((1, 28, 28))
    frame[0, 0, :], frame[0, -1, :], frame[0, :, 0], frame[0, :, -1] = 1, 1, 1, 1
    assert np.isclose(frame_share(frame, top=108 / 784)[0], 1.0)
    assert np.isclose(frame_share(np.ones((1, 28, 28)), top=1.0)[0], 108 / 784)
    with pytest.raises(ValueError, match="do not match"):
        background_share(x, maps[:1], **STATS)


def seeds_of(base, n_seeds, noise, rng):
    return [base + noise * rng.random(base.shape) for _ in range(n_seeds)]


def test_reference_agreement_and_answers():
    rng = np.random.default_rng(0)
    shared = rng.random((60, 28, 28))
    other = rng.random((60, 28, 28))
    # both models see the same parts, reproducibly: "Yes"
    same = reference_agreement({"simple": seeds_of(shared, 3, 0.3, rng),
                                "lenet": seeds_of(shared, 3, 0.3, rng)})
    assert set(same["comparison"]) == {"Simple CNN seeds", "LeNet-5 seeds",
                                       "Simple CNN vs LeNet-5", "chance"}
    assert same_parts_answer(same).startswith("Yes")
    table = agreement_reference_table(same)
    assert table.loc["chance", "iou_mean"] < 0.15 < table.loc["Simple CNN vs LeNet-5", "iou_mean"]
    # reproducible but different parts: "No"
    diff = reference_agreement({"simple": seeds_of(shared, 2, 0.3, rng),
                                "lenet": seeds_of(other, 2, 0.3, rng)})
    assert same_parts_answer(diff).startswith("No")
    # partly shared: "Partly"
    part = reference_agreement({"simple": seeds_of(shared, 2, 0.2, rng),
                                "lenet": seeds_of(0.5 * shared + other, 2, 0.2, rng)})
    assert same_parts_answer(part).startswith("Partly")
    # one model's seeds disagree: no answer
    noisy = reference_agreement({"simple": seeds_of(shared, 2, 0.3, rng),
                                 "lenet": [rng.random((60, 28, 28)) for _ in range(2)]})
    assert same_parts_answer(noisy).startswith("Grad-CAM cannot answer")
    # one seed each (the quick profile): said plainly
    single = reference_agreement({"simple": [shared], "lenet": [shared]})
    assert set(single["comparison"]) == {"Simple CNN vs LeNet-5", "chance"}
    assert same_parts_answer(single).startswith("With one seed per model")
    with pytest.raises(ValueError, match="two models"):
        reference_agreement({"simple": [shared]})


def test_answer_wording_zero_maps_and_helpers():
    rng = np.random.default_rng(1)
    shared, other = rng.random((80, 28, 28)), rng.random((80, 28, 28))
    part = reference_agreement({"simple": seeds_of(shared, 2, 0.2, rng),
                                "lenet": seeds_of(0.5 * shared + other, 2, 0.2, rng)})
    t = agreement_reference_table(part)["iou_mean"]
    slight = t["Simple CNN vs LeNet-5"] - t["chance"] < 0.05
    assert ("only slightly more than chance" in same_parts_answer(part)) == slight
    faint = reference_agreement({"simple": seeds_of(shared, 2, 0.2, rng),
                                 "lenet": seeds_of(0.1 * shared + other, 2, 0.2, rng)})
    assert "only slightly more than chance" in same_parts_answer(faint)
    # a third of one model's maps zero everywhere: unreliable, with the counts
    zeros = seeds_of(shared, 2, 0.3, rng)
    for m in zeros:
        m[:20] = 0.0
    table = agreement_reference_table(reference_agreement({"simple": seeds_of(shared, 2, 0.3, rng),
                                                           "lenet": zeros}))
    assert table.loc["LeNet-5 seeds", "n_pearson"] == 60 and table.loc["LeNet-5 seeds", "n"] == 80
    text = same_parts_answer(reference_agreement({"simple": seeds_of(shared, 2, 0.3, rng),
                                                  "lenet": zeros}), "Grad-CAM")
    assert text.startswith("The Grad-CAM rows are unreliable") and "20 of 80 images for LeNet-5 seeds" in text
    assert seeds_phrase({"Simple CNN": 5, "LeNet-5": 5}) == "five seeds of each"
    assert seeds_phrase({"a": 1, "b": 3}) == "a: one seed, b: three seeds"
    X = np.full((2, 1, 28, 28), 5.0)
    X[0, 0, :14] = -5.0
    assert background_base_rate(X, mean=0.0, std=1.0) == pytest.approx(0.25)
