"""What each install gives: `pip install .` scores files without Flask, SQLAlchemy, JAX or numba; the
commands of a missing extra still show in `arena --help` and say which extra to install;
`create_app` does no heavy work."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers import sample_csv

# Runs the arena command in a fresh interpreter where the extras' packages cannot be imported.
WITHOUT_EXTRAS = """
import sys
from importlib.abc import MetaPathFinder

class Absent(MetaPathFinder):
    BLOCKED = {"flask", "werkzeug", "markdown", "sqlalchemy", "alembic", "jax", "flax", "optax", "redis", "rq", "numba"}

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Absent())
from arena.cli import main
code = main(sys.argv[1:])
loaded = sorted(n for n in ("flask", "sqlalchemy", "jax") if n in sys.modules)
print("LOADED", loaded, file=sys.stderr)
sys.exit(code)
"""


def arena_without_extras(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", WITHOUT_EXTRAS, *argv], capture_output=True, text=True, timeout=300)


def test_help_lists_every_command_even_without_the_extras():
    result = arena_without_extras("--help")
    assert result.returncode == 0, result.stderr
    for command in ("tasks", "data", "validate", "score", "submit", "serve", "baseline", "host", "db"):
        assert f"    {command}" in result.stdout


@pytest.mark.slow
def test_scoring_works_without_flask_sqlalchemy_jax_or_numba(tmp_path):
    assert arena_without_extras("tasks", "list").returncode == 0
    result = arena_without_extras("data", "sunspots", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    path = tmp_path / "sample.csv"
    path.write_text(sample_csv("sunspots"))
    assert arena_without_extras("validate", "sunspots", str(path)).returncode == 0
    scored = arena_without_extras("score", "sunspots", str(path), "--json")
    assert scored.returncode == 0, scored.stderr
    assert '"primary": "rmse"' in scored.stdout and "LOADED []" in scored.stderr
    listed = arena_without_extras("suite", "list")
    assert listed.returncode == 0 and "core" in listed.stdout and "LOADED []" in listed.stderr
    folder = tmp_path / "suite"
    folder.mkdir()
    (folder / "suite.toml").write_text('name = "one"\nversion = 1\n[[tasks]]\ntask = "sunspots"\nfloor = 60.0\n')
    (tmp_path / "predictions").mkdir()
    suite_scored = arena_without_extras("suite", "score", str(folder), str(tmp_path / "predictions"))
    assert suite_scored.returncode == 1 and "sunspots: has no predictions file" in suite_scored.stderr
    path.rename(tmp_path / "predictions" / "sunspots.csv")
    suite_scored = arena_without_extras("suite", "score", str(folder), str(tmp_path / "predictions"), "--json")
    assert suite_scored.returncode == 0, suite_scored.stderr
    assert '"aggregate":' in suite_scored.stdout and "LOADED []" in suite_scored.stderr


@pytest.mark.parametrize(
    ("argv", "extra"),
    [
        (["serve"], "server"),
        (["baseline", "digits", "cnn"], "baselines"),
        (["host", "digits"], "server"),
        (["db", "upgrade"], "server"),
        (["suite", "host", "core"], "server"),
    ],
)
@pytest.mark.slow
def test_a_command_whose_extra_is_missing_names_the_extra(argv, extra):
    result = arena_without_extras(*argv)
    assert result.returncode == 1
    checkout = Path(__file__).resolve().parents[1]  # the tests run from a checkout: the hint installs from it
    assert f"pip install -e '{checkout}[{extra}]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_hint_for_a_missing_extra_installs_from_an_index_outside_a_checkout(tmp_path):
    from arena.cli import missing_part

    hint = missing_part("baseline", "jax", checkout=tmp_path)  # a folder with no pyproject.toml: an installed wheel
    assert hint == "'arena baseline' needs jax: pip install 'arena[baselines]'."
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'arena'\n")  # now it is a checkout
    assert f"pip install -e '{tmp_path}[baselines]'" in missing_part("baseline", "jax", checkout=tmp_path)


def test_create_app_does_no_heavy_work(tmp_path):
    """No schema, no hosting, no scoring thread: that is `arena setup` and `arena serve`'s job."""
    from sqlalchemy import inspect

    from leaderboard import create_app

    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}", "SECRET_KEY": "test"})
    engine = app.extensions["arena_db"].engine
    assert inspect(engine).get_table_names() == []
    assert not any(thread.is_alive() for thread in app.extensions["arena_queue"]._threads)
    engine.dispose()


def test_arena_setup_prepares_a_fresh_installation_once(tmp_path, capsys):
    from arena.bundles.loading import builtin_task_names
    from arena.cli import main
    from arena.db.database import Database
    from arena.server import competitions

    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert main(["setup", "--database", url]) == 0
    assert main(["setup", "--database", url]) == 0  # a second run hosts nothing twice
    db = Database(url)
    with db.session() as session:
        assert sorted(c.slug for c in competitions.list_all(session)) == builtin_task_names()
    db.engine.dispose()
