"""paper.agreement_text: every verdict on both sides of its thresholds, the sentences and the
words an interval admits (the position itself: tests/saliency/test_answer.py)."""
import numpy as np
import pandas as pd
import pytest

from fmnist_lib.paper.agreement_text import (HIGH, LOW, admits, headline_answer, same_parts_answer,
                                             same_parts_answers, seeds_phrase, verdict)
from fmnist_lib.saliency.answer import agreement_position

COMPS = ["Simple CNN seeds", "LeNet-5 seeds", "Simple CNN vs LeNet-5", "same class, other image",
         "Simple CNN vs brightness", "LeNet-5 vs brightness"]


def table(values: dict[str, float], n=200, noise=0.05, seed=0, nan=None) -> pd.DataFrame:
    """A reference_agreement-shaped table: per comparison, value + noise per image."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in COMPS:
        v = values[c] + noise * rng.standard_normal(n)
        if nan and c in nan:
            v[: nan[c]] = np.nan
        rows.append(pd.DataFrame({"comparison": c, "image": np.arange(n), "spearman": v}))
    return pd.concat(rows, ignore_index=True)


def values(cross, chance=0.2, wa=0.6, wb=0.5, ba=0.1, bb=0.1):
    return dict(zip(COMPS, [wa, wb, cross, chance, ba, bb]))


@pytest.mark.parametrize("cross, word", [(0.2, "no"), (0.25, "barely"), (0.35, "partly"),
                                         (0.5, "yes")])
def test_verdicts(cross, word):
    df = table(values(cross))
    p = agreement_position(df)
    assert verdict(p) == word
    if word in ("barely", "partly", "yes"):
        assert (p["position"] >= HIGH) == (word == "yes") and (p["position"] < LOW) == (word == "barely")
    assert same_parts_answer(df, "HiResCAM").lower().startswith(word)


def test_cannot_tell():
    unreproducible = table(values(0.4, wb=0.2))  # LeNet-5's seeds agree at chance
    assert verdict(agreement_position(unreproducible)) == "cannot tell"
    assert same_parts_answer(unreproducible, "Grad-CAM").startswith("Grad-CAM cannot answer: a model's own seeds")
    zeros = table(values(0.4), nan={"Simple CNN seeds": 120, "Simple CNN vs LeNet-5": 120})
    text = same_parts_answer(zeros, "Grad-CAM")
    assert text.startswith("Grad-CAM cannot answer: its maps are constant") and "80 of 200 images" in text
    single = table(values(0.4))
    single = single[~single["comparison"].str.endswith(" seeds")]
    assert same_parts_answer(single, "X").startswith("X cannot place the agreement")


def test_brightness_clause_and_many_explainers():
    df = table(values(0.35, ba=0.6, bb=0.1), noise=0.01)
    text = same_parts_answer(df, "occlusion")
    assert "with Simple CNN's at 0.60" in text and "with LeNet-5's at 0.10" in text
    assert text.index("(more than") < text.index("LeNet-5's at") < text.index("(less than")
    # Simple CNN's brightness beats the cross-model value: on the position scale it is past half of it
    assert "A map that uses no model thus reaches" in text and "where the garment is bright" in text
    assert "for Simple CNN's maps and" in text and "for LeNet-5's maps, against" in text
    assert "of the way on the same scale" in text
    low = same_parts_answer(table(values(0.35, ba=0.05, bb=0.1), noise=0.01), "occlusion")
    assert "(less than" in low and "(more than" not in low and "garment is bright" not in low
    # below the cross value on its paired CI, but past half of its position: the scale sentence says so
    mid = same_parts_answer(table(values(0.35, ba=0.3, bb=0.1), noise=0.01), "occlusion")
    assert "(less than" in mid and "A map that uses no model thus reaches" in mid
    # brightness at or past the cross-model position for every model: all of the agreement may be
    # brightness; for one model only, or past half of it: some of it (LeNet-5's maps track it less
    # than they track the other model's, so brightness cannot account for all of it)
    both = same_parts_answer(table(values(0.35, ba=0.6, bb=0.6), noise=0.01), "occlusion")
    assert "goes as far for every model, so all of that agreement beyond chance may be" in both
    assert "some of that agreement beyond chance may be" in text and "all of that agreement" not in text
    assert "some of that agreement beyond chance may be" in mid and "all of that agreement" not in mid
    stored = pd.concat([table(values(0.35)).assign(explainer="gradcam", cell=2),
                        table(values(0.5)).assign(explainer="occlusion", cell=2)])
    answers = same_parts_answers(stored, 2, labels={"gradcam": "Grad-CAM"})
    assert list(answers) == ["Grad-CAM", "occlusion"] and "14 × 14 grid" in answers["Grad-CAM"]
    with pytest.raises(ValueError, match="4-px cells"):
        same_parts_answers(stored, 4)


def test_headline_answer():
    stored = pd.concat([table(values(0.35)).assign(explainer="hirescam", cell=2),
                        table(values(0.5)).assign(explainer="occlusion", cell=2),
                        table(values(0.4, wb=0.2)).assign(explainer="gradcam", cell=2)])
    text = headline_answer(stored, 2, labels={"hirescam": "HiResCAM", "gradcam": "Grad-CAM"})
    assert text.startswith("on the 14 × 14 grid, partly by HiResCAM (0.")
    assert "of the way from chance to self-agreement, 95 % CI" in text
    assert "; yes by occlusion (" in text and text.endswith("; Grad-CAM cannot tell")
    assert text.count("; n = 200)") == 2  # every answered explainer states its images
    holes = table(values(0.35), nan={"Simple CNN seeds": 50}).assign(explainer="x", cell=2)
    assert headline_answer(holes, 2).endswith("; n = 150 of 200)")
    chance = pd.concat([table(values(0.2)).assign(explainer="gradcam", cell=2), stored[stored["explainer"] == "hirescam"]])
    text = headline_answer(chance, 2, labels={"hirescam": "HiResCAM", "gradcam": "Grad-CAM"})
    assert text.startswith("on the 14 × 14 grid, not by Grad-CAM; partly by HiResCAM (0.")  # "no" reads "not by"


def test_an_interval_across_a_threshold_says_which_words_it_admits():
    assert admits({"position": 0.3, "low": 0.26, "high": 0.5}) == ""
    assert admits({"position": 0.3, "low": 0.1, "high": 0.5}) == ", which also admits “barely”"
    assert admits({"position": 0.3, "low": 0.1, "high": 0.8}) == ", which also admits “barely” and “yes”"
    assert admits({"position": 0.1, "low": 0.05, "high": 0.3}) == ", which also admits “partly”"
    firm, loose = table(values(0.3), noise=0.01), table(values(0.3), n=40, noise=0.15)
    assert verdict(agreement_position(firm)) == "partly" and "admits" not in same_parts_answer(firm, "X")
    p = agreement_position(loose)  # a small, noisy sample: "partly", its interval reaching below LOW
    assert verdict(p) == "partly" and p["low"] < LOW < p["position"] < p["high"] < HIGH
    assert "(95 % CI 0.19–0.43, which also admits “barely”; 40 images)" in same_parts_answer(loose, "X")
    assert ", which also admits “barely”" in headline_answer(loose.assign(explainer="x", cell=2), 2)


def test_brightness_is_placed_on_the_scale_only_where_the_answer_is():
    """A "cannot tell" or "no" has no position to read; its brightness sentence gives none."""
    unreproducible = same_parts_answer(table(values(0.4, wb=0.2, ba=0.6), noise=0.01), "X")
    no = same_parts_answer(table(values(0.2, ba=0.6), noise=0.01), "X")
    placed = same_parts_answer(table(values(0.35, ba=0.6), noise=0.01), "X")
    assert unreproducible.startswith("X cannot answer") and no.startswith("No, by X")
    for text in (unreproducible, no):
        assert "with Simple CNN's at 0.60 (more than" in text
        assert "of the way" not in text and "no model thus reaches" not in text
    assert "of the way on the same scale" in placed and "no model thus reaches" in placed


def test_seeds_phrase_counts_in_words_up_to_ten():
    assert seeds_phrase({"Simple CNN": 5, "LeNet-5": 5}) == "five seeds of each"
    assert seeds_phrase({"a": 1, "b": 3}) == "a: one seed, b: three seeds"
    assert seeds_phrase({"a": 10, "b": 10}) == "ten seeds of each"
    assert seeds_phrase({"a": 11, "b": 11}) == "11 seeds of each"
    assert seeds_phrase({"a": 1, "b": 1}) == "one seed of each"
    assert seeds_phrase({"a": 2, "b": 11}) == "a: two seeds, b: 11 seeds"


def test_the_sentence_states_the_numbers_of_the_images_the_table_uses():
    """The brightness value an answer cites is the table's, on the same images, also when a
    comparison the position does not read (the brightness) is undefined on some images."""
    from fmnist_lib.saliency.agreement import agreement_table

    df = table(values(0.35, ba=0.3), noise=0.05, nan={"Simple CNN vs brightness": 30})
    t = agreement_table(df)
    text = same_parts_answer(df, "X")
    assert t[("spearman", "n")].eq(170).all() and "170 of 200 images" in text
    assert f"with Simple CNN's at {t.loc['Simple CNN vs brightness', ('spearman', 'mean')]:.2f}" in text
    assert f"ρ = {t.loc['Simple CNN vs LeNet-5', ('spearman', 'mean')]:.2f}" in text


# --- mutation survivors (issue 25, part B) ---------------------------------------------------

def stored(*answers, cell=4):
    """The stage's agreement table for explainers named in an unsorted order, each with its
    cross-model value (one noise seed per explainer)."""
    return pd.concat([table(values(c), seed=i).assign(explainer=e, cell=cell) for i, (e, c) in enumerate(answers)],
                     ignore_index=True)


def placed(df, metric="spearman"):
    """(position, low, high) of each explainer, as the sentence shows them (2 decimals; none of
    these lies near a threshold)."""
    out = {}
    for e, g in df.groupby("explainer", sort=False):
        p = agreement_position(g.drop(columns=["explainer", "cell"]), metric)
        out[e] = tuple(f"{p[k]:.2f}" for k in ("position", "low", "high"))
    return out


@pytest.mark.parametrize("first, second", [(("zz", 0.5), ("aa", 0.35)), (("zz", 0.35), ("aa", 0.5)),
                                           (("zz", 0.25), ("aa", 0.5))])
def test_headline_answer_exact_only_the_first_answer_in_full_in_table_order(first, second):
    """Whatever the first answer's word, only it carries "of the way from chance to
    self-agreement, 95 % CI"; explainers keep the table's order; the grid is the cell's."""
    df = stored(first, second)
    (w1, p1), (w2, p2) = [({0.5: "yes", 0.35: "partly", 0.25: "barely"}[c], placed(df)[e]) for e, c in (first, second)]
    assert headline_answer(df, 4) == (
        f"on the 7 × 7 grid, {w1} by zz ({p1[0]} of the way from chance to self-agreement, 95 % CI "
        f"{p1[1]}–{p1[2]}; n = 200); {w2} by aa ({p2[0]}, {p2[1]}–{p2[2]}; n = 200)")


