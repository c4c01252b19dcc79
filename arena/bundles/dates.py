"""A seeded generator of dates written as people write them, each with its ISO 8601 form.

The task it feeds is sequence to sequence: read ``"the 3rd of Mrach '99"`` and
write ``"1999-03-03"``. Every string is written by one of many templates (numbers
with dots, dashes or slashes; month names, abbreviated or misspelt; ordinal days in
digits or words; weekdays; two-digit years; no day at all), and the conventions
below make every string name exactly one date, so a perfect model exists:

- slashes with the year last are American, month first: ``3/4/99`` is 4 March;
- dots and dashes with the year last are European, day first: ``3.4.99`` is 3 April;
- a number that starts with four digits is year, month, day: ``1999/04/03``, ``19990403``;
- a two-digit year from 00 to 29 is 2000-2029, from 30 to 99 it is 1930-1999;
- a date without a day means the first of the month: ``March 1999`` is ``1999-03-01``, and a month
  name with one number alone is month and year: ``April 07`` is ``2007-04-01``;
  ``mid-March 1999`` is the 15th, ``the end of March 1999`` its last day (leap years counted);
- ``the second Tuesday of March 1999`` and ``the last Friday in May 1999`` count weekdays in the month;
- holidays are their fixed dates: New Year's Day and Eve, Valentine's Day, Bastille Day (14 July),
  Halloween, Christmas Eve, Christmas, Boxing Day (26 December);
- a weekday, when given, is the date's true weekday (it adds nothing to read);
- a misspelt month name is closer (in edits) to its own month than to any other.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

import numpy as np

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_UNITS = ("", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth")
_TEENS = "tenth eleventh twelfth thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth".split()
FIRST_DAY = datetime.date(1900, 1, 1)
LAST_DAY = datetime.date(2029, 12, 31)
TWO_DIGIT_FIRST = datetime.date(1930, 1, 1)  # two-digit years name 1930-2029
HOLIDAYS = {
    "New Year's Day": (1, 1),
    "Valentine's Day": (2, 14),
    "Bastille Day": (7, 14),
    "Halloween": (10, 31),
    "Christmas Eve": (12, 24),
    "Christmas": (12, 25),
    "Christmas Day": (12, 25),
    "Boxing Day": (12, 26),
    "New Year's Eve": (12, 31),
}


def ordinal_suffix(day: int) -> str:
    """``1st``, ``2nd``, ``3rd``, ``4th``, ..., ``11th``, ``21st``."""
    if 11 <= day % 100 <= 13:
        return f"{day}th"
    return f"{day}{({1: 'st', 2: 'nd', 3: 'rd'}).get(day % 10, 'th')}"


def ordinal_words(day: int) -> str:
    """A day of the month as an English ordinal: ``third``, ``twenty-first``, ``thirtieth``."""
    if day < 10:
        return _UNITS[day]
    if day < 20:
        return _TEENS[day - 10]
    tens = {2: "twenty", 3: "thirty"}[day // 10]
    return f"{tens[:-1]}ieth" if day % 10 == 0 else f"{tens}-{_UNITS[day % 10]}"


def edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours."""
    rows = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            rows[i][j] = min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                rows[i][j] = min(rows[i][j], rows[i - 2][j - 2] + 1)
    return rows[-1][-1]


def nearest_months(word: str) -> list[int]:
    """The months (1-12) whose full names are fewest edits from ``word``, case ignored."""
    distances = [edit_distance(word.lower(), name.lower()) for name in MONTHS]
    return [m + 1 for m, d in enumerate(distances) if d == min(distances)]


def misspell(rng: np.random.Generator, name: str) -> str:
    """One typing slip in a month name (a swap, a dropped, doubled or wrong letter) that still points to it.

    The first letter is kept; a slip that would make the word as close to another
    month as to its own is drawn again (after 20 draws the name is left as it is).
    """
    month = MONTHS.index(name) + 1
    letters = "abcdefghijklmnopqrstuvwxyz"
    for _ in range(20):
        at = int(rng.integers(1, len(name) - 1))
        slip = int(rng.integers(4))
        if slip == 0:
            word = name[:at] + name[at + 1] + name[at] + name[at + 2 :]
        elif slip == 1:
            word = name[:at] + name[at + 1 :]
        elif slip == 2:
            word = name[:at] + name[at] + name[at:]
        else:
            word = name[:at] + letters[int(rng.integers(26))] + name[at + 1 :]
        if word != name and nearest_months(word) == [month]:
            return word
    return name


