"""paper.saliency_text: the perturbation-test verdicts, the foreground sentence, the
randomisation verdict on each side of its rule and occlusion's scope, in words."""
import numpy as np
import pandas as pd
import pytest
import torch

from fmnist_lib.paper.saliency_text import (brightness_clause, faithful_clause, faithfulness_verdict,
                                            foreground_sentence, near, occlusion_scope, randomisation_verdict)
from fmnist_lib.saliency.faithfulness import faithfulness_summary
from fmnist_lib.saliency.foreground import foreground_shares
from fmnist_lib.saliency.sanity import MARGIN, randomisation_check
from synthetic import FILLS, constant_gaps, faith_areas as areas


# --- perturbation tests ------------------------------------------------------------------

def test_verdicts_on_both_sides():
    every = faithfulness_summary(areas({("gradcam", f): 0.2 for f in FILLS}))
    text = faithfulness_verdict(every, "simple")
    assert text == ("On Simple CNN, Grad-CAM passes 8 of 8 tests; no map does significantly "
                    "worse than random.")
    none = faithfulness_summary(areas({("gradcam", f): -0.2 for f in FILLS}))
    text = faithfulness_verdict(none, "simple")
    assert "passes 0 of 8" in text and ("worse than random: Grad-CAM in deletion with black, "
                                        "blur and mean fill, ROAD deletion, insertion") in text
    mixed = faithfulness_summary(areas({("gradcam", "black"): 0.2, ("brightness", "black"): 0.4}))
    assert faithful_clause(every) == "Grad-CAM passes every perturbation test on Simple CNN"
    assert faithful_clause(mixed) == "no map passes every perturbation test on Simple CNN"
    both = pd.concat([mixed, mixed.assign(model="lenet")])
    assert faithful_clause(both) == "no map passes every perturbation test on either model"
    assert faithful_clause(pd.concat([every, mixed.assign(model="lenet")])) == (
        "Grad-CAM passes every perturbation test on Simple CNN; no map passes every perturbation test on LeNet-5")
    with pytest.raises(ValueError, match="No rows"):
        faithfulness_verdict(every, "lenet")


def test_brightness_beating_the_maps_is_said_plainly():
    mixed = faithfulness_summary(areas({("gradcam", "black"): 0.2, ("brightness", "black"): 0.4,
                                        ("brightness", "blur"): 0.3}))
    assert brightness_clause(mixed) == ("The image's brightness, which knows nothing of the model: "
                                        "on Simple CNN it beats Grad-CAM on 4 of 8 tests.")
    every = faithfulness_summary(areas({("gradcam", f): 0.2 for f in FILLS}))
    assert brightness_clause(every).endswith("on Simple CNN it beats no map.")
    with pytest.raises(ValueError, match="no comparison with the brightness"):
        brightness_clause(every.drop(columns=["loses_to_baseline"]))


@pytest.mark.parametrize("gap, passes, worse", [(0.0, False, False), (1e-9, True, False), (-1e-9, False, True)])
def test_pass_and_worse_than_random_at_a_gap_of_zero(gap, passes, worse):
    s = faithfulness_summary(constant_gaps({("deletion", "black"): gap, ("insertion", "black"): 0.1}))
    text = faithfulness_verdict(s, "simple")
    assert text.startswith(f"On Simple CNN, Grad-CAM passes {1 + passes} of 2 tests")
    assert ("worse than random: Grad-CAM in deletion with black fill" in text) == worse


def test_verdict_orders_explainers_by_tests_passed():
    gaps = {("deletion", "black"): 0.1, ("insertion", "black"): 0.1, ("deletion", "road"): -0.1}
    s = faithfulness_summary(constant_gaps(gaps))
    hires = s.assign(explainer="hirescam", passes=True, gap_high=0.2)
    text = faithfulness_verdict(pd.concat([s, hires]), "simple")
    assert text == ("On Simple CNN, HiResCAM passes 3 of 3 tests and Grad-CAM 2; significantly worse "
                    "than random: Grad-CAM in ROAD deletion.")


