"""An organiser's own pages and forms: the overview, data, rules and timeline pages (web editor with a preview, and
the API), sanitised as every description is; the build form that keeps what was typed; archive confirmed and shown as
archived; every setting change in the audit log; messages that say how many columns they do not list."""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta
from html.parser import HTMLParser

import pytest
from conftest import auth, upload
from test_organiser import competition, host, right_on, task_files, write

from arena.errors import listed
from arena.server import audit, competitions

BOTH = pytest.mark.parametrize("app", ["sqlite", "postgresql"], indirect=True)

HOSTILE = {
    "description": "# Welcome\n<script>alert('overview')</script>\n[click](javascript:alert(1))",
    "data_page": "Columns: **x**.\n<img src=x onerror=alert('data')>\n![pixel](data:image/png;base64,AAAA)",
    "rules_page": 'No external data.\n<iframe src=https://evil.example></iframe>\n<a href="#" onclick="alert(1)">x</a>',
    "timeline_page": "- Merger deadline: a week before the end\n<svg onload=alert('timeline')></svg>",
}


@pytest.fixture
def org(people):
    return people.token("org", organiser=True)


def log_of(app, slug: str = "parity") -> list:
    with app.extensions["arena_db"].session() as session:
        return [(e.action, e.detail) for e in audit.entries(session, competitions.get(session, slug))]


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append((tag, {name: value or "" for name, value in attrs}))


def assert_inert(html: str) -> None:
    """Nothing of the hostile Markdown is markup that runs: no script, frame or SVG element, no event handler, no
    javascript: or data: address (the text may still show, escaped, as what the organiser typed)."""
    parser = _Tags()
    parser.feed(html)
    for tag, attributes in parser.tags:
        assert tag not in ("script", "iframe", "svg", "object", "embed"), tag
        assert not [name for name in attributes if name.startswith("on")], (tag, attributes)
        for name in ("href", "src"):
            assert not attributes.get(name, "").strip().lower().startswith(("javascript:", "data:")), attributes


@BOTH
def test_the_editor_previews_saves_and_logs_every_page_and_participants_see_them(app, client, people, org, tmp_path):
    host(client, org, write(tmp_path / "parity", task_files()))
    people.login("org")
    editor = client.get("/c/parity/admin/pages")
    assert editor.status_code == 200 and 'name="data_page"' in editor.get_data(as_text=True)
    previewed = client.post("/c/parity/admin/pages", data={"csrf_token": people.csrf(), "preview": "1", **HOSTILE})
    text = previewed.get_data(as_text=True)
    assert previewed.status_code == 200 and 'id="preview-data_page"' in text and "<strong>x</strong>" in text
    assert_inert(text.split('id="preview-description"')[1])
    assert competition(app).data_page == ""  # a preview saves nothing
    assert not [entry for entry in log_of(app) if entry[0] == "settings"]

    saved = client.post("/c/parity/admin/pages", data={"csrf_token": people.csrf(), **HOSTILE})
    assert saved.status_code == 302
    stored = competition(app)
    assert (stored.description, stored.data_page, stored.rules_page, stored.timeline_page) == tuple(HOSTILE.values())
    settings = [detail for action, detail in log_of(app) if action == "settings"]
    assert len(settings) == 1
    for page in ("overview page edited", "data page edited", "rules page edited", "timeline page edited"):
        assert page in settings[0]
    assert "alert" not in settings[0]  # the log names a page's change, never quotes it

    client.post("/logout", data={"csrf_token": people.csrf()})
    page = client.get("/c/parity").get_data(as_text=True)
    for section in ('id="overview"', 'id="data-page"', 'id="rules-page"', 'id="timeline-page"', 'id="page-sections"'):
        assert section in page
    assert "<h1>Welcome</h1>" in page and "Merger deadline" in page
    assert_inert(page)
    assert "/admin/pages" not in page  # the editor's link is for organisers


@BOTH
def test_the_api_edits_pages_as_the_web_does_and_only_organisers_may(app, client, people, org, tmp_path):
    host(client, org, write(tmp_path / "parity", task_files()))
    ada = people.token("ada")
    refused = client.patch("/api/v1/competitions/parity", json={"rules_page": "mine now"}, headers=auth(ada))
    assert refused.status_code == 403 and competition(app).rules_page == ""
    changed = client.patch(
        "/api/v1/competitions/parity",
        json={"rules_page": "## Rules\n\nBe kind.", "timeline_page": ""},
        headers=auth(org),
    )
    assert changed.status_code == 200, changed.get_json()
    assert competition(app).rules_page == "## Rules\n\nBe kind."
    shown = client.get("/api/v1/competitions/parity").get_json()["pages"]
    assert shown["rules_page"] == "## Rules\n\nBe kind." and shown["data_page"] == ""
    assert [d for a, d in log_of(app) if a == "settings"] == ["rules page edited (0 → 18 characters)"]
    huge = client.patch(
        "/api/v1/competitions/parity", json={"data_page": "x" * (competitions.MAX_PAGE_CHARS + 1)}, headers=auth(org)
    )
    assert huge.status_code == 400 and "at most 200,000 fit" in huge.get_json()["problems"][0]
    assert competition(app).data_page == ""
    # A participant cannot reach the editor, and a forged post without the CSRF token changes nothing.
    people.login("ada")
    assert client.get("/c/parity/admin/pages").status_code == 403
    assert client.post("/c/parity/admin/pages", data={"csrf_token": people.csrf(), "data_page": "x"}).status_code == 403
    client.post("/logout", data={"csrf_token": people.csrf()})
    people.login("org")
    assert client.post("/c/parity/admin/pages", data={"data_page": "forged"}).status_code == 400
    assert competition(app).data_page == ""


