"""Probing the public rows: the Ladder is the default for a new competition from a bundle, organisers are warned
when rounded scores and generous limits let one-row probes read many public labels, and participants never see it."""

from __future__ import annotations

import importlib.util
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import auth, upload

from arena.db.models import Competition
from arena.server import feedback
from arena.server.installation import prepare

N = 60  # the parity task: 40 train rows, 20 test rows (6 public at the default fraction)


def parity_files(test_rows: int = N - 40, feedback_line: str = "", version: int = 1) -> dict[str, str]:
    """A two-class bundle (labels from the id's parity) with ``test_rows`` test rows; ``feedback_line`` goes into
    its [competition] table."""
    ids = range(40, 40 + test_rows)
    toml = (
        f'name = "parity"\ntitle = "Parity"\nversion = {version}\nkind = "classification"\n\n'
        '[data]\ntrain = "train.csv"\ntest = "test.csv"\nanswers = "answers.csv"\nid = "id"\ntarget = "label"\n\n'
        '[metrics]\nprimary = "accuracy"\n\n[submission]\nprediction = "label"\n'
        + (f"\n[competition]\n{feedback_line}\n" if feedback_line else "")
    )
    return {
        "task.toml": toml,
        "train.csv": "id,x,label\n" + "".join(f"{i},{i * 1.5},{i % 2}\n" for i in range(40)),
        "test.csv": "id,x\n" + "".join(f"{i},{i * 1.5}\n" for i in ids),
        "answers.csv": "id,label\n" + "".join(f"{i},{i % 2}\n" for i in ids),
    }


