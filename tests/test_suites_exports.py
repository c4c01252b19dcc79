"""Exports for papers: a suite board and a comparison as CSV, JSON, Parquet, LaTeX and Markdown, each value with its
interval in the form ``0.912 [0.905, 0.919]``, the best and the not-significantly-worse marked, hostile names inert
in every format, the same bytes for the same table; served by the API and the web, and printed by
``arena suite export``."""

from __future__ import annotations

import csv
import io
import json
import re
from html.parser import HTMLParser

import pyarrow.parquet as pq
import pytest
from conftest import auth
from helpers import predictions_csv, wait_until_ranked

from arena.cli import main
from arena.server import organiser_actions, suite_analysis, suite_boards
from arena.suites.exports import (
    FORMATS,
    MEDIA_TYPES,
    Cell,
    ExportError,
    Table,
    board_table,
    comparison_table,
    export_format,
    latex_escape,
    render,
)

# --- a board and a comparison as the server gives them ---------------------------------------------------------


def board_dict(*, models: tuple[str, str, str] = ("cnn", "gru", "mlp"), pending: bool = False) -> dict:
    """A suite board as ``SuiteBoard.to_dict()`` gives it: three models, two tasks, one model not ranked."""
    first, second, third = models

    def scored(score, low, high):
        return {"status": "scored", "score": score, "ci_low": low, "ci_high": high, "submission_id": 1}

    rows = [
        {
            "rank": None if pending else 1,
            "ranked": not pending,
            "model": first,
            "owner": "ada",
            "aggregate": None if pending else 0.9123,
            "aggregate_ci": None if pending else (0.905, 0.919),
            "rank_interval": None if pending else (1, 2),
            "p_best": None if pending else 0.71,
            "scores": {"digits": scored(0.9812, 0.975, 0.987), "sunspots": scored(12.5, 11.0, 14.25)},
        },
        {
            "rank": None if pending else 2,
            "ranked": not pending,
            "model": second,
            "owner": "bob",
            "aggregate": None if pending else 0.9001,
            "aggregate_ci": None if pending else (0.889, 0.911),
            "rank_interval": None if pending else (1, 2),
            "p_best": None if pending else 0.29,
            "scores": {"digits": scored(0.9751, 0.968, 0.982), "sunspots": scored(13.0, 11.5, 14.5)},
        },
        {
            "rank": None,
            "ranked": False,
            "model": third,
            "owner": "cyd",
            "aggregate": None,
            "aggregate_ci": None,
            "rank_interval": None,
            "p_best": None,
            "scores": {"digits": scored(0.5, 0.45, 0.55), "sunspots": {"status": "failed", "score": None}},
        },
    ]
    return {
        "name": "core",
        "title": "Core benchmark",
        "version": 2,
        "description": "",
        "method": "normalised_mean",
        "higher_is_better": True,
        "tasks": [
            {"key": "digits", "title": "Digits", "metric": "accuracy", "higher_is_better": True, "board": "public"},
            {"key": "sunspots", "title": "Sunspots", "metric": "mae", "higher_is_better": False, "board": "private"},
        ],
        "rows": rows,
        "pending": pending,
        "hide_extra_data": False,
        "hide_trained_on_test": False,
        "resamples": 1000,
    }


MARKS = {"aggregate": {"cnn": "best", "gru": "tied"}, "digits": {"cnn": "best"}, "sunspots": {"cnn": "best"}}

COMPARISON = {
    "suite": "core",
    "version": 1,
    "method": "normalised_mean",
    "a": "cnn",
    "b": "mlp",
    "resamples": 1000,
    "pending": False,
    "tasks": [
        {"key": "digits", "title": "Digits", "metric": "accuracy", "higher_is_better": True, "a": 0.981, "b": 0.975,
         "difference": 0.006, "ci": [0.001, 0.011], "p_a_better": 0.99, "outcome": "win"},
        {"key": "sunspots", "title": "Sunspots", "metric": "mae", "higher_is_better": False, "a": 12.5, "b": 12.4,
         "difference": 0.1, "ci": [-0.3, 0.5], "p_a_better": 0.4, "outcome": "tie"},
        {"key": "listops", "title": "ListOps", "metric": "accuracy", "higher_is_better": True, "a": 0.3, "b": 0.6,
         "difference": -0.3, "ci": [-0.35, -0.25], "p_a_better": 0.0, "outcome": "loss"},
        {"key": "mnist1d", "title": "MNIST-1D", "metric": "accuracy", "higher_is_better": True, "a": 0.7, "b": None,
         "difference": None, "ci": None, "p_a_better": None, "outcome": None},
    ],
    "wins": 1,
    "ties": 1,
    "losses": 1,
    "wilcoxon": {"statistic": 0.0, "p_value": 0.125, "tasks": 3},
    "aggregate": {"a": 0.9, "b": 0.88, "difference": 0.02, "ci": [0.01, 0.03], "p_a_better": 0.99},
}  # fmt: skip


