"""Every command in every generated RUNBOOK.md runs as written.

`aws` commands are parsed against botocore's own service models (they ship with boto3): the
operation (or waiter) exists, every flag is one of its parameters, every required parameter is
given. `aws s3` transfer commands and `gcloud` commands are held to tables of their documented
forms, each with its source.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

import botocore.session
import pytest
from botocore import xform_name

from drgen.plan import resolve
from drgen.render import render
from tests.conftest import ROOT, make_workload

EXTRA = [
    make_workload(2, "gcp", components={"vector_store": {"engine": "pgvector"}}),
    make_workload(1, "aws", components={"vector_store": {"engine": "qdrant"}}),
    make_workload(2, "aws", components={"vector_store": {"engine": "milvus"}}),
    make_workload(2, "gcp", components={"vector_store": {"engine": "weaviate"}}),
]
"""Blocks no example uses, so that their runbook steps are parsed too."""
RUNBOOKS = [
    *(
        (p.parent.name, p.read_text(encoding="utf-8"))
        for p in sorted(ROOT.glob("stacks/*/RUNBOOK.md"))
    ),
    *((f"inline-{i}", render(resolve(w))["RUNBOOK.md"]) for i, w in enumerate(EXTRA)),
]
GLOBAL_AWS = {"--region", "--query", "--output", "--profile", "--endpoint-url", "--no-cli-pager"}
"""https://docs.aws.amazon.com/cli/latest/reference/#options"""
CLI_SERVICES = {"s3api": "s3"}
"""CLI service name -> botocore service name, where they differ."""
CLI_RENAMES = {("sns", "subscribe", "--endpoint"): "--notification-endpoint"}
"""Members the AWS CLI spells differently from botocore's model (awscli/customizations/
argrename.py: 'sns.subscribe.endpoint': 'notification-endpoint';
https://docs.aws.amazon.com/cli/latest/reference/sns/subscribe.html)."""


@dataclass(frozen=True)
class Form:
    """A documented command form: its flags, the ones it requires, how many positionals."""

    flags: frozenset[str]
    required: frozenset[str]
    positionals: int
    source: str


def form(flags: str, required: str = "", positionals: int = 0, *, source: str) -> Form:
    return Form(frozenset(flags.split()), frozenset(required.split()), positionals, source)


