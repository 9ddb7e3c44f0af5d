"""Problems as people and machines read them."""

from __future__ import annotations

import json

from generator.problems import Location, Problem, Severity, as_json, as_text


def test_an_unknown_position_is_the_path_alone_in_text_and_null_in_json() -> None:
    problem = Problem(Location("catalog.yaml"), "cannot read: No such file or directory")
    assert as_text([problem]) == "catalog.yaml: error: cannot read: No such file or directory\n"
    [shown] = json.loads(as_json([problem]))["problems"]
    assert (shown["line"], shown["col"]) == (None, None)


def test_a_known_position_is_one_based_in_both() -> None:
    problem = Problem(Location("c.yaml", 3, 7), "bad", Severity.WARNING)
    assert str(problem) == "c.yaml:3:7: warning: bad"
    [shown] = json.loads(as_json([problem]))["problems"]
    assert (shown["line"], shown["col"], shown["severity"]) == (3, 7, "warning")