def csv_rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode())))


# --- the interval form and the marks, in every format ---------------------------------------------------------


def test_every_format_of_a_board_shows_each_value_with_its_interval():
    table = board_table(board_dict(), MARKS)
    latex, markdown = render(table, "latex").decode(), render(table, "markdown").decode()
    by_model = {row["model"]: row for row in csv_rows(render(table, "csv"))}
    for shown in ("0.912 [0.905, 0.919]", "0.981 [0.975, 0.987]", "12.500 [11.000, 14.250]"):
        assert shown in latex and shown in markdown
    assert by_model["cnn"]["aggregate"] == "0.912 [0.905, 0.919]"
    assert by_model["cnn"]["rank"] == "1 [1, 2]" and "1 [1, 2]" in latex and "| 1 [1, 2] |" in markdown
    assert by_model["mlp"]["sunspots"] == "failed" and by_model["mlp"]["rank"] == ""
    five = render(board_table(board_dict(), MARKS, decimals=4), "markdown").decode()
    assert "0.9123 [0.9050, 0.9190]" in five


def test_csv_json_and_parquet_carry_the_numbers_and_marks_apart():
    table = board_table(board_dict(), MARKS)
    from_csv = {row["model"]: row for row in csv_rows(render(table, "csv"))}
    from_json = {row["model"]: row for row in json.loads(render(table, "json"))["rows"]}
    from_parquet = {row["model"]: row for row in pq.read_table(io.BytesIO(render(table, "parquet"))).to_pylist()}
    cnn = board_dict()["rows"][0]
    for rows, number in ((from_csv, float), (from_json, lambda v: v), (from_parquet, lambda v: v)):
        row = rows["cnn"]
        assert number(row["aggregate_value"]) == cnn["aggregate"]
        assert (number(row["aggregate_ci_low"]), number(row["aggregate_ci_high"])) == cnn["aggregate_ci"]
        assert number(row["sunspots_ci_high"]) == 14.25 and number(row["digits_value"]) == 0.9812
        assert row["aggregate_mark"] == "best" and rows["gru"]["aggregate_mark"] == "tied"
        assert rows["mlp"]["aggregate_mark"] in ("", None) and rows["mlp"]["sunspots_value"] in ("", None)
    assert from_json["cnn"]["rank_value"] == 1 and from_json["cnn"]["rank_ci_high"] == 2


def test_parquet_reads_back_with_the_board_s_numbers_types_and_notes():
    board = board_dict()
    table = pq.read_table(io.BytesIO(render(board_table(board, MARKS), "parquet")))
    assert str(table.schema.field("rank_value").type) == "int64"
    assert str(table.schema.field("aggregate_value").type) == "double"
    assert table.column("model").to_pylist() == ["cnn", "gru", "mlp"]
    assert table.column("aggregate_value").to_pylist() == [0.9123, 0.9001, None]
    assert table.column("digits_ci_low").to_pylist() == [row["scores"]["digits"]["ci_low"] for row in board["rows"]]
    about = json.loads(table.schema.metadata[b"arena"])
    assert about["title"] == "Core benchmark (suite core, version 2)"
    assert any("1000 resamples" in note for note in about["notes"])
    assert [column["header"] for column in about["columns"]][-2:] == ["Digits", "Sunspots"]


