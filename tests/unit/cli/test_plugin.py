"""``kubectl lifecycle``'s own parts that need no cluster: completion."""

from __future__ import annotations

from seppmail_lifecycle.cli.plugin import FILES, NO_FILES, candidates


def test_completion_offers_commands_flags_and_files_where_they_belong() -> None:
    assert candidates(["dis"]) == (["discontinue"], NO_FILES)
    assert candidates([""])[0][:4] == ["cancel", "continue", "demo", "deploy"]
    assert candidates(["pay", "--r"]) == (["--reference"], NO_FILES)
    assert candidates(["cancel", "acme-"], ["acme-sign", "acme-base", "globex-base"]) == (
        ["acme-base", "acme-sign"],
        NO_FILES,
    )
    assert candidates(["simulate", "manif"]) == ([], FILES)
    assert candidates(["nonsense", ""]) == ([], NO_FILES)
