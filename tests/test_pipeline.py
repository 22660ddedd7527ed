"""The pre-commit hook: it runs whenever the stacks could be stale, and catches it."""

from __future__ import annotations

import re
import shlex
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import Result

from tests.conftest import EXAMPLES, ROOT

EXAMPLES_DIR = ROOT / "examples"

HOOK = ROOT / ".pre-commit-hooks.yaml"


def hook() -> dict[str, Any]:
    (only,) = yaml.safe_load(HOOK.read_text())
    assert isinstance(only, dict)
    return only


def runs_on(staged: list[str]) -> bool:
    """Whether pre-commit runs the hook for a commit of `staged` (its selection rules: a hook
    runs when `always_run` is set or a staged file matches `files` and not `exclude`)."""
    spec = hook()
    files, exclude = re.compile(spec.get("files", "")), spec.get("exclude", "^$")
    matched = [p for p in staged if files.search(p) and not re.search(exclude, p)]
    return bool(spec.get("always_run") or matched)


def run_hook(run_cli: Callable[..., Result], folder_args: dict[str, str]) -> Result:
    """The hook's command as pre-commit runs it (no file names: `pass_filenames: false`)."""
    spec = hook()
    program, *command = shlex.split(spec["entry"])
    assert program == "drgen" and spec["pass_filenames"] is False
    return run_cli(*command, *(folder_args.get(arg, arg) for arg in spec["args"]))


@pytest.mark.parametrize(
    "staged",
    [
        ["workloads/moderation/workload.yaml"],
        ["workloads/moderation/prompts/policy.md"],
        ["workloads/assistant/config/tools.json"],
        ["stacks/moderation/settings.py"],
        ["stacks/moderation/.drgen-manifest"],
    ],
)
def test_the_hook_runs_for_any_file_a_workload_reads_and_for_the_stacks(
    staged: list[str],
) -> None:
    assert runs_on(staged)


def test_the_hook_fails_on_a_prompt_only_change_and_on_a_hand_edited_stack(
    run_cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copytree(EXAMPLES_DIR / "content-moderation", "workloads/content-moderation")
    assert run_cli("render", "workloads/", "-o", "stacks/").exit_code == 0
    assert run_hook(run_cli, {}).exit_code == 0

    prompt = Path("workloads/content-moderation/prompts/policy.md")
    prompt.write_text(prompt.read_text() + "Escalate threats of violence.\n")
    stale_prompt = run_hook(run_cli, {})
    assert run_cli("render", "workloads/", "-o", "stacks/").exit_code == 0
    Path("stacks/content-moderation/settings.py").write_text("# edited by hand\n")
    stale_stack = run_hook(run_cli, {})

    assert stale_prompt.exit_code == 1 and "+Escalate threats of violence." in stale_prompt.output
    assert stale_stack.exit_code == 1 and "-# edited by hand" in stale_stack.output


def test_the_hook_passes_on_the_committed_stacks(
    run_cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)

    result = run_hook(run_cli, {"workloads/": "examples/"})

    assert result.exit_code == 0, result.output
    assert f"{len(EXAMPLES)} project(s) in stacks are up to date" in result.output