def test_the_best_is_bold_and_the_not_significantly_worse_underlined_or_italic():
    table = board_table(board_dict(), MARKS)
    latex, markdown = render(table, "latex").decode(), render(table, "markdown").decode()
    assert r"\textbf{0.912 [0.905, 0.919]}" in latex and r"\underline{0.900 [0.889, 0.911]}" in latex
    assert "**0.912 [0.905, 0.919]**" in markdown and "_0.900 [0.889, 0.911]_" in markdown
    assert r"\textbf{Bold}" in latex and "**Bold**: the best" in markdown  # the legend under the table
    unmarked = render(board_table(board_dict()), "latex").decode()
    assert r"\textbf" not in unmarked and r"\underline" not in unmarked


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_same_table_always_gives_the_same_bytes(fmt):
    first = render(board_table(board_dict(), MARKS), fmt)
    assert render(board_table(board_dict(), MARKS), fmt) == first
    assert render(comparison_table(json.loads(json.dumps(COMPARISON))), fmt) == render(
        comparison_table(COMPARISON), fmt
    )
    changed = board_dict()
    changed["rows"][0]["aggregate"] = 0.9136
    assert render(board_table(changed, MARKS), fmt) != first


def test_a_pending_board_keeps_its_columns_and_says_it_is_pending():
    done, pending = board_table(board_dict(), MARKS), board_table(board_dict(pending=True))
    assert list(csv_rows(render(pending, "csv"))[0]) == list(csv_rows(render(done, "csv"))[0])
    parquet = pq.read_table(io.BytesIO(render(pending, "parquet")))
    assert parquet.column("aggregate_value").to_pylist() == [None, None, None]
    assert "still being computed" in render(pending, "markdown").decode()


def test_a_task_named_like_a_board_column_gets_a_column_of_its_own():
    board = board_dict()
    board["tasks"][0]["key"] = "rank"
    for row in board["rows"]:
        row["scores"]["rank"] = row["scores"].pop("digits")
    rows = csv_rows(render(board_table(board, {"rank": {"cnn": "best"}}), "csv"))
    assert rows[0]["rank"] == "1 [1, 2]" and rows[0]["task_rank"] == "0.981 [0.975, 0.987]"
    assert rows[0]["task_rank_mark"] == "best"


def test_a_board_with_verification_tiers_shows_each_model_s_tier_and_names_the_flagged_ones():
    board = board_dict()
    for row, tier in zip(board["rows"], ("reference", "reported", "reproduced")):
        row["tier"], row["flag_reason"] = tier, ""
    board["rows"][2]["flag_reason"] = "trained on test inputs & more"
    board["tier"] = "reproduced"
    table = board_table(board, MARKS)
    assert [header for _, header in table.columns][:5] == ["Rank", "Model", "Owner", "Tier", "Aggregate"]
    assert [row["tier"] for row in csv_rows(render(table, "csv"))] == ["reference", "reported", "reproduced"]
    latex = render(table, "latex").decode()
    assert r"mlp (trained on test inputs \& more)" in latex and "tier 'reproduced' or above" in latex
    assert latex_problems(latex) == []
    assert "Tier" not in [header for _, header in board_table(board_dict()).columns]


def test_negative_numbers_show_no_minus_zero_and_latex_prints_a_minus_sign():
    table = Table("t", [("x", "X")], [{"x": Cell(-0.0001, (-0.02, 0.01))}], [])
    assert "0.000 [-0.020, 0.010]" in render(table, "markdown").decode()
    assert "0.000 [$-$0.020, 0.010]" in render(table, "latex").decode()
    assert latex_escape("cnn-small--v2") == "cnn-small-{}-v2"  # a name keeps its two hyphens, not an en dash


# --- a comparison ------------------------------------------------------------------------------------------------


def test_a_comparison_in_every_format_marks_the_better_model_per_task_and_gives_the_tests():
    table = comparison_table(COMPARISON)
    rows = {row["task"]: row for row in csv_rows(render(table, "csv"))}
    assert list(rows) == ["Digits", "Sunspots", "ListOps", "MNIST-1D", "Aggregate"]
    assert rows["Digits"]["difference"] == "0.006 [0.001, 0.011]" and rows["Digits"]["outcome"] == "win"
    assert (rows["Digits"]["a_mark"], rows["Digits"]["b_mark"]) == ("best", "")
    assert (rows["Sunspots"]["a_mark"], rows["Sunspots"]["b_mark"]) == ("tied", "best")  # mae: lower is better
    assert (rows["ListOps"]["a_mark"], rows["ListOps"]["b_mark"]) == ("", "best")
    assert rows["MNIST-1D"]["difference"] == "" and rows["MNIST-1D"]["b"] == ""
    assert rows["Aggregate"]["outcome"] == "win" and rows["Aggregate"]["difference"] == "0.020 [0.010, 0.030]"
    latex, markdown = render(table, "latex").decode(), render(table, "markdown").decode()
    for text in (latex, markdown):
        assert "1 wins, 1 ties and 1 losses for A" in text
        assert "Wilcoxon signed-rank test over 3 tasks: statistic 0.000, p = 0.125." in text
    assert r"\textbf{0.981}" in latex and "**0.981**" in markdown and "A: cnn" in markdown
    parquet = pq.read_table(io.BytesIO(render(table, "parquet"))).to_pylist()
    assert [row["difference_ci_low"] for row in parquet] == [0.001, -0.3, -0.35, None, 0.01]
    assert json.loads(render(table, "json"))["rows"][0]["p_a_better_value"] == 0.99


