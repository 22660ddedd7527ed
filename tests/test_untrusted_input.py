"""A repository is untrusted input: drgen writes and removes only inside DIR/<name>/, reads only
inside the workload's folder, bounds its work, and answers bad input with a located message."""

from __future__ import annotations

import errno
import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from drgen import loader, write
from drgen.cli import main
from drgen.write import MANIFEST
from tests.conftest import MINIMAL

Cli = Callable[..., Result]
Write = Callable[..., Path]

WITH_PROMPTS = MINIMAL + "components:\n  prompts:\n    path: prompts\n"


def _cli(*args: str) -> Result:
    """The CLI with uncaught exceptions kept as results, so a traceback fails the assertion."""
    return CliRunner().invoke(main, list(args), catch_exceptions=True)


def _no_traceback(result: Result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _rendered(workload_file: Write) -> Path:
    """A rendered project at out/demo-workload, from MINIMAL."""
    workload_file(MINIMAL)
    assert _cli("render", "workload.yaml", "-o", "out").exit_code == 0
    return Path("out/demo-workload")


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# 1. Writing and removing stay inside the project folder.


@pytest.mark.parametrize("entry", ["../../victim.txt", "ABSOLUTE", "./../../victim.txt"])
def test_a_planted_manifest_line_removes_nothing_outside(
    workload_file: Write, tmp_path: Path, entry: str
) -> None:
    project = _rendered(workload_file)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    line = str(victim) if entry == "ABSOLUTE" else entry
    with (project / MANIFEST).open("a") as manifest:
        manifest.write(f"{_sha(victim.read_bytes())}  {line}\n")

    result = _cli("render", "workload.yaml", "-o", "out")

    _no_traceback(result)
    assert result.exit_code == 0
    assert victim.read_text() == "precious\n"
    assert "0 removed" in result.output
    assert f"warning: out/demo-workload: {MANIFEST} line" in result.stderr
    assert "is not a plain path inside" in result.stderr


def test_a_manifest_entry_through_a_linked_folder_is_ignored(
    workload_file: Write, tmp_path: Path
) -> None:
    project = _rendered(workload_file)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "data.txt").write_text("precious\n")
    (project / "linked").symlink_to(elsewhere, target_is_directory=True)
    with (project / MANIFEST).open("a") as manifest:
        manifest.write(f"{_sha(b'precious' + bytes([10]))}  linked/data.txt\n")

    result = _cli("render", "workload.yaml", "-o", "out")

    assert result.exit_code == 0
    assert (elsewhere / "data.txt").read_text() == "precious\n"
    assert "goes through a symbolic link" in result.stderr