def test_headline_answer_reads_the_metric_it_is_given():
    df = stored(("x", 0.35), cell=2)
    df["top10"] = stored(("x", 0.5), cell=2)["spearman"].to_numpy()  # "yes" on this metric, "partly" on ρ
    assert headline_answer(df, 2, metric="top10").startswith("on the 14 × 14 grid, yes by x (")
    assert headline_answer(df, 2).startswith("on the 14 × 14 grid, partly by x (")


def test_same_parts_answers_on_another_grid_with_labels_in_table_order():
    df = stored(("zz", 0.5), ("aa", 0.35), cell=1)
    answers = same_parts_answers(df, 1, labels={"aa": "Map A"})
    assert list(answers) == ["zz", "Map A"]
    assert answers["zz"].startswith("Yes, by zz: on the 28 × 28 grid the two models' maps agree at ρ = ")
    assert answers["Map A"].startswith("Partly, by Map A: on the 28 × 28 grid the two models' maps agree at ρ = ")
    four = same_parts_answers(stored(("zz", 0.5)), 4)
    assert four["zz"].startswith("Yes, by zz: on the 7 × 7 grid")


def test_headline_answer_joins_explainers_that_share_a_word():
    df = pd.concat([stored(("zz", 0.5), ("aa", 0.5), cell=1),
                    table(values(0.4, wb=0.2), seed=7).assign(explainer="cc", cell=1),
                    table(values(0.4, wb=0.2), seed=8).assign(explainer="dd", cell=1)], ignore_index=True)
    p = placed(df[df["explainer"].isin(["zz", "aa"])])
    assert headline_answer(df, 1) == (
        f"on the 28 × 28 grid, yes by zz ({p['zz'][0]} of the way from chance to self-agreement, 95 % CI "
        f"{p['zz'][1]}–{p['zz'][2]}; n = 200) and by aa ({p['aa'][0]}, {p['aa'][1]}–{p['aa'][2]}; n = 200); "
        "cc and dd cannot tell")


