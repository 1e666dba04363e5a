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