def bundle(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def host(client, token, folder, slug, **body) -> dict:
    response = client.post(
        "/api/v1/competitions", json={"task": str(folder), "slug": slug, **body}, headers=auth(token)
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def stored_feedback(app, slug: str) -> str:
    with app.extensions["arena_db"].session() as session:
        return session.query(Competition).filter_by(slug=slug).one().feedback


def admin_page(client, slug: str) -> str:
    response = client.get(f"/c/{slug}/admin")
    assert response.status_code == 200
    return response.get_data(as_text=True)


# --- the default mode ------------------------------------------------------------------------------------------


def test_a_bundle_that_names_no_mode_is_hosted_under_the_ladder(app, client, people, tmp_path):
    org = people.token("org", organiser=True)
    assert host(client, org, bundle(tmp_path / "plain", parity_files()), "plain")["rules"]["feedback"] == "ladder"
    named = bundle(tmp_path / "named", parity_files(feedback_line='feedback = "rounded"'))
    assert host(client, org, named, "named")["rules"]["feedback"] == "rounded"  # the bundle's own choice
    chosen = host(client, org, bundle(tmp_path / "chosen", parity_files()), "chosen", feedback="rounded")
    assert chosen["rules"]["feedback"] == "rounded"  # the organiser's choice when hosting


def test_built_in_tasks_keep_rounded_scores(app, client, people):
    # Their labels come from public data sets: probing finds nothing, and their boards keep every interval.
    assert {stored_feedback(app, name) for name in ("digits", "listops", "mnist1d", "sunspots")} == {"rounded"}
    org = people.token("org", organiser=True)
    assert host(client, org, "digits", "digits-course")["rules"]["feedback"] == "rounded"


def test_a_competition_keeps_its_stored_mode_through_a_new_version_and_a_restart(app, client, people, tmp_path):
    org = people.token("org", organiser=True)
    folder = bundle(tmp_path / "parity", parity_files())
    host(client, org, folder, "kept")
    client.patch("/api/v1/competitions/kept", json={"feedback": "rounded"}, headers=auth(org))
    bundle(folder, parity_files(version=2))  # the new version names no mode: the stored one stays
    assert (
        client.put(
            "/api/v1/competitions/kept/task", json={"task": str(folder), "confirm": True}, headers=auth(org)
        ).status_code
        == 200
    )
    prepare(app.extensions["arena_db"])  # as `arena serve` does at every start
    assert stored_feedback(app, "kept") == "rounded"
    assert stored_feedback(app, "digits") == "rounded"


# --- the organiser's warning ------------------------------------------------------------------------------------


def test_the_admin_page_warns_when_the_limits_allow_many_probes_against_few_public_rows(app, client, people, tmp_path):
    org = people.token("org", organiser=True)
    host(client, org, bundle(tmp_path / "parity", parity_files()), "small", feedback="rounded", daily_limit=5)
    upload(client, people.token("ada"), "small", "id,label\n" + "".join(f"{i},{i % 2}\n" for i in range(40, N)))
    people.login("org")
    page = admin_page(client, "small")
    warning = " ".join(page.split('id="probing-warning"')[1].split("</div>")[0].split())
    # A benchmark: 5 a day over the 30-day horizon, one team so far; 6 public rows, all of them within reach.
    assert "150 submissions" in warning and "30-day horizon" in warning and "1 team so far" in warning
    assert "about 6 of its about 6 public rows (100%)" in warning and "Ladder" in warning


def test_no_warning_for_modest_limits_or_under_the_ladder(app, client, people, tmp_path):
    org = people.token("org", organiser=True)
    big = bundle(tmp_path / "big", parity_files(test_rows=2000))
    host(
        client,
        org,
        big,
        "modest",
        feedback="rounded",
        daily_limit=1,
        starts_at="2030-01-01T00:00",
        ends_at="2030-01-04T00:00",
    )  # 3 uploads against 600 public rows
    host(client, org, bundle(tmp_path / "small", parity_files()), "laddered", daily_limit=5)  # the default: Ladder
    people.login("org")
    assert 'id="probing-warning"' not in admin_page(client, "modest")
    assert 'id="probing-warning"' not in admin_page(client, "laddered")
    client.post("/c/laddered/admin/settings", data={"csrf_token": people.csrf(), "feedback": "rounded"})
    assert 'id="probing-warning"' in admin_page(client, "laddered")  # the same rules, rounded: warned


def test_participants_never_see_the_warning(app, client, people, tmp_path):
    org = people.token("org", organiser=True)
    host(client, org, bundle(tmp_path / "parity", parity_files()), "small", feedback="rounded", daily_limit=5)
    ada = people.token("ada")
    upload(client, ada, "small", "id,label\n" + "".join(f"{i},{i % 2}\n" for i in range(40, N)))
    people.drain()
    people.login("ada")
    assert client.get("/c/small/admin").status_code in (302, 403)
    for path in ("/c/small", "/", "/c/small/submissions"):
        response = client.get(path)
        assert "probing-warning" not in response.get_data(as_text=True) and "can be probed" not in response.get_data(
            as_text=True
        )
    assert "probing" not in str(client.get("/api/v1/competitions/small", headers=auth(ada)).get_json())


def test_the_exposure_counts_utc_days_team_limits_and_the_total_limit():
    def competition(**rules):
        base = dict(
            test_rows=1000,
            public_fraction=0.3,
            daily_limit=5,
            total_limit=None,
            starts_at=None,
            ends_at=None,
            created_at=datetime(2030, 1, 1),
            feedback="rounded",
            task_ref="/srv/tasks/x",
        )
        return SimpleNamespace(**{**base, **rules})

    team = lambda limit=None, out=False: SimpleNamespace(daily_limit_override=limit, disqualified=out)
    ten_days = competition(starts_at=datetime(2030, 1, 1, 12), ends_at=datetime(2030, 1, 11))  # 1 Jan to 10 Jan
    found = feedback.probe_exposure(ten_days, [team(), team(limit=20), team(out=True)])
    assert (found.days, found.horizon, found.teams, found.submissions) == (10, False, 2, 50 + 200)
    assert (found.public_rows, found.labels) == (300, 75)
    capped = feedback.probe_exposure(competition(total_limit=40), [team(), team()])
    assert (capped.days, capped.horizon, capped.submissions) == (feedback.PROBE_HORIZON_DAYS, True, 80)
    assert feedback.probe_exposure(competition(test_rows=None), []) is None
    one_day = competition(daily_limit=1, starts_at=datetime(2030, 1, 1), ends_at=datetime(2030, 1, 2))
    assert feedback.probe_exposure(one_day, []).submissions == 1
    assert feedback.probing_warning(one_day, []) is None  # 0 labels of 300: nothing to say
    assert feedback.probing_warning(competition(), []) is not None  # 150 uploads, 45 labels: 15%
    assert feedback.probing_warning(competition(feedback="ladder"), []) is None
    assert feedback.probing_warning(competition(task_ref="digits"), []) is None  # public data


# --- the attacks, against the server's own scoring and feedback --------------------------------------------------

_spec = importlib.util.spec_from_file_location(
    "ladder_attack", Path(__file__).parent.parent / "bench" / "ladder_attack.py"
)
attack = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(attack)


@pytest.mark.slow
def test_the_server_attacks_read_rounded_scores_and_far_less_of_the_ladder(tmp_path, monkeypatch):
    from arena.config import secret_path

    monkeypatch.setenv("ARENA_HOME", str(tmp_path / "home"))  # a fixed secret: the same public rows every run,
    (tmp_path / "home").mkdir()  # so the thresholds below never meet chance
    secret_path().write_text("ab" * 32)
    competition = attack.ServerCompetition(public_rows=2000, public_fraction=0.3, seed=3, folder=tmp_path / "task")
    rounded = attack.server_probe(competition, competition.rounded_view(), probes=60, seed=3)
    ladder = attack.server_probe(competition, competition.ladder_view(), probes=60, seed=3)
    assert rounded["public"] > 0 and rounded["learned"] == rounded["public"] and rounded["wrong"] == 0
    assert ladder["wrong"] == 0 and ladder["learned"] < rounded["learned"] / 2
    boosted = attack.server_boosting(
        competition, {"rounded": competition.rounded_view, "ladder": competition.ladder_view}, submissions=200, seed=3
    )
    gap = {key: found["public"] - found["private"] for key, found in boosted.items()}
    assert gap[("rounded", "beats 0.5")] > 0.06  # the vote overfits the public rows
    assert abs(gap[("ladder", "beats 0.5")]) < 0.02  # within the noise of 2,000 public rows
    assert gap[("ladder", "moved")] < gap[("rounded", "beats 0.5")] / 2  # a few lucky uploads, not a boosted vote