def test_render_never_writes_through_a_linked_folder(workload_file: Write, tmp_path: Path) -> None:
    workload_file(WITH_PROMPTS)
    Path("prompts").mkdir()
    Path("prompts/system.txt").write_text("Be careful.\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    Path("out/demo-workload").mkdir(parents=True)
    Path("out/demo-workload/prompts").symlink_to(elsewhere, target_is_directory=True)

    result = _cli("render", "workload.yaml", "-o", "out")

    _no_traceback(result)
    assert result.exit_code == 1
    assert "out/demo-workload/prompts is a symbolic link" in result.output
    assert list(elsewhere.iterdir()) == []


def test_render_refuses_a_project_folder_that_is_a_link(
    workload_file: Write, tmp_path: Path
) -> None:
    workload_file(MINIMAL)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    Path("out").mkdir()
    Path("out/demo-workload").symlink_to(elsewhere, target_is_directory=True)

    result = _cli("render", "workload.yaml", "-o", "out")

    assert result.exit_code == 1
    assert "out/demo-workload is a symbolic link" in result.output
    assert list(elsewhere.iterdir()) == []


def test_render_never_replaces_a_file_that_is_a_link(workload_file: Write, tmp_path: Path) -> None:
    project = _rendered(workload_file)
    target = tmp_path / "precious.txt"
    target.write_text("precious\n")
    (project / "README.md").unlink()
    (project / "README.md").symlink_to(target)

    result = _cli("render", "workload.yaml", "-o", "out")

    assert result.exit_code == 1
    assert "out/demo-workload/README.md is a symbolic link" in result.output
    assert target.read_text() == "precious\n"


def test_render_check_refuses_a_linked_project_folder(workload_file: Write, tmp_path: Path) -> None:
    workload_file(MINIMAL)
    Path("out").mkdir()
    Path("out/demo-workload").symlink_to(tmp_path, target_is_directory=True)

    result = _cli("render", "--check", "workload.yaml", "-o", "out")

    _no_traceback(result)
    assert result.exit_code == 1
    assert "out/demo-workload is a symbolic link" in result.output


def test_a_workload_file_that_is_a_link_is_not_read(workload_file: Write, tmp_path: Path) -> None:
    secret = tmp_path.parent / f"{tmp_path.name}-secret.yaml"
    secret.write_text("name: TOPSECRET\n")
    Path("workload.yaml").symlink_to(secret)
    fifo = Path("fifo.yaml")
    os.mkfifo(fifo)

    linked = _cli("validate", "workload.yaml")
    special = _cli("validate", "fifo.yaml")

    assert linked.exit_code == 1
    assert "workload.yaml:1:1: is a symbolic link" in linked.output
    assert "TOPSECRET" not in linked.output
    assert special.exit_code in (1, 2)


def test_a_manifest_that_is_a_link_is_not_read(workload_file: Write, tmp_path: Path) -> None:
    project = _rendered(workload_file)
    outside = tmp_path / "outside-manifest"
    outside.write_text((project / MANIFEST).read_text())
    (project / MANIFEST).unlink()
    (project / MANIFEST).symlink_to(outside)

    result = _cli("render", "workload.yaml", "-o", "out")

    assert result.exit_code == 0
    assert f"{MANIFEST} is a symbolic link; ignored" in result.stderr
    assert not (project / MANIFEST).is_symlink()
    assert outside.read_text() != "", "the linked file is left alone"


def test_render_check_reads_nothing_outside(workload_file: Write, tmp_path: Path) -> None:
    project = _rendered(workload_file)
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET\n")
    with (project / MANIFEST).open("a") as manifest:
        manifest.write(f"{_sha(b'x')}  ../../secret.txt\n")

    result = _cli("render", "--check", "workload.yaml", "-o", "out")

    assert "TOP SECRET" not in result.output


def test_a_stale_file_with_another_hash_is_kept(workload_file: Write) -> None:
    project = _rendered(workload_file)
    (project / "notes.txt").write_text("mine\n")
    with (project / MANIFEST).open("a") as manifest:
        manifest.write(f"{_sha(b'something else')}  notes.txt\n")

    result = _cli("render", "workload.yaml", "-o", "out")

    assert result.exit_code == 0
    assert (project / "notes.txt").read_text() == "mine\n"


def test_a_stale_file_that_is_not_utf8_is_handled(workload_file: Write) -> None:
    project = _rendered(workload_file)
    junk = bytes([0xFF, 0xFE])
    (project / "old.bin").write_bytes(junk)
    with (project / MANIFEST).open("a") as manifest:
        manifest.write(f"{_sha(junk)}  old.bin\n")

    result = _cli("render", "workload.yaml", "-o", "out")

    _no_traceback(result)
    assert result.exit_code == 0
    assert not (project / "old.bin").exists()
    assert "1 removed" in result.output


# 2. Reading stays inside the workload's folder.


def test_a_linked_prompt_file_is_refused_with_a_located_error(
    workload_file: Write, tmp_path: Path
) -> None:
    workload_file(WITH_PROMPTS)
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (outside / "credentials").write_text("aws_secret_access_key=x\n")
    Path("prompts").mkdir()
    Path("prompts/system.txt").write_text("Be careful.\n")
    Path("prompts/link.txt").symlink_to(outside / "credentials")

    result = _cli("render", "workload.yaml", "-o", "out")

    assert result.exit_code == 1
    assert (
        "workload.yaml:9:11: components.prompts.path: link.txt: is a symbolic link" in result.output
    )
    assert not Path("out").exists()


def test_a_prompts_folder_linked_outside_is_refused(workload_file: Write, tmp_path: Path) -> None:
    workload_file(WITH_PROMPTS)
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (outside / "credentials").write_text("secret\n")
    Path("prompts").symlink_to(outside, target_is_directory=True)

    result = _cli("validate", "workload.yaml")

    assert result.exit_code == 1
    assert "'prompts' leads outside the workload's folder" in result.output
    assert "credentials" not in result.output


@pytest.mark.parametrize("path", ["../../../../etc", "prompts/../..", "/etc"])
def test_a_prompts_path_outside_is_refused_before_anything_is_read(
    workload_file: Write, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    workload_file(MINIMAL + f"components:\n  prompts:\n    path: {path}\n")
    listed: list[Path] = []
    monkeypatch.setattr(loader, "_prompt_paths", lambda folder: listed.append(folder) or [])

    result = _cli("validate", "workload.yaml")

    assert result.exit_code == 1
    assert listed == []
    assert result.output.count("\n") == 2, result.output  # the problem, then the summary
    assert "must be a folder inside the workload's folder" in result.output


def test_prompt_files_are_bounded_per_file_and_in_total(
    workload_file: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    workload_file(WITH_PROMPTS)
    Path("prompts").mkdir()
    Path("prompts/huge.txt").write_bytes(b"a" * (loader.PROMPT_FILE_MAX_BYTES + 1))
    Path("prompts/binary.txt").write_bytes(b"\xff\x00")
    Path("prompts/nul.txt").write_text("a\0b")
    for n in range(3):
        Path(f"prompts/p{n}.txt").write_text("x" * 600)
    monkeypatch.setattr(loader, "PROMPT_TOTAL_MAX_BYTES", 1000)

    result = _cli("validate", "workload.yaml")

    assert result.exit_code == 1
    assert "huge.txt: over 1 MiB, the limit per file" in result.output
    assert "binary.txt: not UTF-8 text" in result.output
    assert "nul.txt: not text" in result.output
    assert "p1.txt: the prompt files together exceed" in result.output


def test_prompt_file_count_is_bounded(
    workload_file: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    workload_file(WITH_PROMPTS)
    Path("prompts").mkdir()
    for n in range(5):
        Path(f"prompts/p{n}.txt").write_text("x")
    monkeypatch.setattr(loader, "PROMPT_MAX_FILES", 3)

    result = _cli("validate", "workload.yaml")

    assert result.exit_code == 1
    assert "more than 3 files; that is the limit" in result.output


def test_a_prompt_file_vanishing_mid_read_is_a_located_problem(
    workload_file: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    workload_file(WITH_PROMPTS)
    Path("prompts").mkdir()
    Path("prompts/gone.txt").write_text("soon gone\n")
    listing = loader._prompt_paths

    def list_then_delete(folder: Path) -> list[tuple[str, str | None]]:
        found = listing(folder)
        (folder / "gone.txt").unlink()
        return found

    monkeypatch.setattr(loader, "_prompt_paths", list_then_delete)

    result = _cli("render", "workload.yaml", "-o", "out")

    _no_traceback(result)
    assert result.exit_code == 1
    assert "components.prompts.path: gone.txt: cannot be read: No such file" in result.output


# 3. The YAML loader bounds its work.


def test_yaml_aliases_are_refused_before_they_expand(workload_file: Write) -> None:
    levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 9):
        previous, name = chr(96 + level), chr(97 + level)
        levels.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 10) + "]")
    workload_file("\n".join(levels) + "\n")

    started = time.perf_counter()
    result = _cli("validate", "workload.yaml")

    assert time.perf_counter() - started < 2
    assert result.exit_code == 1
    assert "workload.yaml:2:8: YAML alias *a is not supported" in result.output


def test_a_merge_key_alias_is_refused(workload_file: Write) -> None:
    workload_file(MINIMAL + "base: &base {x: 1}\nobjectives:\n  <<: *base\n")

    result = _cli("validate", "workload.yaml")

    assert result.exit_code == 1
    assert "YAML alias *base is not supported" in result.output


def test_deep_nesting_and_huge_documents_are_refused(workload_file: Write) -> None:
    workload_file(MINIMAL + "owner: " + "[" * 30 + "]" * 30 + "\n")
    deep = _cli("validate", "workload.yaml")
    workload_file("# " + "x" * 300_000 + "\n" + MINIMAL)
    huge = _cli("validate", "workload.yaml")

    assert deep.exit_code == 1
    assert "nested more than 20 levels deep" in deep.output
    assert huge.exit_code == 1
    assert "over 256 KiB" in huge.output


# 5. Impossible dates: a located message in every command, never a traceback.

IMPOSSIBLE = MINIMAL + (
    "tags:\n  review: 2024-02-30\n"
    "vendors:\n  - {name: openai, model: gpt-4o, role: primary, deprecation: 2024-13-01}\n"
)


@pytest.mark.parametrize(
    "command",
    [
        ("validate",),
        ("plan",),
        ("plan", "--json"),
        ("check",),
        ("render", "-o", "out"),
        ("render", "--check", "-o", "out"),
    ],
)
def test_impossible_dates_get_located_messages(workload_file: Write, command: tuple[str]) -> None:
    workload_file(IMPOSSIBLE)

    result = _cli(*command, "workload.yaml")

    _no_traceback(result)
    assert result.exit_code == 1
    assert "workload.yaml:8:11: tags.review: '2024-02-30' is not a real date" in result.output
    assert "vendors[0].deprecation: '2024-13-01' is not a real date" in result.output
    assert result.output.count("2024-13-01") == 1, "one message per problem"


def test_diff_exits_2_on_impossible_dates(workload_file: Write) -> None:
    workload_file(MINIMAL, "base.yaml")
    workload_file(IMPOSSIBLE)

    result = _cli("diff", "base.yaml", "workload.yaml")

    _no_traceback(result)
    assert result.exit_code == 2
    assert "is not a real date" in result.output


# 5. Filesystem errors exit 1 naming the path, with the previous output intact.


def test_output_path_that_is_a_file(workload_file: Write) -> None:
    workload_file(MINIMAL)
    Path("out").write_text("a file\n")

    result = _cli("render", "workload.yaml", "-o", "out")

    _no_traceback(result)
    assert result.exit_code in (1, 2)
    assert "out" in result.output
    assert Path("out").read_text() == "a file\n"


def test_output_folder_below_a_file(workload_file: Write) -> None:
    workload_file(MINIMAL)
    Path("blocker").write_text("a file\n")

    result = _cli("render", "workload.yaml", "-o", "blocker/stacks")

    _no_traceback(result)
    assert result.exit_code == 1
    assert "cannot write blocker" in result.output


def test_an_unwritable_output_folder(workload_file: Write, monkeypatch: pytest.MonkeyPatch) -> None:
    workload_file(MINIMAL)

    def refuse(*args: object, **kwargs: object) -> str:
        raise PermissionError(errno.EACCES, "Permission denied", "out")

    monkeypatch.setattr(write.tempfile, "mkdtemp", refuse)

    result = _cli("render", "workload.yaml", "-o", "out")

    _no_traceback(result)
    assert result.exit_code == 1
    assert "cannot write out: Permission denied" in result.output


def test_a_write_failing_part_way_leaves_the_previous_output_intact(
    workload_file: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _rendered(workload_file)
    (project / MANIFEST).write_text(
        (project / MANIFEST).read_text() + f"{_sha(b'stale' + bytes([10]))}  stale.txt\n"
    )
    (project / "stale.txt").write_text("stale\n")
    before = _snapshot(project)
    workload_file(MINIMAL.replace("tier: 2", "tier: 3").replace("  secondary: us-west-2\n", ""))
    real_replace = Path.replace
    moves: list[Path] = []

    def read_only_after_two(self: Path, target: str | os.PathLike[str]) -> Path:
        if ".demo-workload." in str(self) and "/new/" in str(self):
            moves.append(self)
            if len(moves) > 2:
                raise OSError(errno.EROFS, "Read-only file system", str(target))
        return real_replace(self, target)

    monkeypatch.setattr(Path, "replace", read_only_after_two)

    result = _cli("render", "workload.yaml", "-o", "out")

    _no_traceback(result)
    assert result.exit_code == 1
    assert "Read-only file system; the previous files are unchanged" in result.output
    assert "cannot write out/demo-workload/" in result.output
    assert _snapshot(project) == before
    assert [p.name for p in Path("out").iterdir()] == ["demo-workload"], "no staging left"


# drgen init writes nothing invalid and fails with a message.


def test_init_refuses_a_bad_name_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    result = _cli("init", "--name", "Bad Name")

    _no_traceback(result)
    assert result.exit_code == 2
    assert "'Bad Name' is not a workload name" in result.output
    assert not Path("workload.yaml").exists()


def test_init_refuses_a_name_whose_derived_names_do_not_fit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    name = "abcdefghij-abcdefghij-abcdefghij-abcdefg"
    result = _cli("init", "--tier", "1", "--name", name, "--suffix", "a")

    assert result.exit_code == 2
    assert "Invalid value for --name" in result.output
    assert "restore testing plan name" in result.output
    assert not Path("workload.yaml").exists()


def test_init_into_a_missing_folder_creates_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    result = _cli("init", "-o", "services/search/workload.yaml")

    assert result.exit_code == 0
    assert _cli("validate", "services/search/workload.yaml").exit_code == 0


def test_init_below_a_file_names_the_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("README.md").write_text("hello\n")

    result = _cli("init", "-o", "README.md/workload.yaml")

    _no_traceback(result)
    assert result.exit_code == 1
    assert "cannot write README.md" in result.output
    assert Path("README.md").read_text() == "hello\n"


def test_repository_files_are_read_without_following_a_link(tmp_path: Path) -> None:
    # The is_symlink() checks give the messages; the read itself refuses a link swapped in
    # after them (O_NOFOLLOW), and never reads more than one byte past its bound.
    from drgen.files import read_at_most

    target = tmp_path / "target.yaml"
    target.write_text("x" * 100)
    (tmp_path / "link.yaml").symlink_to(target)

    assert read_at_most(target, 10) == b"x" * 11
    with pytest.raises(OSError):
        read_at_most(tmp_path / "link.yaml", 1000)