GCLOUD_LIST = "--project --format --sort-by --limit --filter"
GCLOUD: dict[str, Form] = {
    "sql backups list": form(
        f"--instance {GCLOUD_LIST}",
        "--instance",
        source="https://cloud.google.com/sdk/gcloud/reference/sql/backups/list",
    ),
    "sql backups restore": form(
        "--restore-instance --backup-instance --backup-project --project",
        "--restore-instance",
        1,
        source="https://cloud.google.com/sdk/gcloud/reference/sql/backups/restore",
    ),
    "sql instances create": form(
        "--project --region --database-version --tier --network --no-assign-ip"
        " --master-instance-name --disk-encryption-key --edition --availability-type"
        " --storage-type --storage-auto-increase --ssl-mode --database-flags --backup-start-time"
        " --enable-point-in-time-recovery --retained-backups-count"
        " --retained-transaction-log-days --deletion-protection",
        positionals=1,
        source="https://cloud.google.com/sdk/gcloud/reference/sql/instances/create",
    ),
    "sql instances describe": form(
        "--project --format",
        positionals=1,
        source="https://cloud.google.com/sdk/gcloud/reference/sql/instances/describe",
    ),
    "sql import sql": form(
        "--database --user --async --clean --if-exists --parallel --threads --project",
        # PostgreSQL: a dump names no database, so the import must (components.vector_store.
        # database; https://cloud.google.com/sql/docs/postgres/import-export/import-export-sql).
        "--database",
        2,
        source="https://cloud.google.com/sdk/gcloud/reference/sql/import/sql",
    ),
    "sql users create": form(
        "--instance --type --password --host --project",
        "--instance",
        1,
        source="https://cloud.google.com/sdk/gcloud/reference/sql/users/create",
    ),
    "sql databases create": form(
        "--instance --charset --collation --async --project",
        "--instance",
        1,
        source="https://cloud.google.com/sdk/gcloud/reference/sql/databases/create",
    ),
    "sql export sql": form(
        "--database --offload --async --table --parallel --threads --clean --if-exists --project",
        "--database",
        2,
        source="https://cloud.google.com/sdk/gcloud/reference/sql/export/sql",
    ),
    "sql instances delete": form(
        "--async --project",
        positionals=1,
        source="https://cloud.google.com/sdk/gcloud/reference/sql/instances/delete",
    ),
    "sql instances promote-replica": form(
        "--project",
        positionals=1,
        source="https://cloud.google.com/sdk/gcloud/reference/sql/instances/promote-replica",
    ),
    "sql instances patch": form(
        "--project --backup-start-time --enable-point-in-time-recovery --activation-policy"
        " --no-deletion-protection",
        positionals=1,
        source="https://cloud.google.com/sdk/gcloud/reference/sql/instances/patch",
    ),
    "iam roles undelete": form(
        "--project --organization",
        positionals=1,
        source="https://cloud.google.com/sdk/gcloud/reference/iam/roles/undelete",
    ),
    "bigtable backups list": form(
        f"--instance --cluster {GCLOUD_LIST}",
        source="https://cloud.google.com/sdk/gcloud/reference/bigtable/backups/list",
    ),
    "bigtable backups copy": form(
        "--source-backup --destination-backup --destination-instance --destination-cluster"
        " --destination-project --expiration-date --retention-period --project",
        "--source-backup --destination-backup",
        source="https://cloud.google.com/sdk/gcloud/reference/bigtable/backups/copy",
    ),
    "bigtable instances tables restore": form(
        "--source --destination --destination-instance --project --async",
        "--source --destination",
        source="https://cloud.google.com/sdk/gcloud/reference/bigtable/instances/tables/restore",
    ),
    "bigtable clusters update": form(
        "--instance --autoscaling-cpu-target --autoscaling-max-nodes --autoscaling-min-nodes"
        " --autoscaling-storage-target --num-nodes --disable-autoscaling --async --project",
        "--instance",
        1,
        source="https://cloud.google.com/sdk/gcloud/reference/bigtable/clusters/update",
    ),
    "bigtable operations list": form(
        f"--instance --page-size --uri {GCLOUD_LIST}",
        source="https://cloud.google.com/sdk/gcloud/reference/bigtable/operations/list",
    ),
    "storage ls": form(
        "--project --recursive",
        positionals=1,
        source="https://cloud.google.com/sdk/gcloud/reference/storage/ls",
    ),
    "storage cat": form(
        "--project --range --display-url --additional-headers",
        positionals=1,
        source="https://cloud.google.com/sdk/gcloud/reference/storage/cat",
    ),
    # `-` as the source reads standard input.
    "storage cp": form(
        "--content-type --cache-control --if-generation-match --no-clobber",
        positionals=2,
        source="https://cloud.google.com/sdk/gcloud/reference/storage/cp",
    ),
    "run jobs executions list": form(
        f"--job --region {GCLOUD_LIST}",
        "--job --region",
        source="https://cloud.google.com/sdk/gcloud/reference/run/jobs/executions/list",
    ),
    "storage sign-url": form(
        "--duration --impersonate-service-account --private-key-file --region --format",
        positionals=1,
        source="https://cloud.google.com/sdk/gcloud/reference/storage/sign-url",
    ),
    "dns record-sets update": form(
        "--zone --type --ttl --rrdatas --project",
        "--zone --type",
        1,
        source="https://cloud.google.com/sdk/gcloud/reference/dns/record-sets/update",
    ),
    "projects describe": form(
        "--format",
        positionals=1,
        source="https://cloud.google.com/sdk/gcloud/reference/projects/describe",
    ),
    "storage buckets add-iam-policy-binding": form(
        "--member --role --condition",
        "--member --role",
        1,
        source="https://cloud.google.com/sdk/gcloud/reference/storage/buckets/add-iam-policy-binding",
    ),
    "storage buckets remove-iam-policy-binding": form(
        "--member --role --condition --all",
        "--member --role",
        1,
        source="https://cloud.google.com/sdk/gcloud/reference/storage/buckets/remove-iam-policy-binding",
    ),
    "transfer operations list": form(
        f"--job-names --operation-statuses {GCLOUD_LIST}",
        source="https://cloud.google.com/sdk/gcloud/reference/transfer/operations/list",
    ),
    "transfer jobs create": form(
        "--description --name --project --overwrite-when --delete-from",
        positionals=2,
        source="https://cloud.google.com/sdk/gcloud/reference/transfer/jobs/create",
    ),
}

