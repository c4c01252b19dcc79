"""The organisers' web forms that take more than one field, as WTForms classes with messages a person can act on.

Competition settings on these forms are read by :func:`leaderboard.forms.settings_from_form`, as the API's are.
CSRF is checked for every form by Flask-WTF's ``CSRFProtect`` before a view runs, so these forms do not check it again.
"""

from __future__ import annotations

from flask import abort
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import Field, SelectMultipleField, StringField
from wtforms.validators import ValidationError

from arena.server import bundle_builder, competitions
from arena.server.lifecycle import confirmed

from .auth import db_session


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class OrganiserForm(FlaskForm):
    class Meta:
        csrf = False  # CSRFProtect has checked the token before the view runs

    def checked(self) -> OrganiserForm:
        """This form, once every field is read; otherwise a 400 that names the first field to fix."""
        if not self.validate():
            abort(400, description=next(iter(self.errors.values()))[0])
        return self


class NumberField(Field):
    """A number typed or sent in a field (``kind``: int or float); blank means ``default``, and a required one
    (no default) must be there."""

    def __init__(self, label=None, validators=None, *, kind=int, default=None, with_value: bool = False, **kwargs):
        super().__init__(label, validators, default=default, **kwargs)
        self.kind, self.with_value = kind, with_value

    def process_formdata(self, valuelist):
        raw = valuelist[0] if valuelist else ""
        text = raw.strip()
        if text == "" and self.default is not None:
            self.data = self.default
            return
        try:
            self.data = self.kind(text)
        except ValueError:
            self.data = None
            raise ValueError(
                f"'{self.name}' must be a number" + (f"; got {raw!r}." if self.with_value else ".")
            ) from None


class TeamLimitForm(OrganiserForm):
    """One team's own daily limit on the admin page (blank: the competition's limit again)."""

    team_id = NumberField()
    daily_limit = StringField(filters=[_strip])

    def limit(self):
        """The limit as the rules take it: a whole number, None for blank, or the text itself (refused there)."""
        raw = self.daily_limit.data or ""
        return int(raw) if raw.isdigit() else (None if not raw else raw)


class ReplaceTaskForm(OrganiserForm):
    """A new version of the task: an uploaded bundle or a folder on the server, and the box that confirms it."""

    bundle = FileField()
    task_ref = StringField(filters=[_strip])
    confirm = StringField()

    def validate_confirm(self, field) -> None:
        if not confirmed(field.data):
            raise ValidationError(
                "tick 'every submission is rescored' to confirm replacing the task, then send it again."
            )

    def upload(self):
        """The uploaded bundle, or None when none was chosen."""
        upload = self.bundle.data
        return upload if upload is not None and getattr(upload, "filename", "") else None


def _free_short_name(form, field) -> None:
    """A short name, when one is typed, is well formed and not taken: said beside the field, the form kept."""
    if field.data:
        try:
            competitions.check_slug(db_session(), field.data)
        except competitions.CompetitionError as exc:
            raise ValidationError(exc.messages()[0]) from None


class HostForm(OrganiserForm):
    """The Host page: a bundle (uploaded, a built-in's name or a folder on the server), its short name and state;
    a Codabench/CodaLab bundle is previewed first and hosted on ``confirm``."""

    bundle = FileField()
    task_ref = StringField(filters=[_strip])
    slug = StringField(filters=[_strip], validators=[_free_short_name])
    state = StringField()
    native = StringField()
    confirm = StringField()

    def upload(self):
        upload = self.bundle.data
        return upload if upload is not None and getattr(upload, "filename", "") else None

    def short_name(self) -> str | None:
        return self.slug.data or None

    def chosen_state(self) -> str | None:
        return self.state.data or None


class HostBuiltForm(OrganiserForm):
    """Hosting the bundle built from CSVs, previewed under ``token``."""

    token = StringField()
    slug = StringField(filters=[_strip], validators=[_free_short_name])
    state = StringField()


class BuildForm(OrganiserForm):
    """The choices of a bundle built from uploaded CSVs (the files themselves are read by the view)."""

    CHOICES = (
        "name",
        "title",
        "kind",
        "id_column",
        "target",
        "metric",
        "others",
        "prediction",
        "public_fraction",
        "daily_limit",
        "final_selections",
        "description",
    )
    """The fields a person types or picks; a browser cannot refill a file field, so the files are not among them."""

    name = StringField(filters=[_strip])
    title = StringField(filters=[_strip])
    kind = StringField(default="classification")
    id_column = StringField(default="id", filters=[_strip])
    target = StringField(default="label", filters=[_strip])
    metric = StringField(default="accuracy")
    others = SelectMultipleField(validate_choice=False)
    prediction = StringField(default="label")
    public_fraction = NumberField(kind=float, default=0.3, with_value=True)
    daily_limit = NumberField(default=5, with_value=True)
    final_selections = NumberField(default=2, with_value=True)
    description = StringField()

    def choices(self) -> bundle_builder.Choices:
        return bundle_builder.Choices(
            name=self.name.data or "",
            title=self.title.data or "",
            kind=self.kind.data,
            id_column=self.id_column.data,
            target=self.target.data,
            metric=self.metric.data,
            others=tuple(o for o in self.others.data or () if o),
            prediction=self.prediction.data,
            public_fraction=self.public_fraction.data,
            daily_limit=self.daily_limit.data,
            final_selections=self.final_selections.data,
            description=self.description.data or "",
        )