def _year(rng: np.random.Generator, date: datetime.date, short: bool) -> str:
    if not short:
        return str(date.year)
    return ("'" if rng.random() < 0.4 else "") + f"{date.year % 100:02d}"


def _number(rng: np.random.Generator, value: int) -> str:
    return f"{value:02d}" if rng.random() < 0.5 else str(value)


def _day_text(rng: np.random.Generator, day: int) -> str:
    draw = rng.random()
    if draw < 0.4:
        return str(day)
    if draw < 0.75:
        return ordinal_suffix(day)
    return ordinal_words(day)


def _month_name(rng: np.random.Generator, month: int, typos: float) -> str:
    name = MONTHS[month - 1]
    draw = rng.random()
    if draw < 0.3 and month != 5:  # abbreviated: "Mar", "Mar.", "Sept"
        word = "Sept" if month == 9 and rng.random() < 0.3 else name[:3]
        word += "." if rng.random() < 0.3 else ""
    elif rng.random() < typos:
        word = misspell(rng, name)
    else:
        word = name
    case = rng.random()
    if case < 0.15:
        return word.lower()
    if case < 0.22:
        return word.upper()
    return word


Template = Callable[[np.random.Generator, datetime.date, bool, float], str]
Answer = Callable[[np.random.Generator, datetime.date], datetime.date]


def last_of_month(date: datetime.date) -> datetime.date:
    following = date.replace(day=28) + datetime.timedelta(days=4)
    return following - datetime.timedelta(days=following.day)


def _numeric_day_first(rng, date, short, typos):  # 3.4.1999, 03-04-99
    sep = "." if rng.random() < 0.6 else "-"
    return sep.join([_number(rng, date.day), _number(rng, date.month), _year(rng, date, short).lstrip("'")])


def _numeric_month_first(rng, date, short, typos):  # 4/3/1999 (American)
    return "/".join([_number(rng, date.month), _number(rng, date.day), _year(rng, date, short).lstrip("'")])


def _numeric_year_first(rng, date, short, typos):  # 1999-04-03, 1999/4/3, 19990403
    draw = rng.random()
    if draw < 0.2:
        return f"{date.year}{date.month:02d}{date.day:02d}"
    if draw < 0.6:
        return date.isoformat()
    sep = "/" if draw < 0.85 else "."
    return sep.join([str(date.year), _number(rng, date.month), _number(rng, date.day)])


def _month_day_year(rng, date, short, typos):  # March 3rd, 1999
    comma = "," if rng.random() < 0.6 else ""
    return f"{_month_name(rng, date.month, typos)} {_day_text(rng, date.day)}{comma} {_year(rng, date, short)}"


def _day_month_year(rng, date, short, typos):  # 3 March 1999, the 3rd of March '99
    day, month, year = _day_text(rng, date.day), _month_name(rng, date.month, typos), _year(rng, date, short)
    if rng.random() < 0.45:
        the = "the " if rng.random() < 0.7 else ""
        comma = "," if rng.random() < 0.3 else ""
        return f"{the}{day} of {month}{comma} {year}"
    return f"{day} {month} {year}"


def _dashed_names(rng, date, short, typos):  # 03-Mar-1999
    month = _month_name(rng, date.month, 0.0).rstrip(".")
    year = _year(rng, date, short).lstrip("'")
    return f"{_number(rng, date.day)}-{month}-{year}"


def _year_month_day(rng, date, short, typos):  # 1999 March 3
    return f"{date.year} {_month_name(rng, date.month, typos)} {_day_text(rng, date.day)}"


def _no_day(rng, date, short, typos):  # March 1999, Mar '99, 03/1999 (the first of the month)
    if rng.random() < 0.25:
        return f"{_number(rng, date.month)}/{date.year}"
    of = " of" if rng.random() < 0.15 else ""
    return f"{_month_name(rng, date.month, typos)}{of} {_year(rng, date, short)}"