def test_a_page_too_long_stays_in_the_editor_with_what_to_fix(app, client, people, org, tmp_path):
    host(client, org, write(tmp_path / "parity", task_files()))
    people.login("org")
    long = "word " * (competitions.MAX_PAGE_CHARS // 5 + 1)
    kept = client.post(
        "/c/parity/admin/pages", data={"csrf_token": people.csrf(), "rules_page": "Short rules.", "data_page": long}
    )
    text = kept.get_data(as_text=True)
    assert kept.status_code == 400 and 'id="pages-problems"' in text and "at most 200,000 fit" in text
    assert "Short rules." in text  # what was typed is still there
    assert competition(app).rules_page == ""  # all or nothing


def test_every_rule_change_on_the_admin_page_is_logged_with_old_and_new_values(app, client, people, org, tmp_path):
    host(client, org, write(tmp_path / "parity", task_files()))
    people.login("org")
    ends = (datetime.now() + timedelta(days=30)).replace(second=0, microsecond=0)
    form = {
        "csrf_token": people.csrf(),
        "daily_limit": "3",
        "team_size": "2",
        "feedback": "rounded",
        "ends_at": ends.strftime("%Y-%m-%dT%H:%M"),
    }
    assert client.post("/c/parity/admin/settings", data=form).status_code == 302
    detail = [d for a, d in log_of(app) if a == "settings"][0]
    assert "daily_limit: 5 → 3" in detail and "team_size: 4 → 2" in detail and f"ends_at: None → {ends}" in detail
    sub = upload(client, people.token("ada"), "parity", right_on(1.0)).get_json()["submission"]
    assert sub["id"]
    with app.extensions["arena_db"].session() as session:
        from arena.db.models import Submission

        team = session.get(Submission, sub["id"]).team_id
    limited = client.post(
        "/c/parity/admin/team-limit", data={"csrf_token": people.csrf(), "team_id": team, "daily_limit": "9"}
    )
    assert limited.status_code == 302
    assert ("team-limit", f"team #{team}: 9") in log_of(app)


@BOTH
def test_archive_is_confirmed_on_the_web_and_in_the_api_and_lists_say_archived(app, client, people, org, tmp_path):
    ends = (datetime.now() + timedelta(days=60)).strftime("%Y-%m-%dT%H:%M")
    host(client, org, write(tmp_path / "parity", task_files()), ends_at=ends)
    assert client.post("/api/v1/competitions/parity/close", headers=auth(org)).status_code == 200
    people.login("org")
    admin = client.get("/c/parity/admin").get_data(as_text=True)
    assert 'id="action-archive" class="danger"' in admin
    asked = client.post("/c/parity/admin/archive", data={"csrf_token": people.csrf()})
    assert asked.status_code == 200 and b'id="confirm-question"' in asked.data and b"read-only for good" in asked.data
    assert competition(app).lifecycle != "archived"  # asked, not done
    unconfirmed = client.post("/api/v1/competitions/parity/archive", json={}, headers=auth(org))
    assert unconfirmed.status_code == 400 and competition(app).lifecycle != "archived"
    done = client.post("/c/parity/admin/archive", data={"csrf_token": people.csrf(), "confirm": "1"})
    assert done.status_code == 302 and competition(app).lifecycle == "archived"
    assert ("archive", "") in [(a, d or "") for a, d in log_of(app)]
    client.post("/logout", data={"csrf_token": people.csrf()})
    card = client.get("/").get_data(as_text=True).split("/c/parity")[1].split("</a>")[0]
    assert "archived" in card and "ends " not in card and "ended " in card
    listed_json = {c["slug"]: c for c in client.get("/api/v1/competitions").get_json()}
    assert listed_json["parity"]["state"] == "archived" and not listed_json["parity"]["accepting_submissions"]
    page = client.get("/c/parity").get_data(as_text=True)
    dates = page.split('id="dates"')[1].split("</p>")[0]
    assert "Archived" in dates and "Ended" in dates and "Ends " not in dates


def test_destructive_buttons_are_marked_and_every_one_asks_first(app, client, people, org, tmp_path):
    host(client, org, write(tmp_path / "parity", task_files()))
    upload(client, people.token("ada"), "parity", right_on(1.0))
    people.drain()
    client.post("/api/v1/competitions/parity/announcements", json={"body": "hello"}, headers=auth(org))
    people.login("org")
    client.post("/c/parity/admin/announce", data={"csrf_token": people.csrf(), "body": "Read the rules."})
    admin = client.get("/c/parity/admin").get_data(as_text=True)
    assert 'id="action-reveal" class="danger"' in admin
    assert admin.count("small danger") >= 3  # disqualify a submission, disqualify a team, remove an announcement
    with app.extensions["arena_db"].session() as session:
        from arena.db.models import Announcement

        announcement = session.query(Announcement).first().id
    asked = client.post(
        "/c/parity/admin/unannounce", data={"csrf_token": people.csrf(), "announcement_id": announcement}
    )
    assert asked.status_code == 200 and b"Remove this announcement?" in asked.data and b"Yes, remove it" in asked.data
    with app.extensions["arena_db"].session() as session:
        assert session.get(Announcement, announcement) is not None


def test_a_bad_task_name_shows_the_build_form_again_with_every_value_kept(app, client, people, org):
    people.login("org")
    form = {
        "csrf_token": people.csrf(),
        "name": "my task",
        "title": "Parity <b>bold</b>",
        "id_column": "id",
        "target": "label",
        "metric": "f1_macro",
        "prediction": "label",
        "kind": "classification",
        "daily_limit": "7",
        "description": "Keep **this** text.",
    }
    csvs = {part: (io.BytesIO(task_files()[f"{part}.csv"].encode()), f"{part}.csv") for part in ("train", "answers")}
    again = client.post("/host/build", data={**form, **csvs}, content_type="multipart/form-data")
    text = again.get_data(as_text=True)
    assert again.status_code == 400
    name_problem = text.split('id="name-problems"')[1].split("</ul>")[0]
    assert "no spaces" in name_problem
    assert "choose the test file" in text.split('id="test-problems"')[1]
    assert 'value="my task"' in text and 'value="7"' in text and "Keep **this** text." in text
    assert "Parity &lt;b&gt;bold&lt;/b&gt;" in text  # kept, and escaped
    assert "<option selected>f1_macro</option>" in text
    assert 'id="choose-files-again"' in text and "answers, train" in text


def test_build_again_comes_back_filled_in_and_the_organisers_sample_submission_is_kept(
    app, client, people, org, arena_home
):
    people.login("org")
    files = task_files()
    sample = "id,label\n" + "".join(f"{i},0\n" for i in range(40, 60))
    form = {
        "csrf_token": people.csrf(),
        "name": "parity_two",
        "title": "Parity",
        "id_column": "id",
        "target": "label",
        "metric": "accuracy",
        "prediction": "label",
        "kind": "classification",
        "daily_limit": "4",
        "description": "# About",
    }
    data = {part: (io.BytesIO(files[f"{part}.csv"].encode()), f"{part}.csv") for part in ("train", "test", "answers")}
    data["sample_submission"] = (io.BytesIO(sample.encode()), "sample_submission.csv")
    preview = client.post("/host/build", data={**form, **data}, content_type="multipart/form-data")
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200 and 'id="task-preview"' in text
    assert text.split('id="sample"')[1].split("</pre>")[0].strip().splitlines()[1] == "40,0"  # the organiser's own
    assert 'value="parity-two"' in text  # a task name's '_' makes no short name; the form offers one that is
    again_form = text.split('id="build-problems"')[0] if 'id="build-problems"' in text else text
    again_form = again_form.split('name="edit" value="1">')[-1].split('id="build-again"')[0]
    kept = re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">', again_form)
    assert ("name", "parity_two") in kept and ("description", "# About") in kept
    back = client.post("/host/build", data={"csrf_token": people.csrf(), "edit": "1", **dict(kept)})
    refilled = back.get_data(as_text=True)
    assert back.status_code == 200 and 'value="parity_two"' in refilled and 'value="4"' in refilled
    assert "# About" in refilled and 'id="choose-files-again"' in refilled

    bad_sample = "id,label\n" + "".join(f"{i},{i % 2}\n" for i in range(40, 60))  # the hidden answers themselves
    data = {part: (io.BytesIO(files[f"{part}.csv"].encode()), f"{part}.csv") for part in ("train", "test", "answers")}
    data["sample_submission"] = (io.BytesIO(bad_sample.encode()), "sample_submission.csv")
    leaked = client.post("/host/build", data={**form, **data}, content_type="multipart/form-data")
    assert "give the answer key away" in leaked.get_data(as_text=True)


def test_a_bad_or_taken_short_name_shows_the_host_form_again(app, client, people, org, tmp_path):
    host(client, org, write(tmp_path / "parity", task_files()))
    people.login("org")
    for slug, message in (("my comp", "lowercase letters"), ("parity", "exists already")):
        again = client.post(
            "/host",
            data={
                "csrf_token": people.csrf(),
                "task_ref": "digits",
                "slug": slug,
                "daily_limit": "3",
                "state": "draft",
            },
        )
        text = again.get_data(as_text=True)
        assert again.status_code == 400 and message in text.split('id="slug-problems"')[1]
        assert f'value="{slug}"' in text and 'value="digits"' in text and 'value="3"' in text
        assert '<option value="draft" selected>' in text


def test_missing_column_messages_say_how_many_they_do_not_list(write_bundle):
    assert listed(["a", "b"]) == "a, b"
    assert listed(range(40)).endswith("29, … and 10 more")
    from arena.errors import BundleError
    from arena.tasks import load_task

    columns = [f"f{i}" for i in range(40)]
    toml = (
        'name = "wide"\nversion = 1\nkind = "classification"\n[data]\ntrain = "train.csv"\ntest = "test.csv"\n'
        'answers = "answers.csv"\nid = "id"\ntarget = "label"\n[metrics]\nprimary = "accuracy"\n'
    )
    header = "id," + ",".join(columns) + ",species"
    row = lambda i: f"{i}," + ",".join("1" for _ in columns) + f",{i % 2}"
    folder = write_bundle(
        toml,
        {
            "train.csv": header + "\n" + "\n".join(row(i) for i in range(20)) + "\n",
            "test.csv": "id,"
            + ",".join(columns)
            + "\n"
            + "\n".join(f"{i}," + ",".join("1" for _ in columns) for i in range(20, 30))
            + "\n",
            "answers.csv": "id,species\n" + "\n".join(f"{i},{i % 2}" for i in range(20, 30)) + "\n",
        },
    )
    with pytest.raises(BundleError) as raised:
        load_task(str(folder))
    message = next(m for m in raised.value.messages() if "target column 'label' is absent" in m)
    assert "… and 12 more" in message  # 42 columns: 30 named, and the count of the others


def test_a_new_version_adopted_at_a_restart_and_a_command_line_host_are_in_the_log(app, client, org, tmp_path):
    from arena.server.installation import prepare

    folder = write(tmp_path / "parity", task_files())
    host(client, org, folder)
    write(folder, task_files(version=2, flip=True))
    assert prepare(app.extensions["arena_db"], host_builtins=False) == ["parity"]
    with app.extensions["arena_db"].session() as session:
        newest = audit.entries(session, competitions.get(session, "parity"))[0]
        assert (newest.action, newest.username) == ("replace", "(Arena)") and "task version 2" in newest.detail

    from arena.cli import main

    url = app.extensions["arena_db"].engine.url.render_as_string(hide_password=False)
    other = str(write(tmp_path / "other", task_files()))
    assert main(["host", other, "--slug", "digits-cli", "--database", url, "--daily-limit", "3"]) == 0
    with app.extensions["arena_db"].session() as session:
        entries = audit.entries(session, competitions.get(session, "digits-cli"))
        assert [(e.action, e.username) for e in entries] == [("host", "(command line)")]


def test_the_admin_page_sets_rules_acceptance_late_submissions_and_the_merger_deadline(
    app, client, people, org, tmp_path
):
    host(client, org, write(tmp_path / "parity", task_files()))
    people.login("org")
    ends = (datetime.now() + timedelta(days=30)).replace(second=0, microsecond=0)
    merger = ends - timedelta(days=10)
    page = client.get("/c/parity/admin").get_data(as_text=True)
    assert 'id="rules-acceptance"' in page and 'id="late-submissions"' in page and 'id="merger-deadline"' in page
    form = {
        "csrf_token": people.csrf(),
        "ends_at": ends.strftime("%Y-%m-%dT%H:%M"),
        "merger_deadline": merger.strftime("%Y-%m-%dT%H:%M"),
        "rules_acceptance": "true",
        "late_submissions": "true",
    }
    assert client.post("/c/parity/admin/settings", data=form).status_code == 302
    saved = competition(app)
    assert (saved.rules_acceptance, saved.late_submissions, saved.merger_deadline) == (True, True, merger)
    detail = [d for a, d in log_of(app) if a == "settings"][-1]
    assert "rules_acceptance: False → True" in detail and "late_submissions: False → True" in detail

    # The API clears an optional setting with JSON null, as with an empty form field.
    cleared = client.patch("/api/v1/competitions/parity", json={"merger_deadline": None}, headers=auth(org))
    assert cleared.status_code == 200, cleared.get_json()
    assert competition(app).merger_deadline is None