def test_a_pending_comparison_says_so_and_shows_no_counts():
    pending = {**COMPARISON, "pending": True, "wins": None, "ties": None, "losses": None, "wilcoxon": None}
    pending["aggregate"] = None
    text = render(comparison_table(pending), "markdown").decode()
    assert "still being computed" in text and "None" not in text and "Aggregate" not in text.split("\n\n")[1]


def test_a_rank_based_aggregate_is_a_win_for_the_lower_mean_rank():
    ranks = {**COMPARISON, "method": "mean_rank", "aggregate": {"a": 1.2, "b": 1.8, "difference": -0.6,
             "ci": [-0.9, -0.3], "p_a_better": 1.0}}  # fmt: skip
    rows = csv_rows(render(comparison_table(ranks), "csv"))
    assert rows[-1]["outcome"] == "win" and rows[-1]["a_mark"] == "best"


# --- formats, and names that must stay inert ------------------------------------------------------------------


def test_an_unknown_format_is_refused_with_the_list_and_extensions_are_understood():
    assert export_format("tex") == "latex" and export_format("MD") == "markdown" and export_format("csv") == "csv"
    with pytest.raises(ExportError, match="ask for one of csv, json, parquet, latex, markdown"):
        export_format("xlsx")
    with pytest.raises(ExportError, match="no format"):
        export_format(None)


HOSTILE = [
    "=cmd|' /C calc'!A0",
    '+HYPERLINK("http://x")',
    r"\input{/etc/passwd}",
    "a|b||c",
    "line\nbreak\r\tand tab",
    "<script>alert(1)</script>",
    "**bold** _it_ [x](javascript:alert(1)) `code` ~~s~~",
    r"& % $ # _ { } ~ ^ \ [ ] --- \\",
    "\u202eevil\u200b",
]

LATEX_COMMANDS = {
    "usepackage", "begin", "end", "centering", "caption", "toprule", "midrule", "bottomrule", "smallskip",
    "footnotesize", "par", "textbf", "underline", "textbackslash", "textless", "textgreater", "textbar",
    "textasciitilde", "textasciicircum",
}  # fmt: skip


def latex_problems(text: str) -> list[str]:
    """A pure-Python check of an exported table: balanced braces, each row's cells matching the column spec, and
    no command but the ones the exporter writes (a name's ``\\input`` would be one)."""
    problems = []
    body = re.sub(r"^%.*$", "", text, flags=re.M)  # comments
    stripped = re.sub(r"\\[{}&%$#_\\]", "", body.replace(r"\\", " "))  # escaped characters and line ends
    depth = 0
    for ch in stripped:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            problems.append("a } closes nothing")
    if depth:
        problems.append(f"{depth} braces left open")
    commands = set(re.findall(r"\\([A-Za-z]+)", re.sub(r"\\[{}&%$#_\\]", "", body.replace(r"\\", " "))))
    problems += [f"unexpected \\{command}" for command in commands - LATEX_COMMANDS]
    spec = re.search(r"\\begin\{tabular\}\{([lr]+)\}", text)
    if not spec:
        return [*problems, "no tabular"]
    rows = text.split(r"\midrule")[1].split(r"\bottomrule")[0].strip().splitlines()
    header = text.split(r"\toprule")[1].split(r"\midrule")[0].strip()
    for line in [header, *rows]:
        if not line.endswith(r"\\"):
            problems.append(f"a row does not end its line: {line!r}")
        cells = len(re.findall(r"(?<!\\)&", line)) + 1
        if cells != len(spec.group(1)):
            problems.append(f"{cells} cells for {len(spec.group(1))} columns: {line!r}")
    return problems


