"""The dates generator: seeded, distinct, and every written date names exactly the ISO date it is labelled with."""

from __future__ import annotations

import datetime

import pytest

from arena.bundles.dates import generate, misspell, nearest_months, ordinal_suffix, ordinal_words, read_date


@pytest.fixture(scope="module")
def rows() -> tuple[list[str], list[str]]:
    return generate(6_000, seed=5)


def test_seeded_prefix_stable_and_distinct(rows):
    texts, answers = rows
    assert generate(500, seed=5) == (texts[:500], answers[:500])  # the first k rows of n are those of k
    assert generate(500, seed=6)[0] != texts[:500]
    assert len(set(texts)) == len(texts)


def test_every_answer_is_an_iso_date_in_range(rows):
    for answer in rows[1]:
        date = datetime.date.fromisoformat(answer)
        assert answer == date.isoformat()
        assert datetime.date(1900, 1, 1) <= date <= datetime.date(2029, 12, 31)


def test_the_stated_conventions_give_each_written_date_its_answer(rows):
    """An independent reader of the conventions agrees with every label: the task is solvable exactly."""
    wrong = [(text, answer) for text, answer in zip(*rows) if read_date(text) != answer]
    assert not wrong, wrong[:5]


@pytest.mark.parametrize(
    "text, iso",
    [
        ("3/4/99", "1999-03-04"),  # slashes: month first
        ("3.4.99", "1999-04-03"),  # dots: day first
        ("03-04-29", "2029-04-03"),  # 00-29: this century
        ("03-04-30", "1930-04-03"),
        ("19990403", "1999-04-03"),
        ("the third of Mrach '99", "1999-03-03"),
        ("Wed, March 3rd, 1999", "1999-03-03"),
        ("March 1999", "1999-03-01"),  # no day: the first
        ("twenty-first of Sept. 1924", "1924-09-21"),
        ("April 07", "2007-04-01"),  # a month and one number: the year
        ("mid-Feb 2000", "2000-02-15"),
        ("the end of Feb 2000", "2000-02-29"),  # a leap year
        ("the last day of February 1900", "1900-02-28"),  # not one
        ("the 2nd Tuesday of March 1999", "1999-03-09"),
        ("the last Friday in May '99", "1999-05-28"),
        ("Christmas Eve 1999", "1999-12-24"),
        ("Bastille Day 89", "1989-07-14"),
    ],
)
def test_reader_of_the_conventions(text, iso):
    assert read_date(text) == iso


def test_written_forms_are_varied(rows):
    texts = rows[0]
    assert sum("/" in t for t in texts) > 300 and sum("." in t for t in texts) > 300
    assert any("twenty" in t for t in texts) and any(t.startswith("the ") for t in texts)
    assert sum(" Tuesday " in t for t in texts) > 20 and sum(t.startswith("Christmas") for t in texts) > 10
    assert sum(t.upper() == t and t[0].isalpha() for t in texts) > 30
    iso_copies = sum(read_date(t) == t for t in texts)
    assert 0.01 < iso_copies / len(texts) < 0.06  # copying the input is a weak baseline


def test_misspelt_months_stay_closest_to_their_own_month():
    import numpy as np

    rng = np.random.default_rng(0)
    for month, name in enumerate(
        ["January", "February", "March", "April", "May", "June", "July", "August", "September"], start=1
    ):
        for _ in range(30):
            assert nearest_months(misspell(rng, name)) == [month]


def test_ordinals():
    assert [ordinal_suffix(d) for d in (1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 31)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd", "31st"
    ]  # fmt: skip
    assert [ordinal_words(d) for d in (1, 12, 20, 21, 30, 31)] == [
        "first", "twelfth", "twentieth", "twenty-first", "thirtieth", "thirty-first"
    ]  # fmt: skip


def test_the_dates_task_shares_no_written_date_between_train_and_test():
    from arena.tasks import load_task

    task = load_task("dates")
    assert (task.spec.kind, task.spec.primary_metric, task.spec.other_metrics) == (
        "text",
        "exact_match",
        ("chrf", "cer"),
    )
    assert (len(task.train), len(task.test)) == (36_000, 4_000)
    assert not set(task.train["text"]) & set(task.test["text"])
    assert "date" not in task.test.columns
    answers = dict(zip(task.answers["id"], task.answers["date"], strict=True))
    assert all(read_date(text) == answers[i] for i, text in zip(task.test["id"], task.test["text"], strict=True))