def test_answers_default_to_the_common_grid():
    from fmnist_lib.saliency.agreement import CELL

    df = stored(("zz", 0.5), cell=CELL)
    assert same_parts_answers(df)["zz"].startswith(f"Yes, by zz: on the {28 // CELL} × {28 // CELL} grid")
    assert headline_answer(df).startswith(f"on the {28 // CELL} × {28 // CELL} grid, yes by zz (")


def test_a_position_on_a_threshold_takes_the_upper_word():
    """0.25 is "partly" and 0.75 "yes" (the thresholds belong to the word above them), and a
    position just below one is shown with the decimals that keep it below."""
    from fmnist_lib.paper.agreement_text import _at

    assert admits({"position": 0.5, "low": LOW, "high": HIGH}) == ", which also admits “yes”"
    assert admits({"position": 0.5, "low": np.nextafter(LOW, 0), "high": np.nextafter(HIGH, 0)}) == (
        ", which also admits “barely”")
    assert (_at(0.2496), _at(0.7499), _at(0.5)) == ("0.2496", "0.7499", "0.50")


def test_half_the_images_defined_is_enough():
    """``MIN_DEFINED`` of the images is enough to answer; one image fewer is "cannot tell"."""
    p = {"within": {"A seeds": 0.6}, "reproducible": True, "above_chance": True, "position": 0.5, "images": 200}
    assert verdict({**p, "n": 100}) == "partly" and verdict({**p, "n": 99}) == "cannot tell"