def test_verdict_names_unknown_models_and_keeps_tied_explainers_in_table_order():
    s = faithfulness_summary(constant_gaps({("deletion", "black"): 0.1, ("insertion", "black"): -0.1}))
    s["model"] = "tiny"
    three = pd.concat([s.assign(explainer="zeta"), s.assign(explainer="alpha"), s.assign(explainer="mid")])
    text = faithfulness_verdict(three, "tiny")
    assert text == ("On tiny, zeta passes 1 of 2 tests, alpha 1 and mid 1; significantly worse than "
                    "random: zeta in insertion with black fill; alpha in insertion with black fill; "
                    "mid in insertion with black fill.")


# --- where the maps point ----------------------------------------------------------------

def test_foreground_sentence():
    stats = dict(mean=0.286, std=0.353)
    raw = np.zeros((2, 1, 28, 28))
    raw[:, :, 7:21, 7:21] = 0.8  # a 14 x 14 garment: 25 % of the image
    X = torch.tensor((raw - stats["mean"]) / stats["std"], dtype=torch.float32)[[0, 1, 0, 1]]
    on, off = np.zeros((4, 28, 28)), np.ones((4, 28, 28))
    on[:, 7:21, 7:21] = 1.0 + np.arange(4)[:, None, None]
    off[:, 7:21, 7:21] = 0.1 * np.arange(4)[:, None, None]
    shares = foreground_shares(X, {"simple/occ": on, "lenet/occ": off}, **stats)
    text = foreground_sentence(shares, {"simple": "Simple CNN", "occ": "occlusion"})
    # lenet: 196 * 0.1 k / (196 * 0.1 k + 588) for k = 0..3: 0, 3.2, 6.25, 9.1 %, mean 4.6 %
    assert text == ("The garment covers 25 % of an analysed image on average; the share of a map's "
                    "mass on it is more for Simple CNN's occlusion (100 %); less for lenet's occlusion (5 %). "
                    "The 1-px frame covers 13.8 % of the image; a larger share of the mass than that lies "
                    "on it for lenet's occlusion (17.5 %).")  # 108 / (588 + 19.6 k): 18.4, 17.8, 17.2, 16.7 %


# --- the randomisation check ---------------------------------------------------------------

def check(last, reference, steps=2, early=0.5):
    """randomisation_check of a cascade whose last step has per-image values ``last``."""
    n = len(last)
    cascade = pd.DataFrame({"step": np.repeat(np.arange(1, steps + 1), n), "layer": "l",
                            "image": np.tile(np.arange(n), steps),
                            "spearman": np.r_[np.full(n * (steps - 1), early), last]})
    return randomisation_check(cascade, pd.DataFrame({"image": np.arange(n), "spearman": reference}))


def test_randomisation_verdict_follows_the_rule_both_ways():
    """The sentence says "passes" exactly when the excess's CI lies below the margin, "fails"
    exactly when above, "undecided" across it; and the numbers it gives are the check's."""
    ref = np.linspace(0.1, 0.3, 20)
    passed = check(ref + 0.05 + np.linspace(-0.01, 0.01, 20), ref)  # excess 0.05 +- small: below 0.1
    failed = check(ref + 0.18 + np.linspace(-0.01, 0.01, 20), ref)  # 0.18: above
    straddles = check(ref + 0.1 + np.linspace(-0.2, 0.2, 20), ref)  # 0.1 +- wide: across
    assert (passed["outcome"], failed["outcome"], straddles["outcome"]) == ("passes", "fails", "undecided")
    assert passed["excess"][2] < MARGIN < failed["excess"][1]
    assert straddles["excess"][1] < MARGIN < straddles["excess"][2]
    text = randomisation_verdict({"Grad-CAM": passed, "HiResCAM": failed, "occlusion": straddles}, "LeNet-5")
    assert text.startswith("On LeNet-5, with both layers random, Grad-CAM's maps correlate with the trained "
                           f"ones at {passed['last'][0]:.2f} against {passed['reference'][0]:.2f} for two "
                           f"independently initialised networks' (excess +{passed['excess'][0]:.2f} [")
    assert text.endswith(": Grad-CAM passes; HiResCAM fails; occlusion is undecided.")
    assert f"HiResCAM's at {failed['last'][0]:.2f} against {failed['reference'][0]:.2f} (+0.18 [" in text
    # the old fixed threshold would have passed the failing map: its correlation is below 0.5
    assert failed["last"][2] < 0.5
    assert randomisation_verdict({"A": passed, "B": passed}, "M").endswith(": A and B pass.")
    assert randomisation_verdict({"A": failed, "B": failed, "C": failed}, "M").endswith(": A, B and C fail.")
    assert randomisation_verdict({"A": straddles, "B": straddles}, "M").endswith(": A and B are undecided.")


