"""The OpenAPI document the API serves describes exactly the API's routes: each route and method is in it,
and each path and method in it is served, with the route's own path parameters."""

from __future__ import annotations

import itertools
import re

import pytest
from werkzeug.routing import Rule

IGNORED_METHODS = {"HEAD", "OPTIONS"}  # werkzeug adds them to every route; the document leaves them out
VARIABLE = re.compile(r"<(?:(?P<converter>\w+)(?:\((?P<arguments>[^)]*)\))?:)?(?P<name>\w+)>")
"""A route's variable as werkzeug writes it: ``<slug>``, ``<int:team_id>``, ``<any(open, close):action>``."""


def variables(rule: Rule) -> dict[str, tuple[str, str]]:
    """Each variable of a route: its converter (``default`` when none is named) and the converter's arguments."""
    return {
        found["name"]: (found["converter"] or "default", found["arguments"] or "")
        for found in VARIABLE.finditer(rule.rule)
    }


def documented_paths(rule: Rule) -> list[str]:
    """The paths under which the document describes a route: ``<name>`` is ``{name}``, and a variable that
    takes one of a few words (``<any(open, close):action>``) is a path of its own for each word."""
    choices = [
        [word.strip(" '\"") for word in arguments.split(",")] if converter == "any" else [f"{{{name}}}"]
        for name, (converter, arguments) in variables(rule).items()
    ]
    paths = []
    for chosen in itertools.product(*choices):
        values = iter(chosen)
        paths.append(VARIABLE.sub(lambda _, values=values: next(values), rule.rule))
    return paths


def served(app) -> dict[tuple[str, str], Rule]:
    """Each (path as documented, method) the API serves, with the route that serves it."""
    routes = {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        for path in documented_paths(rule):
            for method in sorted(rule.methods - IGNORED_METHODS):
                routes[(path, method.lower())] = rule
    return routes


@pytest.fixture
def document(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def described(document) -> set[tuple[str, str]]:
    return {(path, method) for path, operations in document["paths"].items() for method in operations}


def test_every_api_route_and_method_is_in_the_document(app, document):
    missing = sorted(set(served(app)) - described(document))
    assert not missing, f"routes the OpenAPI document does not describe (add them to leaderboard/openapi.py): {missing}"


def test_every_documented_path_and_method_is_served(app, document):
    extra = sorted(described(document) - set(served(app)))
    assert not extra, f"paths and methods the OpenAPI document describes but no route serves: {extra}"


def test_documented_path_parameters_are_the_routes_own(app, document):
    """Each ``{name}`` of a path is declared once as a path parameter, typed as the route takes it."""
    routes = served(app)
    wrong = []
    for (path, method), rule in sorted(routes.items()):
        operation = document["paths"].get(path, {}).get(method)
        if operation is None:
            continue  # the test above reports it
        declared = {p["name"]: p["schema"]["type"] for p in operation.get("parameters", []) if p["in"] == "path"}
        converters = variables(rule)
        expected = {
            name: "integer" if converters[name][0] == "int" else "string" for name in re.findall(r"{([^{}]+)}", path)
        }
        if declared != expected:
            wrong.append((path, method, declared, expected))
    assert not wrong, f"path parameters that differ from the route's (path, method, documented, route): {wrong}"


def test_the_document_is_openapi_3_1_with_a_bearer_scheme(document):
    assert document["openapi"].startswith("3.1")
    assert document["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    secured = [op for operations in document["paths"].values() for op in operations.values() if "security" in op]
    assert secured and all(op["security"] == [{"bearer": []}] for op in secured)