GCLOUD_SWITCHES = {
    "--no-assign-ip",
    "--enable-point-in-time-recovery",
    "--async",
    "--recursive",
    "--storage-auto-increase",
    "--deletion-protection",
    "--no-deletion-protection",
    "--offload",
    "--clean",
    "--if-exists",
}
"""gcloud flags that take no value (boolean in the pages above); every other flag is written
--flag=value, so that a value can never be mistaken for an argument."""

AWS_S3: dict[str, Form] = {
    "ls": form(
        "--recursive --summarize",
        positionals=1,
        source="https://docs.aws.amazon.com/cli/latest/reference/s3/ls.html",
    ),
    "presign": form(
        "--expires-in",
        positionals=1,
        source="https://docs.aws.amazon.com/cli/latest/reference/s3/presign.html",
    ),
    "sync": form(
        "--source-region --delete --exact-timestamps --exclude --include",
        positionals=2,
        source="https://docs.aws.amazon.com/cli/latest/reference/s3/sync.html",
    ),
}


def commands(text: str, program: str) -> list[list[str]]:
    """Every `program ...` command of a runbook, as shell words, cut at the end of the command."""
    found = []
    # The check table's basis column names mechanisms (`gcloud bigtable backups copy`); the
    # steps are the commands.
    text = "\n".join(line for line in text.splitlines() if not line.startswith("|"))
    blocks = re.findall(r"```sh\n(.*?)```", text, re.S)
    spans = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    for chunk in [*blocks, *spans]:
        for line in chunk.splitlines():
            for start in re.finditer(rf"(?:^|\$\(|\|\s*|\s)({program}) ", line.strip()):
                lexer = shlex.shlex(
                    line.strip()[start.start(1) :], posix=True, punctuation_chars="();|&"
                )
                lexer.whitespace_split = True
                words = []
                for word in lexer:
                    if word and set(word) <= set("();|&"):
                        break
                    words.append(word)
                found.append(words)
    return found


def all_commands(program: str) -> list[tuple[str, list[str]]]:
    return [(name, words) for name, text in RUNBOOKS for words in commands(text, program)]


def flags_of(words: list[str]) -> list[str]:
    return [w.split("=", 1)[0] for w in words if w.startswith("--")]


@pytest.fixture(scope="module")
def session() -> botocore.session.Session:
    return botocore.session.get_session()


def aws_problems(session: botocore.session.Session, words: list[str]) -> list[str]:
    """What is wrong with an `aws` command, judged by botocore's service model."""
    service, command, *rest = words[1:]
    given = flags_of(rest)
    problems = []
    if "--region" not in given and service not in ("sts", "route53"):
        problems.append("no --region: the default may be the failed region")
    if service == "s3":
        documented = AWS_S3[command]
        switches = {"--delete", "--exact-timestamps", "--recursive", "--summarize"}
        # Words that are neither a flag nor the value after a flag taking one.
        positionals = [
            w
            for i, w in enumerate(rest)
            if not w.startswith("--")
            and (i == 0 or not rest[i - 1].startswith("--") or rest[i - 1] in switches)
        ]
        if unknown := set(given) - documented.flags - GLOBAL_AWS:
            problems.append(f"unknown flags {sorted(unknown)}")
        if len(positionals) != documented.positionals:
            problems.append(f"{len(positionals)} paths, {documented.positionals} expected")
        return problems
    model = session.get_service_model(CLI_SERVICES.get(service, service))
    if command == "wait":
        waiters = session.get_waiter_model(model.service_name)
        names = {xform_name(name, "-"): name for name in waiters.waiter_names}
        if rest[0] not in names:
            return [*problems, f"{service} has no waiter {rest[0]}"]
        operation = waiters.get_waiter(names[rest[0]]).operation
        given = flags_of(rest[1:])
    else:
        names = {xform_name(name, "-"): name for name in model.operation_names}
        if command not in names:
            return [*problems, f"{service} has no operation {command}"]
        operation = names[command]
    shape = model.operation_model(operation).input_shape
    members = shape.members if shape is not None else {}
    allowed = set(GLOBAL_AWS)

    def flag(name: str) -> str:
        plain = "--" + xform_name(name, "-")
        return CLI_RENAMES.get((service, command, plain), plain)

    for name, member in members.items():
        allowed.add(flag(name))
        if member.type_name == "boolean":
            allowed.add("--no-" + xform_name(name, "-"))
    if unknown := set(given) - allowed:
        problems.append(f"unknown flags {sorted(unknown)}")
    required = {flag(name) for name in (shape.required_members if shape else [])}
    if missing := required - set(given):
        problems.append(f"missing required {sorted(missing)}")
    return problems