def test_randomisation_verdict_counts_the_layers_and_the_images():
    ref = np.linspace(0.1, 0.3, 20)
    last = ref + 0.02
    last[:5] = np.nan  # constant maps at the cascade's end: those images leave every number
    c = check(last, ref, steps=5)
    assert (c["n"], c["images"], c["steps"]) == (15, 20, 5)
    text = randomisation_verdict({"Grad-CAM": c}, "LeNet-5")
    assert text == (f"On LeNet-5, with all 5 layers random, Grad-CAM's maps correlate with the trained ones "
                    f"at {np.nanmean(last):.2f} against {ref[5:].mean():.2f} for two independently initialised "
                    "networks' (excess +0.02 [+0.02, +0.02]; 15 of 20 images, the others have a constant "
                    "map): Grad-CAM passes.")
    with pytest.raises(ValueError, match=r"^checks is empty\.$"):
        randomisation_verdict({}, "X")
    with pytest.raises(ValueError, match="different margins"):
        randomisation_verdict({"A": c, "B": {**c, "margin": 0.2}}, "X")


def test_an_interval_end_at_the_margin_is_shown_on_its_side():
    """0.102 rounds to the margin: the sentence shows it to 3 decimals, so "fails" reads true;
    a zero is shown unsigned, never "-0.00"."""
    ref = np.linspace(0.1, 0.3, 20)
    c = check(ref + 0.102 + np.r_[0.0, 0.0, np.full(18, 0.0)], ref)
    c = {**c, "excess": (0.14, 0.102, 0.175), "outcome": "fails"}
    text = randomisation_verdict({"occlusion": c}, "M")
    assert "[+0.102, +0.17" in text and text.endswith(": occlusion fails.")
    assert near(-0.001, signed=True) == "0.00" and near(0.0) == "0.00" and near(-0.004, (0.0,), True) == "-0.004"
    assert near(0.249, (0.25, 0.75)) == "0.249" and near(0.26, (0.25,)) == "0.26" and near(0.12, signed=True) == "+0.12"
    assert near(0.7504, (0.25, 0.75)) == "0.7504" and near(0.75, (0.75,)) == "0.75"


def test_occlusion_scope_says_subset_or_all():
    assert occlusion_scope(300, 1000) == ("it explains a stratified 300 of the 1,000 analysed test images; "
                                          "Grad-CAM and HiResCAM explain all of them")
    assert occlusion_scope(200, 200) == "it explains all 200 analysed test images, as Grad-CAM and HiResCAM do"
    with pytest.raises(ValueError, match="n_occ"):
        occlusion_scope(201, 200)


def test_randomisation_caveat_names_what_does_not_pass_and_says_when_all_pass():
    from fmnist_lib.paper.saliency_text import randomisation_caveat

    models, maps = {"simple": "the Simple CNN", "lenet": "LeNet-5"}, {"gradcam": "Grad-CAM", "occlusion": "occlusion"}
    checks = {("simple", "gradcam"): {"outcome": "passes"}, ("simple", "occlusion"): {"outcome": "fails"},
              ("lenet", "gradcam"): {"outcome": "undecided"}, ("lenet", "occlusion"): {"outcome": "passes"}}
    text = randomisation_caveat(checks, models, maps)
    assert text.startswith("In the randomisation check occlusion fails on the Simple CNN and Grad-CAM is "
                           "undecided on LeNet-5: ")
    both = {k: {"outcome": "fails"} for k in checks}
    assert randomisation_caveat(both, models, maps).startswith(
        "In the randomisation check Grad-CAM and occlusion fail on the Simple CNN and Grad-CAM and occlusion "
        "fail on LeNet-5")
    assert randomisation_caveat({k: {"outcome": "passes"} for k in checks}, models, maps) == \
        "Every map passes the randomisation check on both models."
    with pytest.raises(ValueError):
        randomisation_caveat({}, models, maps)


