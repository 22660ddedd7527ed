"""`Pulumi.<stack>.yaml` belongs to the team: drgen creates it, then never rewrites or removes
what the team set, and `render --check` does not count it as drift."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path

from click.testing import Result

from drgen.write import MANIFEST, manifest_text, read_manifest
from tests.conftest import MINIMAL

Cli = Callable[..., Result]
STACK = Path("out/demo-workload/Pulumi.us-west-2.yaml")
TEAM_KEYS = """\
  # Set by the platform team, 2026-03: private subnets of vpc-main.
  demo-workload:database_subnet_group: vectors-private
  demo-workload:database_security_group_ids:
    - sg-0123456789abcdef0
    - "sg-0fedcba9876543210"
  demo-workload:database_master_password:
    secure: AAABAJ4Xy4c3ZWNyZXQtdmFsdWUtZnJvbS1wdWx1bWk=
"""


def rendered(run_cli: Cli, workload_file: Callable[[str], Path]) -> Path:
    result = run_cli("render", str(workload_file(MINIMAL)), "-o", "out")
    assert result.exit_code == 0, result.output
    return Path("workload.yaml")


def test_keys_comments_and_secrets_the_team_set_survive_a_render(
    run_cli: Cli, workload_file: Callable[[str], Path]
) -> None:
    workload = rendered(run_cli, workload_file)
    # What `pulumi config set` (plain, list and --secret) leaves in the file.
    STACK.write_text(STACK.read_text() + TEAM_KEYS + 'encryptionsalt: "v1:ab12=="\n')
    before = STACK.read_bytes()

    check = run_cli("render", "--check", str(workload), "-o", "out")
    again = run_cli("render", str(workload), "-o", "out")

    assert check.exit_code == 0, check.output
    assert again.exit_code == 0, again.output
    assert "0 written" in again.output and "added" not in again.output
    assert STACK.read_bytes() == before


def test_the_team_file_is_not_in_the_manifest(
    run_cli: Cli, workload_file: Callable[[str], Path]
) -> None:
    rendered(run_cli, workload_file)

    listed = read_manifest(Path("out/demo-workload"))

    assert "Pulumi.yaml" in listed
    assert not any(path.startswith("Pulumi.us-") for path in listed)


def test_a_key_drgen_needs_is_added_alone_and_check_reports_it(
    run_cli: Cli, workload_file: Callable[[str], Path]
) -> None:
    workload = rendered(run_cli, workload_file)
    text = STACK.read_text().replace("  demo-workload:role: secondary\n", "") + TEAM_KEYS
    STACK.write_text(text)

    check = run_cli("render", "--check", str(workload), "-o", "out")
    write = run_cli("render", str(workload), "-o", "out")

    assert check.exit_code == 1
    assert "+  demo-workload:role: secondary" in check.output
    assert "added demo-workload:role to Pulumi.us-west-2.yaml" in write.output
    ops = difflib.SequenceMatcher(None, text.splitlines(), STACK.read_text().splitlines())
    changes = [
        (op, STACK.read_text().splitlines()[j1:j2]) for op, _, _, j1, j2 in ops.get_opcodes()
    ]
    assert [c for c in changes if c[0] != "equal"] == [
        ("insert", ["  demo-workload:role: secondary"])
    ]
    assert run_cli("render", "--check", str(workload), "-o", "out").exit_code == 0


def test_a_four_space_file_keeps_its_indentation(
    run_cli: Cli, workload_file: Callable[[str], Path]
) -> None:
    workload = rendered(run_cli, workload_file)
    STACK.write_text(
        "config:\n    aws:region: us-west-2   # ours\n    demo-workload:ids:\n"
        "        - a\n        - b\n"
    )

    run_cli("render", str(workload), "-o", "out")

    assert STACK.read_text() == (
        "config:\n    aws:region: us-west-2   # ours\n    demo-workload:ids:\n"
        "        - a\n        - b\n    demo-workload:role: secondary\n"
    )


def test_a_region_that_contradicts_the_workload_is_warned_about_and_left(
    run_cli: Cli, workload_file: Callable[[str], Path]
) -> None:
    workload = rendered(run_cli, workload_file)
    STACK.write_text(STACK.read_text().replace("aws:region: us-west-2", "aws:region: eu-west-1"))
    before = STACK.read_bytes()

    result = run_cli("render", str(workload), "-o", "out")

    assert result.exit_code == 0
    assert "aws:region is 'eu-west-1' but workload.yaml says 'us-west-2'" in result.stderr
    assert STACK.read_bytes() == before


def test_a_missing_stack_file_is_created_and_check_says_so(
    run_cli: Cli, workload_file: Callable[[str], Path]
) -> None:
    workload = rendered(run_cli, workload_file)
    seed = STACK.read_text()
    STACK.unlink()

    check = run_cli("render", "--check", str(workload), "-o", "out")
    write = run_cli("render", str(workload), "-o", "out")

    assert check.exit_code == 1 and "/dev/null" in check.output
    assert "created Pulumi.us-west-2.yaml" in write.output
    assert STACK.read_text() == seed


def test_a_project_rendered_when_drgen_owned_the_file_hands_it_over(
    run_cli: Cli, workload_file: Callable[[str], Path]
) -> None:
    workload = rendered(run_cli, workload_file)
    project = Path("out/demo-workload")
    # An older drgen listed the stack files in its manifest.
    files = {
        p.relative_to(project).as_posix(): p.read_text()
        for p in project.rglob("*")
        if p.is_file() and p.name != MANIFEST
    }
    (project / MANIFEST).write_text(manifest_text(files))
    STACK.write_text(STACK.read_text() + TEAM_KEYS)
    before = STACK.read_bytes()

    check = run_cli("render", "--check", str(workload), "-o", "out")
    write = run_cli("render", str(workload), "-o", "out")

    assert check.exit_code == 1  # the manifest changes ...
    assert "-" + STACK.read_text().splitlines()[0] not in check.output  # ... the file does not
    assert write.exit_code == 0 and "0 removed" in write.output
    assert "kept" not in write.stderr
    assert STACK.read_bytes() == before
    assert Path("out/demo-workload/Pulumi.us-east-1.yaml").is_file()
    assert "Pulumi.us-west-2.yaml" not in read_manifest(project)


def test_a_stack_file_that_is_not_yaml_is_a_located_error(
    run_cli: Cli, workload_file: Callable[[str], Path]
) -> None:
    workload = rendered(run_cli, workload_file)
    STACK.write_text("config:\n  aws:region: [us-west-2\n")

    result = run_cli("render", str(workload), "-o", "out")

    assert result.exit_code == 1
    assert "Pulumi.us-west-2.yaml:3:1: not valid YAML" in result.stderr
    assert "Traceback" not in result.output


def test_a_stack_file_that_is_a_link_is_refused_and_its_target_untouched(
    run_cli: Cli, workload_file: Callable[[str], Path], tmp_path: Path
) -> None:
    workload = rendered(run_cli, workload_file)
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text("config:\n  other: value\n")
    STACK.unlink()
    STACK.symlink_to(outside)
    settings = Path("out/demo-workload/settings.py")
    settings.unlink()

    write = run_cli("render", str(workload), "-o", "out")
    check = run_cli("render", "--check", str(workload), "-o", "out")

    for result in (write, check):
        assert result.exit_code == 1
        assert "Pulumi.us-west-2.yaml is a symbolic link" in result.stderr
    assert outside.read_text() == "config:\n  other: value\n"
    assert not settings.exists()  # stopped before writing anything