def test_brightness_clause_from_hand_made_positions():
    """The clause words the position's numbers (hand-made here) on both sides of its rules: the
    scale sentence from half the cross-model position on (inclusive), nothing without brightness."""
    from fmnist_lib.paper.agreement_text import _brightness_clause

    level = {"mean": 0.3, "beats_cross": False, "below_cross": False}
    p = {"brightness": {"A vs brightness": level}}  # no position anywhere: nothing to place
    assert _brightness_clause(p) == (
        " On those images the image's brightness (no model) agrees with A's at 0.30 (about as much as the two "
        "models agree with each other). So the two models agree with each other no more than one of them agrees "
        "with a map that uses no model: what they share may be where the garment is bright, not features both "
        "learned.")
    assert _brightness_clause({"brightness": {}}, "X") == ""
    two = {"position": 0.5, "brightness": {"A vs brightness": {**level, "below_cross": True, "position": 0.25},
                                           "B vs brightness": {**level, "below_cross": True, "position": 0.1}}}
    assert _brightness_clause(two, "X") == (
        " On those images the image's brightness (no model) agrees with A's at 0.30 (less than the two models agree "
        "with each other, 0.25 of the way on the same scale) and with B's at 0.30 (less than the two models agree "
        "with each other, 0.10 of the way on the same scale). A map that uses no model thus reaches 0.25 for A's "
        "maps and 0.10 for B's maps, against 0.50 for the two models' agreement with each other: some of that "
        "agreement beyond chance may be where the garment is bright.")
    # "all" only where brightness goes as far as the cross-model position for every model (inclusive)
    both = {**two, "position": 0.25, "brightness": {k: {**v, "position": 0.25} for k, v in two["brightness"].items()}}
    assert _brightness_clause(both, "X").endswith(
        "against 0.25 for the two models' agreement with each other: brightness alone goes as far for every model, "
        "so all of that agreement beyond chance may be where the garment is bright.")
    assert "some of that" in _brightness_clause({**both, "position": np.nextafter(0.25, 1)}, "X")
    one_far = _brightness_clause({**two, "position": 0.25}, "X")  # A's as far as the cross, B's not
    assert "some of that agreement" in one_far and "all of that" not in one_far
    below_half = {**two, "position": np.nextafter(0.5, 1)}
    assert "no model thus reaches" not in _brightness_clause(below_half, "X")
    assert "no model thus reaches" in _brightness_clause({**two, "position": 0.5}, "X")  # half: inclusive
    unplaced = _brightness_clause(two, "X", placed=False)
    assert "of the way" not in unplaced and "no model thus reaches" not in unplaced
    no_cross = {"brightness": {"A vs brightness": {**level, "position": 0.4}}}  # placed, but no cross position
    assert _brightness_clause(no_cross, "X").endswith(
        "with each other, 0.40 of the way on the same scale). So by X the two models agree with each other no "
        "more than one of them agrees with a map that uses no model: what they share may be where the garment is "
        "bright, not features both learned.")


