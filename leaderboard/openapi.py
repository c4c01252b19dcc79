"""The OpenAPI 3.1 description of /api/v1, served at /api/v1/openapi.json."""

from __future__ import annotations


def _op(
    summary: str,
    *,
    auth: str = "none",
    body: dict | None = None,
    params: list[str] = (),
    multipart: bool = False,
    responses: dict | None = None,
) -> dict:
    operation: dict = {"summary": summary, "responses": responses or {"200": {"description": "OK"}}}
    if auth != "none":
        operation["security"] = [{"bearer": []}]
        operation["description"] = "Requires a token" + (" of an organiser." if auth == "organiser" else ".")
    if params:  # a row's number (``..._id``, a release's ``number``) is an integer; every other path parameter is text
        operation["parameters"] = [
            {
                "name": p,
                "in": "path",
                "required": True,
                "schema": {"type": "integer" if p.endswith("_id") or p == "number" else "string"},
            }
            for p in params
        ]
    if body is not None:
        operation["requestBody"] = {"content": {"application/json": {"schema": {"type": "object", "properties": body}}}}
    if multipart:
        operation["requestBody"] = {
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "note": {"type": "string"},
                            "baseline": {"type": "boolean"},
                            "baseline_model": {
                                "type": "string",
                                "description": "organisers: the reference model's name, its own row 'baseline: NAME'",
                            },
                            "dry_run": {"type": "boolean"},
                        },
                        "required": ["file"],
                    }
                }
            }
        }
    operation["responses"].setdefault("400", {"description": "Refused: {error, problems[]} says what to fix"})
    return operation


S = {"type": "string"}
I = {"type": "integer"}
SETTINGS = {
    "title": S,
    "description": S,
    "daily_limit": I,
    "total_limit": I,
    "team_size": I,
    "final_selections": I,
    "public_fraction": {"type": "number"},
    "starts_at": {"type": "string", "format": "date-time"},
    "ends_at": {"type": "string", "format": "date-time"},
    "join_needs_approval": {"type": "boolean"},
    "merger_deadline": {
        "type": "string",
        "format": "date-time",
        "description": "the last moment teams may merge or take members; empty: one week before the end",
    },
    "feedback": {
        "type": "string",
        "enum": ["rounded", "ladder"],
        "description": "what participants see of public scores: rounded, or the Ladder",
    },
    "data_page": {"type": "string", "description": "the Data section's Markdown (the overview is description)"},
    "rules_page": {"type": "string", "description": "the Rules section's Markdown"},
    "timeline_page": {"type": "string", "description": "the Timeline section's Markdown"},
}

CONFIRM = {"confirm": {"type": "boolean", "description": "must be true: the action is hard or impossible to undo"}}

SUITE_ENTRY = _op(
    "Enter a version of a model: its card and one predictions file per task, all or nothing (every problem is "
    "listed at once and nothing is kept when there is one); each file is queued for scoring in its task's "
    "competition, under that competition's limits. For a task whose task.toml declares code, the part may be the "
    "model's program (a name ending in .zip or .py): Arena runs it on the test inputs, scores its predictions "
    "and measures its time and memory; a version whose every task is a program is entered at the reproduced tier",
    auth="user",
    params=["name"],
    responses={
        "202": {"description": "Queued"},
        "404": {"description": "No such suite"},
        "413": {"description": "Too large"},
    },
)
SUITE_ENTRY["requestBody"] = {
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {
                    "card": {"type": "string", "format": "binary", "description": "card.toml or card.json"},
                    "baseline": {"type": "boolean", "description": "organisers: enter it as a baseline"},
                },
                "additionalProperties": {
                    "type": "string",
                    "format": "binary",
                    "description": "one part per task, named by the task's key: its predictions file, or (a task "
                    "that runs code) its program, TASK.zip or TASK.py",
                },
                "required": ["card"],
            }
        }
    }
}

