"""Globally unique bucket names: a suffix declared, derived from the GCP project, or a warning.

Cloud Storage and S3 bucket names are global: "Bucket names reside in a single namespace that is
shared by all Cloud Storage users" (https://cloud.google.com/storage/docs/buckets#naming), and an
S3 bucket name "must be unique across all AWS accounts in all the AWS Regions within a partition"
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html). GCP project IDs
are unique too ("A project ID is a unique string", https://cloud.google.com/resource-manager/docs/creating-managing-projects).
"""

from __future__ import annotations

import hashlib
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from drgen.diff import mock_run
from drgen.errors import DrgenError
from drgen.names import bucket_suffix, project_suffix
from drgen.plan import resolve
from drgen.render import render
from drgen.write import write_project
from tests.conftest import MINIMAL, make_workload

GCP = """\
name: demo-workload
tier: 2
cloud: gcp
regions:
  primary: us-central1
  secondary: us-east1
"""


def test_the_project_suffix_is_short_stable_and_differs_between_projects() -> None:
    suffix = project_suffix("research-computing-lab")

    assert suffix == hashlib.sha256(b"research-computing-lab").hexdigest()[:6]
    assert suffix == project_suffix("research-computing-lab")
    assert suffix != project_suffix("research-computing-lab2")
    assert bucket_suffix("ab12", "research-computing-lab") == "ab12"  # declared wins
    assert bucket_suffix(None, None) is None


def test_a_named_project_gives_every_bucket_its_suffix() -> None:
    workload = make_workload(
        2,
        "gcp",
        naming={"project": "research-computing-lab"},
        components={"vector_store": {"engine": "qdrant"}},
    )
    plan = resolve(workload)
    suffix = project_suffix("research-computing-lab")

    for component in plan.components:
        if component.component != "feature_store":
            assert all(name.endswith(f"-{suffix}") for name in component.names.values())
    assert plan.gcp_project == "research-computing-lab"
    (project_input,) = {i for s in plan.stacks for i in s.inputs if i.key == "gcp:project"}
    assert project_input.example == "research-computing-lab"  # the README's value, not a stand-in


# A Cloud SQL instance name is unique in its project and "cannot be reused for up to one week"
# (pulumi-gcp sql.DatabaseInstance `name`), a Firestore database ID is the last part of its
# project's resource name (pulumi-gcp firestore.Database `name`): neither is global, and
# renaming one replaces it, which `protect=True` refuses. Naming the project changes bucket
# names only; a declared suffix keeps suffixing the databases as it always has, and the export
# bucket of a cold pgvector restore is a bucket.
@pytest.mark.parametrize("naming", [{}, {"suffix": "ab12"}])
def test_naming_the_project_renames_no_database(naming: dict[str, str]) -> None:
    components = {
        "vector_store": {"engine": "pgvector"},
        "feature_store": {"engine": "firestore"},
    }
    before = resolve(make_workload(2, "gcp", naming=naming, components=components))
    after = resolve(
        make_workload(
            2, "gcp", naming={**naming, "project": "research-computing-lab"}, components=components
        )
    )
    suffix = naming.get("suffix", project_suffix("research-computing-lab"))

    for name in ("vector_store", "feature_store"):
        old, new = before.component(name), after.component(name)
        assert old is not None and new is not None
        assert (new.names, new.global_name) == (old.names, old.global_name)
    vectors = after.component("vector_store")
    models = after.component("models")
    assert vectors is not None and models is not None and after.secondary is not None
    assert str(vectors.params["export_bucket"]).endswith(f"-{suffix}")
    assert all(name.endswith(f"-{suffix}") for name in models.names.values())


def test_a_stack_deploying_into_another_project_is_refused(tmp_path: Path) -> None:
    # Its bucket names were derived from the named project; in another they are that
    # project's neighbours' names.
    plan = resolve(make_workload(2, "gcp", naming={"project": "research-computing-lab"}))
    write_project(render(plan), tmp_path / plan.workload)
    (project_input,) = {i for i in plan.primary.inputs if i.key == "gcp:project"}
    elsewhere = plan.primary.model_copy(
        update={
            "inputs": tuple(
                i.model_copy(update={"example": "someone-elses"}) if i is project_input else i
                for i in plan.primary.inputs
            )
        }
    )

    with pytest.raises(DrgenError, match=r"naming\.project"):
        mock_run(tmp_path / plan.workload, elsewhere)


@pytest.mark.parametrize(
    ("text", "warned"),
    [
        (MINIMAL, "S3 bucket names are global"),
        (GCP, "Cloud Storage bucket names are global"),
        (MINIMAL + "naming: {suffix: ab12}\n", None),
        (GCP + "naming: {project: research-computing-lab}\n", None),
    ],
)
def test_validate_warns_when_bucket_names_carry_no_suffix(
    workload_file: Callable[..., Path],
    run_cli: Callable[..., Result],
    text: str,
    warned: str | None,
) -> None:
    result = run_cli("validate", str(workload_file(text)))

    assert result.exit_code == 0
    assert result.stdout.endswith(": ok (aws, tier 2, cold-restore)\n") or "gcp" in result.stdout
    if warned is None:
        assert result.stderr == ""
    else:
        assert warned in result.stderr
        assert "set naming.suffix (`drgen init` writes a random one)" in result.stderr
        assert ("naming.project" in result.stderr) is ("Cloud Storage" in warned)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            MINIMAL + "naming:\n  project: my-gcp-project\n",
            "workload.yaml:8:12: naming.project: names a GCP project; an AWS workload has none",
        ),
        (
            GCP + "naming:\n  project: My_Project\n",
            "workload.yaml:8:12: naming.project: 'My_Project' is not a GCP project ID",
        ),
    ],
)
def test_a_bad_project_is_located(
    workload_file: Callable[..., Path],
    run_cli: Callable[..., Result],
    text: str,
    expected: str,
) -> None:
    result = run_cli("validate", str(workload_file(textwrap.dedent(text))))

    assert result.exit_code == 1
    assert expected in result.stderr