def test_answers_caveat_gives_the_excess_against_the_margin_and_flags_a_close_call():
    from fmnist_lib.paper.saliency_text import answers_caveat

    models, maps = {"simple": "the Simple CNN", "lenet": "LeNet-5"}, {"occlusion": "occlusion", "gradcam": "Grad-CAM"}
    checks = {("simple", "occlusion"): {"outcome": "fails", "excess": (0.14, 0.1023, 0.18), "margin": 0.1},
              ("simple", "gradcam"): {"outcome": "passes", "excess": (-0.42, -0.53, -0.32), "margin": 0.1},
              ("lenet", "gradcam"): {"outcome": "undecided", "excess": (0.06, -0.02, 0.15), "margin": 0.1}}
    text = answers_caveat(checks, models, maps)
    assert text == ("These answers stand beside the randomisation check: occlusion fails it on the Simple CNN "
                    "(excess +0.14 [+0.102, +0.18] against the 0.1 margin, borderline) and Grad-CAM is undecided in "
                    "it on LeNet-5 (excess +0.06 [-0.02, +0.15] against the 0.1 margin), so the agreement of those "
                    "maps is weaker evidence of what the trained models learned.")
    far = {("simple", "occlusion"): {**checks[("simple", "occlusion")], "excess": (0.3, 0.2, 0.4)}}
    assert "borderline" not in answers_caveat(far, models, maps) and "that map" in answers_caveat(far, models, maps)
    assert answers_caveat({("simple", "gradcam"): checks[("simple", "gradcam")]}, models, maps) == ""


# --- mutation survivors (issue 25, part B): the exact sentences, unknown keys, the edges --------

def test_randomisation_caveat_exact_sentence_names_unknown_keys_and_rejects_no_checks():
    from fmnist_lib.paper.saliency_text import randomisation_caveat

    checks = {("simple", "occlusion"): {"outcome": "fails"}, ("tiny", "mystery"): {"outcome": "undecided"}}
    text = randomisation_caveat(checks, {"simple": "the Simple CNN"}, {"occlusion": "occlusion"})
    assert text == ("In the randomisation check occlusion fails on the Simple CNN and mystery is undecided on "
                    "tiny: a map that fails it stays close to the trained model's when the weights are random, and "
                    "an undecided one may, so their agreement is weaker evidence of what the trained models learned.")
    fails = randomisation_caveat({("simple", "occlusion"): {"outcome": "fails"}}, {}, {})
    assert fails.endswith(": a map that fails it stays close to the trained model's when the weights are random, "
                          "so its agreement is weaker evidence of what the trained models learned.")
    undecided = randomisation_caveat({("lenet", "gradcam"): {"outcome": "undecided"}}, {}, {})
    assert undecided == ("In the randomisation check gradcam is undecided on lenet: an undecided map may stay close "
                         "to the trained model's when the weights are random, so its agreement is weaker evidence "
                         "of what the trained models learned.")
    with pytest.raises(ValueError, match=r"^checks is empty\.$"):
        randomisation_caveat({}, {}, {})