def _mid_or_end(rng, date, short, typos):  # mid-March 1999, the end of Feb. 2000
    month, year = _month_name(rng, date.month, typos), _year(rng, date, short)
    if date.day == 15:
        return f"mid-{month} {year}" if rng.random() < 0.6 else f"the middle of {month} {year}"
    return f"the {'end' if rng.random() < 0.5 else 'last day'} of {month} {year}"


def _nth_weekday(rng, date, short, typos):  # the 2nd Tuesday of March 1999, the last Friday in May '99
    month, year = _month_name(rng, date.month, typos), _year(rng, date, short)
    weekday = WEEKDAYS[date.weekday()]
    if date.day + 7 > last_of_month(date).day and (date.day > 28 or rng.random() < 0.5):
        nth = "last"
    else:
        n = (date.day - 1) // 7 + 1
        nth = ordinal_words(n) if rng.random() < 0.6 else ordinal_suffix(n)
    return f"the {nth} {weekday} {'of' if rng.random() < 0.6 else 'in'} {month} {year}"


def _holiday(rng, date, short, typos):  # Christmas Eve 1999
    names = [n for n, (m, d) in HOLIDAYS.items() if (m, d) == (date.month, date.day)]
    name = names[int(rng.integers(len(names)))]
    return f"{name} {_year(rng, date, short)}"


def _first(rng, date):
    return date.replace(day=1)


def _mid_or_last(rng, date):
    return date.replace(day=15) if rng.random() < 0.4 else last_of_month(date)


def _a_holiday(rng, date):
    month, day = list(HOLIDAYS.values())[int(rng.integers(len(HOLIDAYS)))]
    return date.replace(month=month, day=day)


def _same(rng, date):
    return date


TEMPLATES: tuple[tuple[Template, float, Answer], ...] = (  # (template, weight, the date it writes)
    (_numeric_day_first, 0.11, _same),
    (_numeric_month_first, 0.09, _same),
    (_numeric_year_first, 0.07, _same),
    (_month_day_year, 0.17, _same),
    (_day_month_year, 0.19, _same),
    (_dashed_names, 0.06, _same),
    (_year_month_day, 0.06, _same),
    (_no_day, 0.09, _first),
    (_mid_or_end, 0.04, _mid_or_last),
    (_nth_weekday, 0.08, _same),
    (_holiday, 0.04, _a_holiday),
)


def _with_weekday(rng: np.random.Generator, date: datetime.date, text: str) -> str:
    name = WEEKDAYS[date.weekday()]
    name = name[:3] if rng.random() < 0.4 else name
    return f"{name}, {text}" if rng.random() < 0.7 else f"{name} {text}"


def write_date(rng: np.random.Generator, date: datetime.date, *, typos: float = 0.25) -> tuple[str, str]:
    """One way a person might write ``date``, and the ISO form it means under the module's conventions."""
    weights = np.array([w for _, w, _ in TEMPLATES])
    template, _, answer = TEMPLATES[int(rng.choice(len(TEMPLATES), p=weights / weights.sum()))]
    date = answer(rng, date)
    short = date >= TWO_DIGIT_FIRST and template not in (_numeric_year_first, _year_month_day) and rng.random() < 0.35
    text = template(rng, date, short, typos)
    if answer is _same and template not in (_numeric_year_first, _nth_weekday) and rng.random() < 0.12:
        text = _with_weekday(rng, date, text)
    return text, date.isoformat()


def generate(n: int, *, seed: int, typos: float = 0.25) -> tuple[list[str], list[str]]:
    """``n`` distinct written dates and their ISO forms, reproducibly from ``seed``.

    Dates are drawn uniformly from 1900-01-01 to 2029-12-31. The first ``k`` rows of
    ``generate(n)`` are those of ``generate(k)`` with the same arguments.
    """
    rng = np.random.default_rng(seed)
    span = (LAST_DAY - FIRST_DAY).days + 1
    texts: list[str] = []
    answers: list[str] = []
    seen: set[str] = set()
    while len(texts) < n:
        date = FIRST_DAY + datetime.timedelta(days=int(rng.integers(span)))
        text, answer = write_date(rng, date, typos=typos)
        if text not in seen:
            seen.add(text)
            texts.append(text)
            answers.append(answer)
    return texts, answers


