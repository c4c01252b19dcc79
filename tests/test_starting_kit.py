"""Starting kits: a task declares a folder of its bundle, participants download it as starting_kit.zip.

The zip is built from the hosted snapshot, so an organiser editing their folder after hosting changes nothing a
participant gets; it is the same bytes every time; a kit that would hand out the hidden test inputs or the answer key
is refused when the bundle is loaded.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from conftest import auth

from arena.bundles.spec import load_spec
from arena.code.uploads import check_code_upload
from arena.errors import BundleError

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "code-competition"

TOML = """
name = "kit-task"
version = 1
kind = "classification"
[data]
train = "train.csv"
test = "test.csv"
answers = "answers.csv"
[metrics]
primary = "accuracy"
[submission]
prediction = "label"
{extra}
"""
FILES = {
    "train.csv": "id,x,label\n" + "".join(f"{i},{i % 7},{'ab'[i % 2]}\n" for i in range(30)),
    "test.csv": "id,x\n" + "".join(f"{i},{i % 5}\n" for i in range(100, 130)),
    "answers.csv": "id,label\n" + "".join(f"{i},{'ab'[i % 3 == 0]}\n" for i in range(100, 130)),
}
KIT_MAIN = "def predict(input_dir, output_dir):\n    pass\n"


def kit_bundle(write_bundle, extra: str = 'starting_kit = "kit"', name: str = "bundle") -> Path:
    folder = write_bundle(TOML.format(extra=extra), FILES, name=name)
    (folder / "kit" / "notes").mkdir(parents=True)
    (folder / "kit" / "main.py").write_text(KIT_MAIN)
    (folder / "kit" / "notes" / "README.md").write_text("start here\n")
    (folder / "kit" / ".secret").write_text("hidden files are never copied\n")
    return folder


def test_the_example_code_task_declares_its_starting_kit():
    spec = load_spec(EXAMPLE)
    assert spec.starting_kit == "starting_kit"
    assert spec.starting_kit_dir is not None and (spec.starting_kit_dir / "main.py").is_file()
    readme = (spec.starting_kit_dir / "README.md").read_text()
    assert "arena run TASK main.py" in readme and "--dry-run" in readme


def test_every_starting_kit_problem_is_reported_at_once_with_a_hint(write_bundle):
    bundle = kit_bundle(write_bundle, extra='starting_kit = "kti"\n[competition]\ndaily_limit = 0')
    with pytest.raises(BundleError) as caught:
        load_spec(bundle)
    text = "\n".join(caught.value.messages())
    assert "[submission.starting_kit]" in text and "there is no folder 'kti'" in text and "Did you mean 'kit'?" in text
    assert "[competition.daily_limit]" in text  # reported beside the kit's problem, not after it is fixed


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('"."', "must name a folder inside the bundle"),
        ('"../elsewhere"', "must name a folder inside the bundle"),
        ('"/tmp"', "must name a folder inside the bundle"),
        ('"train.csv"', "is a file; starting_kit names a folder"),
        ('".kit"', "is hidden"),
        ('"data"', "holds test.csv, answers.csv, which must stay hidden"),
        ('"empty"', "is empty"),
    ],
)
def test_a_starting_kit_that_cannot_be_handed_out_is_refused(write_bundle, value, expected):
    bundle = kit_bundle(write_bundle)
    (bundle / ".kit").mkdir()
    (bundle / "empty").mkdir()
    (bundle / "data").mkdir()
    for name in ("test.csv", "answers.csv"):
        (bundle / name).rename(bundle / "data" / name)
    toml = (bundle / "task.toml").read_text().replace('"test.csv"', '"data/test.csv"')
    toml = toml.replace('"answers.csv"', '"data/answers.csv"').replace(
        'starting_kit = "kit"', f"starting_kit = {value}"
    )
    (bundle / "task.toml").write_text(toml)
    with pytest.raises(BundleError) as caught:
        load_spec(bundle)
    assert expected in "\n".join(caught.value.messages())


def test_a_misspelt_starting_kit_key_is_named(write_bundle):
    bundle = kit_bundle(write_bundle, extra='starting-kit = "kit"')
    with pytest.raises(BundleError, match="Did you mean 'starting_kit'"):
        load_spec(bundle)


def host(client, people, bundle: Path, slug: str, **settings) -> str:
    organiser = people.token(f"orga-{slug}", organiser=True)
    hosted = client.post(
        "/api/v1/competitions", json={"task": str(bundle), "slug": slug, **settings}, headers=auth(organiser)
    )
    assert hosted.status_code == 201, hosted.get_json()
    return slug


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zipped:
        return {name: zipped.read(name) for name in zipped.namelist()}


def test_a_file_competition_offers_the_snapshots_kit_the_same_bytes_every_time(client, people, write_bundle):
    bundle = kit_bundle(write_bundle)
    slug = host(client, people, bundle, "kit-files")
    listed = client.get(f"/api/v1/competitions/{slug}").get_json()["data"]
    assert f"/api/v1/competitions/{slug}/data/starting_kit.zip" in listed
    page = client.get(f"/c/{slug}").get_data(as_text=True)
    assert f"/c/{slug}/data/starting_kit.zip" in page

    (bundle / "kit" / "main.py").write_text("print('edited after hosting')\n")  # the live folder, not the snapshot
    got = client.get(f"/c/{slug}/data/starting_kit.zip")
    assert got.status_code == 200 and got.mimetype == "application/zip"
    assert members(got.data) == {"main.py": KIT_MAIN.encode(), "notes/README.md": b"start here\n"}
    again = client.get(f"/api/v1/competitions/{slug}/data/starting_kit.zip").data
    assert again == got.data

    other = host(client, people, kit_bundle(write_bundle, name="copy"), "kit-copy")  # the same kit elsewhere
    assert client.get(f"/c/{other}/data/starting_kit.zip").data == got.data


def test_a_competition_without_a_kit_offers_none(client, people, write_bundle):
    slug = host(client, people, write_bundle(TOML.format(extra=""), FILES), "no-kit")
    assert not any(
        path.endswith("starting_kit.zip") for path in client.get(f"/api/v1/competitions/{slug}").get_json()["data"]
    )
    refused = client.get(f"/c/{slug}/data/starting_kit.zip")
    assert refused.status_code == 404 and "the files are train.csv" in refused.get_data(as_text=True)
    assert "starting_kit.zip" not in client.get(f"/c/{slug}").get_data(as_text=True)


def test_the_example_code_competitions_kit_is_itself_a_valid_upload(client, people, tmp_path):
    slug = host(client, people, EXAMPLE, "digits-kit", submission_kind="code")
    got = client.get(f"/api/v1/competitions/{slug}/data/starting_kit.zip")
    assert got.status_code == 200
    assert sorted(members(got.data)) == ["README.md", "main.py"]
    kit = tmp_path / "starting_kit.zip"
    kit.write_bytes(got.data)
    check_code_upload(kit, kit.name)  # raises when the zip could not run
    page = client.get(f"/c/{slug}").get_data(as_text=True)
    assert "starting_kit.zip" in page and "data/test.csv" not in page


def test_the_kit_zip_is_the_same_bytes_for_the_same_folder(tmp_path):
    from arena.server.downloads import write_kit_zip

    folder = tmp_path / "kit"
    (folder / "sub").mkdir(parents=True)
    (folder / "main.py").write_text(KIT_MAIN)
    (folder / "sub" / "weights.bin").write_bytes(bytes(range(256)))
    first, second = tmp_path / "a.zip", tmp_path / "b.zip"
    write_kit_zip(folder, first)
    (folder / "main.py").touch()  # a new modification time changes nothing in the zip
    write_kit_zip(folder, second)
    assert first.read_bytes() == second.read_bytes()
    assert members(first.read_bytes())["main.py"] == KIT_MAIN.encode()