def test_answers_caveat_names_unknown_keys_and_measures_the_nearest_end():
    from fmnist_lib.paper.saliency_text import answers_caveat

    # undecided: the CI's upper end (0.105) is 0.005 from the margin, its lower end (-0.05) 0.15
    up = {("tiny", "mystery"): {"outcome": "undecided", "excess": (0.03, -0.05, 0.105), "margin": 0.1}}
    assert answers_caveat(up, {}, {}) == (
        "These answers stand beside the randomisation check: mystery is undecided in it on tiny (excess +0.03 "
        "[-0.05, +0.105] against the 0.1 margin, borderline), so the agreement of that map is weaker evidence "
        "of what the trained models learned.")
    # the lower end near the margin (0.095), the upper far (0.3): borderline too
    low = {("m", "e"): {"outcome": "undecided", "excess": (0.2, 0.095, 0.3), "margin": 0.1}}
    assert "margin, borderline)" in answers_caveat(low, {}, {})
    # neither end within 0.01 of the margin: not borderline
    wide = {("m", "e"): {"outcome": "undecided", "excess": (0.1, -0.2, 0.4), "margin": 0.1}}
    assert "borderline" not in answers_caveat(wide, {}, {})
    # exactly ``close`` away is not "within" it (binary-exact values: 0.375 - 0.25 == 0.125)
    edge = {("m", "e"): {"outcome": "fails", "excess": (0.5, 0.375, 0.625), "margin": 0.25}}
    assert "borderline" not in answers_caveat(edge, {}, {}, close=0.125)
    assert "borderline" in answers_caveat(edge, {}, {}, close=np.nextafter(0.125, 1))


def test_occlusion_scope_takes_a_single_image():
    assert occlusion_scope(1, 5) == ("it explains a stratified 1 of the 5 analysed test images; "
                                     "Grad-CAM and HiResCAM explain all of them")
    assert occlusion_scope(1, 1) == "it explains all 1 analysed test images, as Grad-CAM and HiResCAM do"
    with pytest.raises(ValueError, match=r"^n_occ must be between 1 and n_images=5, got 0\.$"):
        occlusion_scope(0, 5)


def shares_table(maps: dict[str, tuple[float, float]], n=4, area=0.75, frame_area=0.125):
    """A foreground_shares-shaped table whose every image has mass ``(silhouette, frame)`` per map,
    on a silhouette of ``area`` and a frame of ``frame_area`` (binary-exact values: a constant
    excess gives a CI of exactly that value)."""
    return pd.concat([pd.DataFrame({"maps": k, "image": np.arange(n), "silhouette": s, "frame": f,
                                    "silhouette_area": area, "frame_area": frame_area})
                      for k, (s, f) in maps.items()], ignore_index=True)


def test_foreground_sentence_groups_by_the_sign_of_the_excess_with_zero_in_neither():
    shares = shares_table({"simple/gradcam": (1.0, 0.25), "lenet/gradcam": (0.75, 0.125),
                           "simple/occlusion": (0.5, 0.0), "lenet/hirescam": (0.875, 0.25),
                           "brightness": (0.75, 0.0)})
    text = foreground_sentence(shares, {"simple": "Simple CNN", "gradcam": "Grad-CAM"})
    assert text == ("The garment covers 75 % of an analysed image on average; the share of a map's mass on it "
                    "is more for Simple CNN's Grad-CAM (100 %), lenet's hirescam (88 %); less for Simple CNN's "
                    "occlusion (50 %); about as much for lenet's Grad-CAM (75 %), brightness (75 %). The 1-px "
                    "frame covers 12.5 % of the image; a larger share of the mass than that lies on it for "
                    "Simple CNN's Grad-CAM (25.0 %), lenet's hirescam (25.0 %).")
    none = foreground_sentence(shares_table({"simple": (0.75, 0.125)}), {"simple": "Simple CNN"})
    assert none == ("The garment covers 75 % of an analysed image on average; the share of a map's mass on it is "
                    "about as much for Simple CNN (75 %). No map puts a larger share of its mass on the 1-px "
                    "frame than the frame's share of the image.")
    one = foreground_sentence(shares_table({"m/e": (0.5, 0.25)}))  # one map, on the frame
    assert one.endswith("less for m's e (50 %). The 1-px frame covers 12.5 % of the image; a larger share of "
                        "the mass than that lies on it for m's e (25.0 %).")


