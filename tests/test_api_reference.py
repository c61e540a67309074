"""docs/API.md lists exactly the endpoints the app serves, each once.

An endpoint row of docs/API.md is a Markdown table row whose first two cells are the method
and the path, written exactly like this (path parameters named as in the route):

    | GET | /users/{user_id} | admin | → User | 401, 403 `admin_required`, 404 `user_not_found` |

Any other table row whose first cell is an HTTP method is an error, so a row cannot drop out
of the check by a typo. Rows inside fenced code blocks are examples and are skipped. Paths
are compared without their trailing slash (every collection answers with and without it).
The Swagger UI, its assets and /swagger.json are documentation, not endpoints.
"""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from flask import Flask

DOC = Path(__file__).resolve().parent.parent / "docs" / "API.md"

ENDPOINT_ROW = re.compile(r"\| (GET|POST|PUT|PATCH|DELETE) \| (/[A-Za-z0-9_./{}-]*) \|")
# A row that looks like it is meant to be an endpoint row (first cell a method, any spelling).
METHOD_ROW = re.compile(r"\|\s*`?(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)\b", re.IGNORECASE)
FENCE = re.compile(r"\s*(```|~~~)")
# `<int:user_id>`, `<string:status>`, `<path:filename>`, `<name>` -> `{name}`
RULE_PARAM = re.compile(r"<(?:[^:<>]+:)?([^:<>]+)>")
IGNORED_METHODS = {"HEAD", "OPTIONS"}
NOT_ENDPOINTS = {"static", "doc", "root", "specs", "restx_doc.static"}


def normalize(path: str) -> str:
    """A path without its trailing slash ("/" stays "/")."""
    return path.rstrip("/") or "/"


def documented_rows(text: str) -> tuple[list[tuple[str, str]], list[str]]:
    """(method, path) of every endpoint row, and the malformed method rows, in order."""
    rows: list[tuple[str, str]] = []
    malformed: list[str] = []
    in_fence = False
    for number, line in enumerate(text.splitlines(), start=1):
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        match = ENDPOINT_ROW.match(line)
        if match:
            rows.append((match.group(1), normalize(match.group(2))))
        elif METHOD_ROW.match(line):
            malformed.append(f"line {number}: {line.strip()}")
    return rows, malformed


def served_endpoints(app: Flask) -> set[tuple[str, str]]:
    """(method, path) of every endpoint in the URL map, paths in the documented spelling."""
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint in NOT_ENDPOINTS:
            continue
        path = normalize(RULE_PARAM.sub(r"{\1}", rule.rule))
        served |= {(method, path) for method in rule.methods - IGNORED_METHODS}
    return served


def differences(app: Flask, text: str) -> list[str]:
    """Every way the document and the app disagree (empty when they agree)."""
    rows, malformed = documented_rows(text)
    problems = [f"malformed endpoint row, {line}" for line in malformed]
    problems += [f"listed {count} times: {method} {path}"
                 for (method, path), count in Counter(rows).items() if count > 1]
    documented, served = set(rows), served_endpoints(app)
    problems += [f"served but not documented: {method} {path}"
                 for method, path in sorted(served - documented)]
    problems += [f"documented but not served: {method} {path}"
                 for method, path in sorted(documented - served)]
    return problems


def test_docs_api_md_lists_every_endpoint_the_app_serves(app):
    problems = differences(app, DOC.read_text(encoding="utf-8"))
    assert not problems, "docs/API.md disagrees with the URL map:\n" + "\n".join(problems)


# --- the check itself, on a tiny app -------------------------------------------------------

def tiny_app() -> Flask:
    tiny = Flask("tiny")
    tiny.add_url_rule("/items/", "items", lambda: "", methods=["GET", "POST"])
    tiny.add_url_rule("/items/<int:item_id>", "item", lambda item_id: "",
                      methods=["GET", "DELETE"])
    tiny.add_url_rule("/items/status/<string:status>", "by_status", lambda status: "")
    return tiny


TINY_DOC = """\
| method | path | auth |
|---|---|---|
| GET | /items/ | user |
| POST | /items | admin |
| GET | /items/{item_id} | user |
| DELETE | /items/{item_id} | admin |
| GET | /items/status/{status} | admin |

```
| GET | /in/a/code/block | skipped |
```
"""


def test_the_check_accepts_a_matching_document():
    assert differences(tiny_app(), TINY_DOC) == []


def test_the_check_reports_an_undocumented_endpoint():
    tiny = tiny_app()
    tiny.add_url_rule("/items/<int:item_id>/archive", "archive", lambda item_id: "",
                      methods=["PUT"])
    assert differences(tiny, TINY_DOC) == [
        "served but not documented: PUT /items/{item_id}/archive"]


def test_the_check_reports_a_documented_endpoint_that_is_not_served():
    doc = TINY_DOC + "| PUT | /items/{item_id} | admin |\n"
    assert differences(tiny_app(), doc) == ["documented but not served: PUT /items/{item_id}"]


def test_the_check_reports_a_wrong_parameter_name():
    doc = TINY_DOC.replace("| DELETE | /items/{item_id} |", "| DELETE | /items/{id} |")
    assert differences(tiny_app(), doc) == [
        "served but not documented: DELETE /items/{item_id}",
        "documented but not served: DELETE /items/{id}",
    ]


def test_the_check_refuses_malformed_and_repeated_rows():
    doc = TINY_DOC + "| get | /items/ | user |\n| GET | `/items/{item_id}` | user |\n"
    doc += "| GET | /items/{item_id} | user |\n"
    assert differences(tiny_app(), doc) == [
        f"malformed endpoint row, line {len(TINY_DOC.splitlines()) + 1}: | get | /items/ | user |",
        f"malformed endpoint row, line {len(TINY_DOC.splitlines()) + 2}: "
        "| GET | `/items/{item_id}` | user |",
        "listed 2 times: GET /items/{item_id}",
    ]