class CellText(HTMLParser):
    """The text of each table cell of rendered HTML, and every tag seen."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[str] = []
        self.tags: list[str] = []
        self._in = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag in ("td", "th"):
            self._in, self.cells = True, [*self.cells, ""]

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self._in = False

    def handle_data(self, data):
        if self._in:
            self.cells[-1] += data


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_name_is_inert_in_every_format(name):
    board = board_dict()
    board["rows"][2]["model"] = name
    board["rows"][2]["owner"] = name
    board["title"] = name
    board["tasks"][0]["title"] = name
    table = board_table(board, {"aggregate": {name: "tied"}})
    one_line = "".join(" " if ch in "\n\r\t" else ch for ch in name).replace("\u202e", "").replace("\u200b", "")

    row = csv_rows(render(table, "csv"))[2]
    expected = "'" + name if name[0] in "=+-@" else name
    assert row["model"] == row["owner"] == expected  # a spreadsheet shows it as text, never runs it
    assert json.loads(render(table, "json"))["rows"][2]["model"] == name  # data, carried as it is
    assert pq.read_table(io.BytesIO(render(table, "parquet"))).column("owner").to_pylist()[2] == name

    latex = render(table, "latex").decode()
    assert latex_problems(latex) == []
    assert "\\input" not in latex.replace("\\textbackslash{}input", "")

    markdown = render(table, "markdown").decode()
    lines = [line for line in markdown.splitlines() if line.startswith("| ")]
    assert len(lines) == 2 + 3 and len({len(re.findall(r"(?<!\\)\|", line)) for line in lines}) == 1
    markdown_it = pytest.importorskip("markdown_it")
    html = markdown_it.MarkdownIt("commonmark").enable("table").render(markdown)
    parsed = CellText()
    parsed.feed(html)
    assert set(parsed.tags) <= {"p", "strong", "em", "table", "thead", "tbody", "tr", "th", "td"}
    columns = len(table.columns)
    assert parsed.cells[4] == one_line  # the task's title as the header
    assert parsed.cells[columns * 3 + 1] == parsed.cells[columns * 3 + 2] == one_line  # model and owner


def test_a_table_whose_columns_would_share_a_name_is_refused():
    with pytest.raises(ValueError, match="share the names"):
        render(Table("t", [("a", "A"), ("a_value", "B")], [{"a": Cell(1.0)}], []), "csv")
    with pytest.raises(ValueError, match="unknown marks"):
        render(Table("t", [("a", "A")], [{"a": Cell(1.0, mark="winner")}], []), "csv")


# --- served by the API and the web ------------------------------------------------------------------------------

BOTH = pytest.mark.parametrize("app", ["sqlite", "postgresql"], indirect=True)

SUITE = """name = "pair"
title = "Two tasks"
version = 1
description = "Digits and ListOps."

[[tasks]]
task = "digits"

