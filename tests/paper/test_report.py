"""fmnist_lib.paper.report: markdown tables keep formatted numbers; the published table's rows."""
import pandas as pd

from fmnist_lib.paper import report


def test_md_never_reformats_numbers_written_as_text():
    table = pd.DataFrame({"model": ["A"], "acc": ["0.900"], "p": ["3e-30"], "n": [5], "x": [0.123456]})
    text = report.md(table).data
    assert "| 0.900 |" in text and "| 3e-30 |" in text and "0.1235" in text
    assert "0.9000" not in text and "0.0000" not in text


def test_md_never_prints_a_negative_zero():
    table = pd.DataFrame({"d": [-0.000004, -0.000011, 0.0084]})
    text = report.md(table, floatfmt=".5f").data
    assert "-0.00000" not in text and "0.00000" in text and "-0.00001" in text and "0.00840" in text
    assert "-0.0000" not in report.md(table).data


def test_published_table_is_sourced_and_sorted():
    assert all(len(row) == 3 and 0.8 < row[2] < 1 for row in report.PUBLISHED)
    human = [row for row in report.PUBLISHED if row[0].startswith("Human")]
    assert human[0][2] == 0.835 and "1,000 test images" in human[0][0]
    table = report.published_baselines({"Ours": 0.9012})
    acc = table["test accuracy"].astype(float)
    assert acc.is_monotonic_increasing and table.loc[table.method == "Ours", "test accuracy"].item() == "0.901"
    assert set(table["source"]) == {"README table", "this study"}


def test_md_shows_nan_as_a_blank_cell():
    nan = float("nan")
    text = report.md(pd.DataFrame({"name": ["accuracy"], "p": [nan], "r": [nan], "f1": [0.9]}), index=True).data
    assert "nan" not in text and "0.9000" in text and "| accuracy |" in text


def test_md_separates_thousands_in_integer_columns_only():
    import pandas as pd
    from fmnist_lib.paper.report import md
    df = pd.DataFrame({"n": [15770, 5], "label": ["1000", "x"],
                       "support": pd.Series([1000, 2], dtype=object), "acc": [0.5, 0.25]})
    rows = md(df).data.splitlines()
    assert "15,770" in rows[2] and "1,000" in rows[2] and "0.5000" in rows[2]
    assert "| 1000 " in rows[2]  # text is written as it is


def test_profile_table_has_no_python_quotes_and_mcnemar_cells_give_direction():
    import pandas as pd
    from fmnist_lib.config import get_profile
    from fmnist_lib.paper.report import mcnemar_table, profile_table
    values = profile_table(get_profile("quick"))["value"]
    assert not any(q in v for v in values for q in "'\"{}[]()")
    rows = pd.DataFrame([{"kind": "between models", "a": "Simple CNN/0", "b": "LeNet-5/0",
                          "a_only": 1200, "b_only": 300, "pvalue": 1e-6},
                         {"kind": "within LeNet-5", "a": "LeNet-5/0", "b": "LeNet-5/1",
                          "a_only": 1, "b_only": 2, "pvalue": 0.5}])
    table = mcnemar_table(rows)
    assert table.columns.tolist() == ["", "LeNet-5/0"]
    assert table.iloc[0].tolist() == ["Simple CNN/0", "1e-06 (300 vs 1,200)"]  # LeNet-5 only, then Simple CNN only


def test_every_chapter_module_imports():
    # a chapter module importing a moved function fails only when the paper renders: catch it here
    import importlib
    import pkgutil

    import fmnist_lib.paper.chapters as chapters

    names = [m.name for m in pkgutil.iter_modules(chapters.__path__)]
    assert {"front", "data", "models", "baseline", "tuning", "evaluation", "roc", "gradcam", "discussion",
            "appendix"} <= set(names)
    for name in names:
        assert hasattr(importlib.import_module(f"fmnist_lib.paper.chapters.{name}"), "context")


def test_letter_sets_the_papers_sizes():
    import matplotlib.pyplot as plt

    from fmnist_lib.paper.report import letter

    fig, ax = plt.subplots()
    ax.plot([0, 1], label="a")
    ax.set_xlabel("x")
    ax.set_title("t")
    ax.legend()
    letter(fig)
    assert {t.get_fontsize() for t in ax.get_xticklabels()} == {7} and ax.xaxis.label.get_fontsize() == 8
    assert ax.title.get_fontsize() == 9 and ax.get_legend().get_texts()[0].get_fontsize() == 7
    plt.close(fig)


def test_and_list_joins_with_commas_and_a_final_and():
    from fmnist_lib.paper.report import and_list

    assert and_list(["a"]) == "a"
    assert and_list(["a", "b"]) == "a and b"
    assert and_list(iter(["a", "b", "c"])) == "a, b and c"