def gcloud_problems(words: list[str]) -> list[str]:
    """What is wrong with a `gcloud` command, judged by its documented form."""
    line = " ".join(words[1:]) + " "
    path = next(
        (p for p in sorted(GCLOUD, key=len, reverse=True) if line.startswith(p + " ")), None
    )
    if path is None:
        return ["no documented form in GCLOUD"]
    documented = GCLOUD[path]
    rest = words[1 + len(path.split()) :]
    problems = []
    spaced = [w for w in rest if w.startswith("--") and "=" not in w and w not in GCLOUD_SWITCHES]
    if spaced:
        problems.append(f"write flags as --flag=value: {spaced}")
    given = set(flags_of(rest))
    if unknown := given - documented.flags:
        problems.append(f"unknown flags {sorted(unknown)}")
    if missing := documented.required - given:
        problems.append(f"missing required {sorted(missing)}")
    positionals = [w for w in rest if not w.startswith("--")]
    if len(positionals) != documented.positionals:
        problems.append(f"{len(positionals)} arguments, {documented.positionals} expected")
    return problems


def test_the_runbooks_hold_aws_and_gcloud_commands() -> None:
    # The parametrised tests below must have something to check.
    assert len(all_commands("aws")) >= 30
    assert len(all_commands("gcloud")) >= 10


@pytest.mark.parametrize(
    ("words", "problem"),
    [
        # The command the issue found: no --region, no --recovery-point-arn, no metadata.
        ("aws backup start-restore-job --iam-role-arn r", "no --region"),
        ("aws backup start-restore-job --region r --iam-role-arn r", "missing required"),
        ("aws rds create-db-instance --region r --db-instance-identifier i --color x", "unknown"),
        ("aws rds restore-the-cluster --region r", "no operation"),
        ("aws rds wait cluster-ready --region r", "no waiter"),
        ("aws s3 sync s3://a --region r", "1 paths, 2 expected"),
        # botocore's member name, which the CLI renames (CLI_RENAMES).
        ("aws sns subscribe --region r --topic-arn t --protocol email --endpoint e", "unknown"),
    ],
)
def test_the_aws_checker_catches_broken_commands(
    session: botocore.session.Session, words: str, problem: str
) -> None:
    assert any(problem in found for found in aws_problems(session, shlex.split(words)))


@pytest.mark.parametrize(
    ("words", "problem"),
    [
        ("gcloud sql backups restore 1 --backup-instance=a", "missing required"),
        ("gcloud sql instances promote-replica a --project p", "write flags as"),
        ("gcloud bigtable backups copy --destination-cluster=c", "missing required"),
        ("gcloud bigtable backups move --source-backup=s", "no documented form"),
        ("gcloud transfer jobs create gs://a --project=p", "1 arguments, 2 expected"),
    ],
)
def test_the_gcloud_checker_catches_broken_commands(words: str, problem: str) -> None:
    assert any(problem in found for found in gcloud_problems(shlex.split(words)))


@pytest.mark.parametrize(
    ("project", "words"), all_commands("aws"), ids=lambda v: v if isinstance(v, str) else None
)
def test_every_aws_command_matches_the_service_model(
    session: botocore.session.Session, project: str, words: list[str]
) -> None:
    assert aws_problems(session, words) == [], f"{project}: {shlex.join(words)}"


@pytest.mark.parametrize(
    ("project", "words"), all_commands("gcloud"), ids=lambda v: v if isinstance(v, str) else None
)
def test_every_gcloud_command_has_a_documented_form(project: str, words: list[str]) -> None:
    assert gcloud_problems(words) == [], f"{project}: {shlex.join(words)}"