def test_randomisation_verdict_exact_sentence_with_every_image_kept():
    """Hand-made checks (the verdict only words them): every image kept, so no image count; the
    first map carries the long wording, the others the short one; an interval end is shown on its
    side of the margin and signed."""
    def c(last, ref, excess, outcome, n=100):
        return {"last": (last, 0.0, 0.0), "reference": (ref, 0.0, 0.0), "excess": excess, "n": n, "images": 100,
                "steps": 2, "margin": 0.1, "outcome": outcome}

    checks = {"Grad-CAM": c(0.25, 0.2, (0.05, 0.03, 0.07), "passes"),
              "HiResCAM": c(0.38, 0.2, (0.18, 0.1004, 0.26), "fails"),
              "occlusion": c(0.3, 0.2, (0.1, -0.02, 0.2), "undecided", n=99)}
    assert randomisation_verdict(checks, "LeNet-5") == (
        "On LeNet-5, with both layers random, Grad-CAM's maps correlate with the trained ones at 0.25 against "
        "0.20 for two independently initialised networks' (excess +0.05 [+0.03, +0.07]), HiResCAM's at 0.38 "
        "against 0.20 (+0.18 [+0.1004, +0.26]) and occlusion's at 0.30 against 0.20 (+0.10 [-0.02, +0.20]; "
        "99 of 100 images, the others have a constant map): Grad-CAM passes; HiResCAM fails; occlusion is "
        "undecided.")


def clause_summary():
    """A hand-made faithfulness summary (only the columns the clauses read): models and explainers
    in an order that is not sorted, an unknown model and explainer, the baseline's own rows."""
    spec = {("tiny", "hirescam"): ([True] * 3, [False] * 3),
            ("simple", "zeta"): ([True] * 3, [True, True, False]),
            ("simple", "occlusion"): ([True] * 3, [False, True, False]),
            ("simple", "gradcam"): ([True, False, True], [False] * 3),
            ("lenet", "gradcam"): ([False, True, True], [True, False, False]),
            ("lenet", "brightness"): ([True] * 3, [False] * 3)}
    return pd.DataFrame([{"model": m, "explainer": e, "test": t, "passes": p, "loses_to_baseline": lose}
                         for (m, e), (ps, ls) in spec.items()
                         for t, p, lose in zip(("deletion", "insertion", "road"), ps, ls)])


def test_faithful_and_brightness_clauses_exact_in_the_summary_order_with_unknown_keys():
    s, labels = clause_summary(), {"occlusion": "Occl."}
    assert faithful_clause(s, labels) == (
        "HiResCAM passes every perturbation test on tiny; zeta and Occl. pass every perturbation test on "
        "Simple CNN; no map passes every perturbation test on LeNet-5")
    assert brightness_clause(s, labels) == (
        "The image's brightness, which knows nothing of the model: on tiny it beats no map; on Simple CNN it "
        "beats zeta on 2 of 3 tests and Occl. on 1; on LeNet-5 it beats Grad-CAM on 1 of 3 tests.")
    with pytest.raises(ValueError, match=r"^The summary has no comparison with the brightness baseline\.$"):
        brightness_clause(s[s["explainer"] == "brightness"])


def test_worse_than_random_names_the_tests_in_the_summary_order():
    s = pd.DataFrame({"model": "simple", "explainer": "gradcam", "test": ["insertion", "deletion", "deletion"],
                      "fill": ["mean", "black", "road"], "passes": False, "gap_high": -0.1})
    assert faithfulness_verdict(s, "simple") == (
        "On Simple CNN, Grad-CAM passes 0 of 3 tests; significantly worse than random: Grad-CAM in insertion "
        "with mean fill, deletion with black fill and ROAD deletion.")


def test_faithfulness_verdict_takes_the_labels_it_is_given():
    s = pd.DataFrame({"model": "simple", "explainer": "gradcam", "test": "deletion", "fill": "black",
                      "passes": [True], "gap_high": [0.2]})
    assert faithfulness_verdict(s, "simple", {"gradcam": "GC", "simple": "the small net"}) == (
        "On the small net, GC passes 1 of 1 tests; no map does significantly worse than random.")