def read_date(text: str) -> str:
    """The ISO form of a written date under the module's conventions: a reference reader, used to check the data.

    Not a general date parser: it reads exactly the forms :func:`write_date` writes.
    """
    for name in sorted(HOLIDAYS, key=len, reverse=True):
        if text.startswith(name + " "):
            month, day = HOLIDAYS[name]
            return datetime.date(_read_year(text[len(name) + 1 :]), month, day).isoformat()
    words = text.replace(",", " ").replace("mid-", "mid ").split()
    nth_weekday = len(words) == 6 and words[2] in WEEKDAYS and words[3] in ("of", "in")
    if words[0] == "mid" or words[0] == "the" and words[1] in ("middle", "end", "last") or nth_weekday:
        first = datetime.date(_read_year(words[-1]), _read_month(words[-2]), 1)
        if words[1] == "last" and words[2] == "day" or words[1] == "end":
            return last_of_month(first).isoformat()
        if words[0] == "mid" or words[1] == "middle":
            return first.replace(day=15).isoformat()
        weekday = [d.lower() for d in WEEKDAYS].index(words[2].lower())
        days = [first + datetime.timedelta(days=i) for i in range(last_of_month(first).day)]
        matching = [d for d in days if d.weekday() == weekday]
        return (matching[-1] if words[1] == "last" else matching[_read_day(words[1]) - 1]).isoformat()
    words = text.replace(",", " ").split()
    if words and nearest_weekday(words[0]):
        words = words[1:]
    words = [w for w in words if w.lower() not in ("the", "of")]
    if len(words) == 1:
        return _read_numeric(words[0])
    if len(words) == 2:  # month and year, no day
        month = _read_month(words[0]) if not words[0][0].isdigit() else int(words[0].split("/")[0])
        return datetime.date(_read_year(words[1]), month, 1).isoformat()
    if words[0].isdigit() and len(words[0]) == 4:  # 1999 March 3rd
        return datetime.date(int(words[0]), _read_month(words[1]), _read_day(words[2])).isoformat()
    if words[0][0].isdigit() or _is_day_word(words[0]):  # 3rd March 1999
        return datetime.date(_read_year(words[2]), _read_month(words[1]), _read_day(words[0])).isoformat()
    return datetime.date(_read_year(words[2]), _read_month(words[0]), _read_day(words[1])).isoformat()


def nearest_weekday(word: str) -> bool:
    return any(word.lower() in (d.lower(), d[:3].lower()) for d in WEEKDAYS)


def _is_day_word(word: str) -> bool:
    return any(word.lower() == ordinal_words(d) for d in range(1, 32))


def _read_year(word: str) -> int:
    digits = word.lstrip("'")
    if len(digits) == 4:
        return int(digits)
    return 2000 + int(digits) if int(digits) < 30 else 1900 + int(digits)


def _read_day(word: str) -> int:
    digits = word.lower().rstrip("stndrh")
    if digits.isdigit():
        return int(digits)
    return next(d for d in range(1, 32) if ordinal_words(d) == word.lower())


def _read_month(word: str) -> int:
    word = word.rstrip(".").lower()
    for m, name in enumerate(MONTHS, start=1):
        if word in (name.lower(), name[:3].lower()) or (m == 9 and word == "sept"):
            return m
    (month,) = nearest_months(word)
    return month


def _read_numeric(word: str) -> str:
    if word.isdigit():  # 19990403
        return datetime.date(int(word[:4]), int(word[4:6]), int(word[6:])).isoformat()
    if "-" in word and not word.split("-")[1].isdigit():  # 03-Mar-1999
        day, month, year = word.split("-")
        return datetime.date(_read_year(year), _read_month(month), int(day)).isoformat()
    sep = next(s for s in "./-" if s in word)
    parts = word.split(sep)
    if len(parts) == 2:  # 03/1999
        return datetime.date(int(parts[1]), int(parts[0]), 1).isoformat()
    if len(parts[0]) == 4:
        return datetime.date(int(parts[0]), int(parts[1]), int(parts[2])).isoformat()
    if sep == "/":
        return datetime.date(_read_year(parts[2]), int(parts[0]), int(parts[1])).isoformat()
    return datetime.date(_read_year(parts[2]), int(parts[1]), int(parts[0])).isoformat()