def test_same_parts_answer_exact_sentence_its_defaults_metric_and_seed():
    df = table(values(0.35))
    df["top10"] = table(values(0.5))["spearman"]  # "yes" on this metric
    p = agreement_position(df)
    w, ba, bb = p["within"], p["brightness"]["Simple CNN vs brightness"], p["brightness"]["LeNet-5 vs brightness"]
    assert same_parts_answer(df, "X") == (
        f"Partly, by X: on the 14 × 14 grid the two models' maps agree at ρ = {p['cross']:.2f}, against "
        f"{p['chance']:.2f} for maps of other images of the same class and Simple CNN {w['Simple CNN seeds']:.2f} "
        f"and LeNet-5 {w['LeNet-5 seeds']:.2f} across each model's own seeds, {p['position']:.2f} of the way from "
        f"chance to self-agreement (95 % CI {p['low']:.2f}–{p['high']:.2f}; 200 images). On those images the "
        f"image's brightness (no model) agrees with Simple CNN's at {ba['mean']:.2f} (less than the two models agree "
        f"with each other, {ba['position']:.2f} of the way on the same scale) and with LeNet-5's at {bb['mean']:.2f} "
        f"(less than the two models agree with each other, {bb['position']:.2f} of the way on the same scale).")
    assert same_parts_answer(df, "X", metric="top10").startswith(
        "Yes, by X: on the 14 × 14 grid the two models' maps agree at top-10 % overlap = ")
    for cross, word in ((0.5, "Yes"), (0.25, "Barely")):  # every placed answer places the brightness too
        text = same_parts_answer(table(values(cross)), "X")
        assert text.startswith(f"{word}, by X") and text.count("of the way on the same scale") == 2
    loose = table(values(0.3), n=40, noise=0.15)
    p3 = agreement_position(loose, seed=3)
    assert f"(95 % CI {p3['low']:.2f}–{p3['high']:.2f}" in same_parts_answer(loose, "X", seed=3)
    assert (f"{p3['low']:.2f}", f"{p3['high']:.2f}") != tuple(f"{agreement_position(loose)[k]:.2f}" for k in ("low", "high"))


def test_same_parts_answer_image_counts_and_the_explainer_in_the_brightness_sentence():
    holes = table(values(0.35), nan={"Simple CNN seeds": 20})
    assert ("180 of 200 images, those with at least one seed pair of non-constant maps in every comparison "
            "(a pair with a constant map is left out of its image's mean))") in same_parts_answer(holes, "X")
    half = table(values(0.4, wb=0.2), nan={"Simple CNN seeds": 100})  # half the images: enough to read the seeds
    assert same_parts_answer(half, "X").startswith("X cannot answer: a model's own seeds agree no better than chance")
    no = same_parts_answer(table(values(0.2, ba=0.2), noise=0.01), "Grad-CAM")
    assert no.startswith("No, by Grad-CAM") and "So by Grad-CAM the two models agree with each other no more" in no