OPENAPI = {
    "openapi": "3.1.0",
    "info": {
        "title": "Arena API",
        "version": "1",
        "description": "Machine-learning competitions and benchmarks. Scores are rounded to 4 decimals; private scores "
        "are visible to organisers only until the private leaderboard is revealed.",
    },
    "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    "paths": {
        "/api/v1/openapi.json": {"get": _op("This description")},
        "/api/v1/auth/register": {
            "post": _op(
                "Create an account under the registration policy; returns an API token "
                "(or 202 without one while the account waits for approval)",
                body={"username": S, "password": S, "invite_code": S},
                responses={
                    "201": {"description": "Created"},
                    "202": {"description": "Waits for approval"},
                    "429": {"description": "Too many accounts from this address; see Retry-After"},
                },
            )
        },
        "/api/v1/auth/token": {
            "post": _op(
                "Exchange username and password for a new named API token",
                body={"username": S, "password": S, "name": S, "expires_in_days": I},
                responses={
                    "201": {"description": "Created"},
                    "401": {"description": "Wrong credentials"},
                    "429": {
                        "description": "Too many failed attempts from this address "
                        "(for this account, or for all); see Retry-After"
                    },
                },
            )
        },
        "/api/v1/me": {"get": _op("Who the token belongs to", auth="user")},
        "/api/v1/me/notifications": {
            "put": _op(
                "Your e-mail address and which e-mails you want (score ready, announcements); fields left out stay",
                auth="user",
                body={"email": S, "scores": {"type": "boolean"}, "announcements": {"type": "boolean"}},
            )
        },
        "/api/v1/competitions/{slug}/webhook": {
            "put": _op(
                "Set the competition's webhook (url; empty removes it); returns the secret that signs each payload",
                auth="organiser",
                params=["slug"],
                body={"url": S},
            )
        },
        "/api/v1/me/tokens": {
            "get": _op("Your API tokens: names, creation and expiry (never the secrets)", auth="user"),
            "post": _op(
                "Create a named token, optionally expiring",
                auth="user",
                body={"name": S, "expires_in_days": I},
                responses={"201": {"description": "Created"}},
            ),
        },
        "/api/v1/me/tokens/{token_id}": {"delete": _op("Revoke one of your tokens", auth="user", params=["token_id"])},
        "/api/v1/me/password": {
            "post": _op(
                "Change your password: every session and token ends; returns a new token",
                auth="user",
                body={"current_password": S, "new_password": S},
            )
        },
        "/api/v1/installation/registration": {
            "get": _op("The registration policy and the accounts waiting for approval", auth="organiser"),
            "put": _op("Set the registration policy: open, approval or invite", auth="organiser", body={"policy": S}),
        },
        "/api/v1/installation/invites": {
            "post": _op("A new single-use invite code", auth="organiser", responses={"201": {"description": "Created"}})
        },
        "/api/v1/users/{username}/approve": {
            "post": _op("Approve an account that waits for approval", auth="organiser", params=["username"])
        },
        "/api/v1/competitions/{slug}/join-request": {
            "post": _op(
                "Ask to join a competition that needs approval",
                auth="user",
                params=["slug"],
                responses={"202": {"description": "Waits for approval"}},
            )
        },
        "/api/v1/competitions/{slug}/join-requests": {
            "get": _op("Requests to join (organisers)", auth="organiser", params=["slug"])
        },
        "/api/v1/competitions/{slug}/join-requests/{username}/approve": {
            "post": _op("Admit a participant who asked to join", auth="organiser", params=["slug", "username"])
        },
        "/api/v1/competitions": {
            "get": _op("List competitions and benchmarks"),
            "post": _op(
                'Host a task as a competition ("state": "draft" keeps it for organisers until opened)',
                auth="organiser",
                body={"task": S, "slug": S, "state": {"type": "string", "enum": ["draft", "open"]}, **SETTINGS},
                responses={"201": {"description": "Created"}},
            ),
        },
        "/api/v1/competitions/{slug}": {
            "get": _op("A competition: task, metric, rules, data links", params=["slug"]),
            "patch": _op("Change rules and dates", auth="organiser", params=["slug"], body=SETTINGS),
            "delete": _op('Delete a draft (needs "confirm": true)', auth="organiser", params=["slug"], body=CONFIRM),
        },
        "/api/v1/competitions/{slug}/archive": {
            "post": _op("Archive a closed or revealed competition", auth="organiser", params=["slug"])
        },
        "/api/v1/competitions/{slug}/open": {
            "post": _op("Open for uploads (publishes a draft)", auth="organiser", params=["slug"])
        },
        "/api/v1/competitions/{slug}/close": {"post": _op("Close for uploads", auth="organiser", params=["slug"])},
        "/api/v1/competitions/{slug}/reveal": {
            "post": _op(
                'Reveal the private leaderboard (final; needs "confirm": true)',
                auth="organiser",
                params=["slug"],
                body=CONFIRM,
            )
        },
        "/api/v1/competitions/{slug}/rescore": {
            "post": _op("Queue every scored submission for rescoring", auth="organiser", params=["slug"])
        },
        "/api/v1/competitions/{slug}/task": {
            "put": _op(
                "Switch to a new task version (rescores everything)",
                auth="organiser",
                params=["slug"],
                body={"task": S, **CONFIRM},
            )
        },
        "/api/v1/competitions/{slug}/leaderboard": {
            "get": {
                **_op(
                    "Best submission per team with 95% CI (?board=private for organisers or after reveal; ?format=csv); "
                    "reference models are rows without a rank (?view=baselines-ranked ranks them among the teams); "
                    "?view=late: the late submissions, none ranked",
                    params=["slug"],
                )
            }
        },
        "/api/v1/competitions/{slug}/shakeup": {
            "get": _op(
                "After the reveal: each team's public and private rank, the mean absolute rank change per team, "
                "Spearman's rho between the boards and which top-10 changes exceed the rank intervals",
                params=["slug"],
            )
        },
        "/api/v1/competitions/{slug}/answers.csv": {
            "get": _op(
                "After the reveal: the answers file whose bytes the test-set commitment hashed "
                "(SHA-256 of the salt, a newline and this file); 404 before the reveal",
                params=["slug"],
            )
        },
        "/api/v1/competitions/{slug}/data/{name}": {
            "get": _op(
                "Download a data file the competition lists under data: train.csv, test.csv (public_sample.csv in a "
                "code competition), sample_submission.csv, and starting_kit.zip where the task declares a starting kit",
                params=["slug", "name"],
            )
        },
        "/api/v1/competitions/{slug}/rules": {
            "get": _op("Whether you must accept the competition's rules, and when you did", params=["slug"])
        },
        "/api/v1/competitions/{slug}/rules/accept": {
            "post": _op(
                "Accept the competition's rules (needed, where it asks, before its data and submissions)",
                params=["slug"],
            )
        },
        "/api/v1/competitions/{slug}/team": {
            "get": _op(
                "Your team: members, invite code, counted submissions, whether you may leave or merge, the merger "
                "deadline and the merge requests sent and received",
                auth="user",
                params=["slug"],
            ),
            "patch": _op("Rename your team (a name no other team has)", auth="user", params=["slug"], body={"name": S}),
        },
        "/api/v1/competitions/{slug}/team/leave": {
            "post": _op("Leave your team while it has no submissions", auth="user", params=["slug"])
        },
        "/api/v1/competitions/{slug}/team/merge-requests": {
            "post": _op(
                "Ask to merge your team into the team named 'team' (until the merger deadline)",
                auth="user",
                params=["slug"],
                body={"team": S},
                responses={"201": {"description": "Asked"}},
            )
        },
        "/api/v1/competitions/{slug}/team/merge-requests/{request_id}/accept": {
            "post": _op(
                "Accept a request to merge another team into yours (final)",
                auth="user",
                params=["slug", "request_id"],
                body=CONFIRM,
            )
        },
        "/api/v1/competitions/{slug}/team/merge-requests/{request_id}/decline": {
            "post": _op(
                "Decline a request to merge into your team, or withdraw your own",
                auth="user",
                params=["slug", "request_id"],
            )
        },
        "/api/v1/users/{name}": {
            "get": _op(
                "A user's profile: their teams, competitions, ranks and entries, as the boards you may see show them",
                params=["name"],
                responses={"404": {"description": "No such user"}},
            )
        },
        "/api/v1/competitions/{slug}/teams": {
            "post": _op(
                "Create a team",
                auth="user",
                params=["slug"],
                body={"name": S},
                responses={"201": {"description": "Created"}},
            )
        },
        "/api/v1/competitions/{slug}/teams/join": {
            "post": _op("Join a team with its invite code", auth="user", params=["slug"], body={"invite_code": S})
        },
        "/api/v1/competitions/{slug}/submissions": {
            "post": _op(
                "Upload a predictions file (CSV, CSV.gz or Parquet), or in a code competition a program (.py or .zip); "
                "it is queued for scoring. With dry_run=true a program runs on the public sample instead",
                auth="user",
                params=["slug"],
                multipart=True,
                responses={
                    "202": {"description": "Queued"},
                    "200": {"description": "Identical to an earlier file; not counted"},
                    "413": {"description": "Too large"},
                },
            ),
            "get": _op(
                "Your team's submissions with status, scores and validation reports", auth="user", params=["slug"]
            ),
        },
        "/api/v1/competitions/{slug}/dry-runs": {
            "post": _op(
                "Run a program (.py or .zip) on the public sample: validated, its output shown, never scored or counted",
                auth="user",
                params=["slug"],
                multipart=True,
                responses={"202": {"description": "Queued"}},
            ),
            "get": _op("Your team's dry runs with status, output, time and memory", auth="user", params=["slug"]),
        },
        "/api/v1/dry-runs/{dry_run_id}": {
            "get": _op(
                "One of your team's dry runs: status, problems, output, time and memory",
                auth="user",
                params=["dry_run_id"],
            )
        },
        "/api/v1/competitions/{slug}/all-submissions": {
            "get": _op("Every submission (organisers)", auth="organiser", params=["slug"])
        },
        "/api/v1/submissions/{submission_id}": {
            "get": _op("One submission with its score history", auth="user", params=["submission_id"])
        },
        "/api/v1/submissions/{submission_id}/select": {
            "post": _op(
                "Choose or un-choose as a final submission",
                auth="user",
                params=["submission_id"],
                body={"selected": {"type": "boolean"}},
            )
        },
        "/api/v1/submissions/{submission_id}/disqualify": {
            "post": _op(
                "Disqualify (or restore) a submission, with the reason its team is shown",
                auth="organiser",
                params=["submission_id"],
                body={
                    "disqualified": {"type": "boolean"},
                    "reason": {"type": "string", "description": "why, shown to the team only (at most 500 characters)"},
                    **CONFIRM,
                },
            )
        },
        "/api/v1/competitions/{slug}/teams/{team_id}/disqualify": {
            "post": _op(
                "Disqualify (or restore) a whole team: none of its submissions ranks, and it cannot upload",
                auth="organiser",
                params=["slug", "team_id"],
                body={
                    "disqualified": {"type": "boolean"},
                    "reason": {"type": "string", "description": "why, shown to the team only (at most 500 characters)"},
                    **CONFIRM,
                },
            )
        },
        "/api/v1/competitions/{slug}/teams/{team_id}/clear-failures": {
            "post": _op(
                "Let a team upload again today after its uploads failed without costing a slot too often "
                "(its count so far stops counting)",
                auth="organiser",
                params=["slug", "team_id"],
            )
        },
        "/api/v1/suites": {"get": _op("Every benchmark suite: its tasks, weights, floors, ceilings and method")},
        "/api/v1/suites/{name}": {"get": _op("One suite: its tasks and how they combine", params=["name"])},
        "/api/v1/suites/{name}/leaderboard": {
            "get": {
                **_op(
                    "Each model's latest version: its score on every task with its 95% CI, and its aggregate with "
                    "its joint-bootstrap 95% CI, rank, rank interval and chance of being best (pending until "
                    "computed); ?format=csv; ?hide_extra_data=1 and ?hide_trained_on_test=1 leave those models "
                    "out and rank the others",
                    params=["name"],
                ),
            }
        },
        "/api/v1/suites/{name}/leaderboard.csv": {
            "get": _op("The suite's board as CSV (the same filters)", params=["name"])
        },
        "/api/v1/suites/{name}/models/{model}": {
            "get": _op("One model: its card, run record and every version with its scores", params=["name", "model"])
        },
        "/api/v1/suites/{name}/entries": {"post": SUITE_ENTRY},
        "/api/v1/suites/{name}/compare": {
            "get": _op(
                "Two models compared (?a=MODEL&b=MODEL): per task the difference with its paired 95% bootstrap "
                "interval and the chance A does better; win / tie / loss; the Wilcoxon signed-rank test over the "
                "tasks; the difference of aggregates with its joint interval. ?format=csv|json|parquet|latex|markdown "
                "gives it as a table for a paper",
                params=["name"],
            )
        },
        "/api/v1/suites/{name}/pairs": {
            "get": _op(
                "Every pair of ranked models: Wilcoxon p-values, raw and Holm-corrected, the tasks each beats each "
                "other on, mean ranks, the cliques of the critical-difference diagram and the performance profile",
                params=["name"],
            )
        },
        "/api/v1/suites/{name}/export": {
            "get": _op(
                "The suite's board as a table for a paper: ?format=csv|json|parquet|latex|markdown; each value with "
                "its 95% interval as '0.912 [0.905, 0.919]', the best and the not-significantly-worse marked; CSV, "
                "JSON and Parquet also carry the numbers apart; the board's filters as for the leaderboard",
                params=["name"],
            )
        },
        "/api/v1/suites/{name}/utility": {
            "get": _op(
                "The suite's board weighed against each model's costs (parameters, training time, inference time "
                "per 1,000 rows, peak memory; each measured or reported): ?accuracy=1&parameters=0&training=0"
                "&inference=0&memory=0, numbers from 0 to 1000 (only their ratios matter); wrong weights are a 400",
                params=["name"],
            )
        },
        "/api/v1/suites/{name}/releases": {
            "get": _op("The suite's frozen releases, newest first, with their SHA-256s", params=["name"]),
            "post": _op(
                "Freeze the board as a citable release (refused while its statistics are being computed)",
                auth="organiser",
                params=["name"],
                body={"note": S},
                responses={"201": {"description": "Released"}, "409": {"description": "Statistics pending"}},
            ),
        },
        "/api/v1/suites/{name}/releases/{number}": {
            "get": _op(
                "One release: the frozen board, cards, versions and its files' SHA-256s", params=["name", "number"]
            )
        },
        "/api/v1/suites/{name}/models/{model}/tier": {
            "post": _op(
                "Set a model version's verification tier (reported, reproduced with a note, reference); audited",
                auth="organiser",
                params=["name", "model"],
                body={"tier": S, "note": S, "version": I},
            )
        },
        "/api/v1/suites/{name}/models/{model}/flag": {
            "post": _op(
                "Flag a model version with a reason readers see; it leaves the ranks; audited",
                auth="organiser",
                params=["name", "model"],
                body={"reason": S, "version": I},
            ),
            "delete": _op("Take the flag off; audited", auth="organiser", params=["name", "model"]),
        },
    },
}