[[tasks]]
task = "listops"
"""


def card(name: str) -> str:
    return (
        f'name = "{name}"\nversion = "1"\nparameters = 1234\nframework = "numpy"\nlicence = "MIT"\n'
        'code_url = "none"\nextra_training_data = false\ntrained_on_test_inputs = false\n'
    )


def host_pair(app, tmp_path) -> None:
    folder = tmp_path / "pair"
    folder.mkdir()
    (folder / "suite.toml").write_text(SUITE)
    with app.extensions["arena_db"].session() as session, session.begin():
        organiser_actions.host_suite(session, None, str(folder))


def enter(client, token: str, name: str, digits: float, listops: float, seed: int) -> None:
    data = {
        "digits": (io.BytesIO(predictions_csv("digits", digits, seed).encode()), "digits.csv"),
        "listops": (io.BytesIO(predictions_csv("listops", listops, seed).encode()), "listops.csv"),
        "card": (io.BytesIO(card(name).encode()), "card.toml"),
    }
    response = client.post(
        "/api/v1/suites/pair/entries", data=data, headers=auth(token), content_type="multipart/form-data"
    )
    assert response.status_code == 202, response.get_json()


def ranked_pair(app, client, people, tmp_path) -> None:
    """The suite 'pair' with a clear winner and two models behind it, scored and analysed by the worker."""
    host_pair(app, tmp_path)
    enter(client, people.token("ada"), "-2_3", 0.99, 0.95, 1)
    enter(client, people.token("bob"), "middle", 0.7, 0.5, 2)
    enter(client, people.token("cyd"), "last", 0.4, 0.2, 3)
    people.drain()


@BOTH
@pytest.mark.slow
def test_the_api_serves_the_board_in_every_format_with_the_worker_s_marks(app, client, people, tmp_path):
    ranked_pair(app, client, people, tmp_path)
    with app.extensions["arena_db"].read_session() as session, session.begin():
        board = suite_boards.suite_board(session, "pair")
        marks = suite_analysis.board_marks(session, "pair")
    assert not board.pending and marks["aggregate"]["-2_3"] == "best"
    for fmt in FORMATS:
        response = client.get(f"/api/v1/suites/pair/export?format={fmt}")
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.headers["Content-Type"] == MEDIA_TYPES[fmt]
        assert response.get_data() == render(board_table(board.to_dict(), marks), fmt)
    latex = client.get("/api/v1/suites/pair/export?format=latex").get_data(as_text=True)
    assert r"\textbf{" in latex and r"\textbf{1 [" not in latex and "$-$2\\_3" not in latex
    assert "-2\\_3" in latex and latex_problems(latex) == []
    assert ",'-2_3," in client.get("/api/v1/suites/pair/export?format=csv").get_data(as_text=True)
    page = client.get("/s/pair/export.tex")
    assert page.status_code == 200 and page.get_data() == latex.encode()
    assert page.headers["Content-Disposition"] == "attachment; filename=pair-suite.tex"
    assert client.get("/s/pair/export.parquet").get_data() == render(board_table(board.to_dict(), marks), "parquet")


@BOTH
def test_the_export_routes_refuse_unknown_suites_formats_and_filters_clearly(app, client, tmp_path):
    host_pair(app, tmp_path)
    missing = client.get("/api/v1/suites/nope/export?format=csv")
    assert missing.status_code == 404 and "nope" in " ".join(missing.get_json()["problems"])
    for query in ("format=xlsx", "", "format=csv&hide_extra_data=maybe"):
        refused = client.get(f"/api/v1/suites/pair/export?{query}")
        assert refused.status_code == 400, query
        problems = " ".join(refused.get_json()["problems"])
        assert ("csv, json, parquet, latex, markdown" in problems) or ("hide_extra_data" in problems)
    assert client.get("/s/nope/export.csv").status_code == 404
    refused = client.get("/s/pair/export.xlsx")
    assert refused.status_code == 400 and "csv, json, parquet, latex, markdown" in refused.get_data(as_text=True)
    empty = client.get("/s/pair/export.md?hide_trained_on_test=1")
    assert empty.status_code == 200 and "Models that declare training on test inputs are left out." in empty.get_data(
        as_text=True
    )


# --- the command ----------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_arena_suite_export_prints_a_latex_table_from_a_live_server(live_server, tmp_path, capsys, monkeypatch):
    server = live_server()
    ranked_pair(server.app, server.client, server.people, tmp_path)
    wait_until_ranked(server.client, "pair")
    api = server.client.get("/api/v1/suites/pair/export?format=latex").get_data(as_text=True)
    assert main(["suite", "export", "pair", "--format", "latex", "--server", server.url]) == 0
    printed = capsys.readouterr().out
    assert printed == api and r"\begin{tabular}" in printed and latex_problems(printed) == []

    out = tmp_path / "board.parquet"
    assert main(["suite", "export", "pair", "--format", "parquet", "--server", server.url, "--output", str(out)]) == 0
    assert out.read_bytes() == server.client.get("/api/v1/suites/pair/export?format=parquet").get_data()
    assert pq.read_table(out).column("model").to_pylist()[0] == "-2_3"

    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    assert main(["suite", "export", "pair", "--format", "parquet", "--server", server.url]) == 1
    assert "--output FILE" in capsys.readouterr().err

    assert main(["suite", "export", "nope", "--format", "csv", "--server", server.url]) == 1
    assert "there is no suite 'nope'" in capsys.readouterr().err
    assert main(["suite", "export", "pair", "--release", "7", "--server", server.url]) == 1
    assert "no release 7 of suite 'pair'" in capsys.readouterr().err
    assert main(["suite", "export", "pair", "--release", "1", "--tier", "reference", "--server", server.url]) == 1
    assert "a release is frozen as it was made" in capsys.readouterr().err

    assert main(["suite", "export", "pair", "--format", "csv", "--tier", "reference", "--server", server.url]) == 0
    assert capsys.readouterr().out.count("\n") == 1  # the header: none of the three models is a reference run
    assert main(["suite", "export", "pair", "--tier", "best", "--server", server.url]) == 1
    assert "reported, reproduced, reference" in capsys.readouterr().err
