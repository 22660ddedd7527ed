"""Run one stack of a generated project under the Pulumi mock runtime and report its resources.

`python -m drgen.mockrun PROJECT_DIR STACK [KEY=VALUE ...]` prints JSON: the resources the
program registered, with their inputs, every nested input that the SDK's own `*Args` types do
not accept, and the config keys the program read. KEY=VALUE pairs stand in for the stack inputs
a team sets itself (its network, its engine's address). Each stack runs in a fresh interpreter:
generated projects share module names (`settings`, `storage`, ...) and the Pulumi runtime keeps
global state. `drgen diff` and the stack tests use it; `drgen render` never imports it.

The mock runtime checks only top-level arguments, so `nested_problems` walks each dict input
against the SDK's `*Args` classes: unknown keys, missing required keys, wrong scalar types.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import re
import runpy
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import yaml

ACCOUNT_ID = "123456789012"
SDK_MODULES = {
    "aws": (
        "s3", "kms", "iam", "backup", "route53", "scheduler", "rds", "dynamodb", "lambda_",
        "cloudwatch",
    ),
    "gcp": (
        "storage", "kms", "projects", "serviceaccount", "cloudrunv2", "cloudscheduler",
        "secretmanager", "sql", "bigtable", "firestore", "dns", "compute", "monitoring",
        "logging",
    ),
}  # fmt: skip
"""SDK modules the generated programs use, loaded before the program runs (see run_stack)."""
MOCK_PROJECT = "drgen-mock"
PROJECT_NUMBER = "123456789"

SECRET_SIG = "4dabf18193072939515e22adb298388d"
SECRET_VALUE_SIG = "1b47061264138c4ac30d75fd1eb44270"
"""How the runtime wraps a secret in serialized inputs (`_special_sig_key`, `_special_secret_sig`
in pulumi/runtime/rpc.py)."""
_ARGS_REF = re.compile(r"ForwardRef\('(\w+Args)'\)")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def sdk_class(token: str) -> type | None:
    """The Python class of a resource token such as `aws:s3/bucket:Bucket`."""
    package, _, rest = token.partition(":")
    if package not in SDK_MODULES:
        return None
    module_path, _, class_name = rest.partition(":")
    module_name = module_path.split("/")[0]
    module = importlib.import_module(
        f"pulumi_{package}"
        if module_name == "index"
        else f"pulumi_{package}.{module_name.replace('lambda', 'lambda_')}"
    )
    return getattr(module, class_name, None)


def sdk_args_class(token: str) -> type | None:
    """The `*Args` (or `*InitArgs`) input class of a resource token."""
    resource = sdk_class(token)
    if resource is None:
        return None
    module = importlib.import_module(resource.__module__)
    return getattr(module, resource.__name__ + "Args", None) or getattr(
        module, resource.__name__ + "InitArgs", None
    )


def _properties(args_class: type) -> dict[str, tuple[str, str]]:
    """Pulumi (camelCase) property name -> (python name, annotation text) of an input type."""
    found = {}
    for python_name, member in vars(args_class).items():
        getter = member.fget if isinstance(member, property) else None
        pulumi_name = getattr(getter, "_pulumi_name", None)
        if getter is not None and pulumi_name:
            annotation = repr(getter.__annotations__.get("return", ""))
            found[pulumi_name] = (python_name, annotation)
    return found


def _required(args_class: type) -> set[str]:
    module = importlib.import_module(args_class.__module__)
    typed = getattr(module, args_class.__name__ + "Dict", None)
    if typed is None:
        return set()
    return {_camel(key) for key in getattr(typed, "__required_keys__", set())}


def nested_problems(token: str, inputs: dict[str, Any]) -> list[str]:
    """Nested inputs of a resource that its SDK types do not accept, as readable lines."""
    resource = sdk_class(token)
    if resource is None:
        return []
    module = importlib.import_module(resource.__module__)
    args_class = sdk_args_class(token)
    if args_class is None:
        return [f"{token}: no Args class to validate against"]
    problems: list[str] = []
    props = _properties(args_class)
    for key, value in inputs.items():
        if key in props:
            _check(props[key][1], value, f"{token}.{key}", module, problems)
    return problems


def _check(annotation: str, value: Any, where: str, module: Any, problems: list[str]) -> None:
    if isinstance(value, dict) and value.get(SECRET_SIG) == SECRET_VALUE_SIG:
        value = value["value"]  # a secret arrives wrapped; check what it wraps
    refs = set(_ARGS_REF.findall(annotation))
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check(annotation, item, f"{where}[{index}]", module, problems)
        return
    if not refs:
        if "Mapping" not in annotation and isinstance(value, dict):
            problems.append(f"{where}: a mapping where the SDK expects {annotation}")
        elif annotation.startswith("typing.Union[bool") and not isinstance(value, bool):
            problems.append(f"{where}: {value!r} is not a bool")
        elif annotation.startswith("typing.Union[int") and not isinstance(value, int | float):
            problems.append(f"{where}: {value!r} is not a number")
        elif annotation.startswith("typing.Union[str") and not isinstance(value, str):
            problems.append(f"{where}: {value!r} is not a string")
        return
    if isinstance(value, str) and annotation.startswith("typing.Union[str,"):
        return  # a JSON document where the SDK accepts either text or a typed mapping
    if not isinstance(value, dict):
        problems.append(f"{where}: expected a mapping ({', '.join(sorted(refs))}), got {value!r}")
        return
    (ref,) = refs
    args_class = getattr(module, ref)
    props = _properties(args_class)
    for key, item in value.items():
        if key not in props:
            problems.append(
                f"{where}.{key}: not a field of {ref} (fields: {', '.join(sorted(props))})"
            )
        else:
            _check(props[key][1], item, f"{where}.{key}", module, problems)
    for key in sorted(_required(args_class) - set(value)):
        problems.append(f"{where}: required field {key} of {ref} is missing")


def _plain(value: Any, project: Path) -> Any:
    """`value` as plain, deterministic JSON data: assets become their path and content hash,
    secrets `[secret]`, and whole numbers (the runtime sends every number as a float) ints."""
    if isinstance(value, dict) and value.get(SECRET_SIG) == SECRET_VALUE_SIG:
        return "[secret]"
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, pulumi.FileAsset):
        path = Path(str(value.path))
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        return f"file {path.relative_to(project).as_posix()} sha256:{digest}"
    if isinstance(value, pulumi.AssetArchive):
        files = sorted((name, _plain(asset, project)) for name, asset in value.assets.items())
        return "archive " + ", ".join(f"{name}={plain}" for name, plain in files)
    if isinstance(value, dict):
        return {key: _plain(item, project) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item, project) for item in value]
    return value


class RecordingMocks(pulumi.runtime.Mocks):
    """Mocks that record each resource and answer with the outputs the programs read."""

    def __init__(self, project: Path, region: str) -> None:
        self.project = project
        self.region = region
        self.resources: list[dict[str, Any]] = []
        self.problems: list[str] = []
        self.dependencies: dict[str, list[str]] = {}
        """`type name` of each resource -> `type name` of every resource it waits for (its
        inputs' resources and its depends_on), as the engine would order their creation."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        resource_id, outputs = self.outputs(args.typ, args.name, dict(args.inputs))
        outputs = {**args.inputs, **outputs}
        outputs.setdefault("name", args.name)
        # Validate what the program passed; record it as plain data a reviewer can read.
        self.problems += nested_problems(args.typ, args.inputs)
        self.resources.append(
            {
                "type": args.typ,
                "name": args.name,
                "inputs": {key: _plain(value, self.project) for key, value in args.inputs.items()},
                "id": resource_id,
                **{k: outputs[k] for k in ("arn", "email") if k in outputs},
            }
        )
        return resource_id, outputs

    def outputs(self, token: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """(id, outputs beyond the inputs) of a new resource."""
        return f"{name}-id", {}

    # The SDK types `call` as returning (outputs, failures), but the mock monitor treats a
    # tuple as the outputs themselves and every data source then fails: return the dict.
    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        return {}


class AwsMocks(RecordingMocks):
    def outputs(self, token: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        service = token.split(":")[1].split("/")[0]
        if token == "aws:s3/bucket:Bucket":
            arn = f"arn:aws:s3:::{inputs['bucket']}"
        else:
            arn = inputs.get("arn", f"arn:aws:{service}:{self.region}:{ACCOUNT_ID}:{name}")
        extra: dict[str, Any] = {"arn": arn}
        if token == "aws:kms/key:Key":
            extra["keyId"] = f"key-{name}"
        return f"{name}-id", extra

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": ACCOUNT_ID,
                "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/ci",
                "userId": "AIDACI",
                "id": ACCOUNT_ID,
            }
        if args.token == "aws:route53/getZone:getZone":
            return {"zoneId": "Z0123456789", "name": args.args["name"], "id": "Z0123456789"}
        return {}


class GcpMocks(RecordingMocks):
    def outputs(self, token: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        project = inputs.get("project", MOCK_PROJECT)
        if token == "gcp:kms/keyRing:KeyRing":
            ring = f"projects/{project}/locations/{inputs['location']}/keyRings/{inputs['name']}"
            return ring, {}
        if token == "gcp:kms/cryptoKey:CryptoKey":
            return f"{inputs['keyRing']}/cryptoKeys/{inputs['name']}", {}
        if token == "gcp:projects/serviceIdentity:ServiceIdentity":
            agent = inputs["service"].split(".")[0]
            return name, {
                "email": f"service-{PROJECT_NUMBER}@gcp-sa-{agent}.iam.gserviceaccount.com"
            }
        if token == "gcp:serviceaccount/account:Account":
            email = f"{inputs['accountId']}@{project}.iam.gserviceaccount.com"
            return email, {"email": email}
        if token == "gcp:storage/bucket:Bucket":
            return inputs["name"], {"url": f"gs://{inputs['name']}"}
        if token == "gcp:sql/databaseInstance:DatabaseInstance":
            # The instance's own service account, which reads imports and writes exports
            # (https://cloud.google.com/sql/docs/postgres/import-export).
            return inputs["name"], {
                "connectionName": f"{project}:{self.region}:{inputs['name']}",
                "serviceAccountEmailAddress": (
                    f"p{PROJECT_NUMBER}-abcdef@gcp-sa-cloud-sql.iam.gserviceaccount.com"
                ),
            }
        return f"{name}-id", {}

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        if args.token == "gcp:storage/getProjectServiceAccount:getProjectServiceAccount":
            email = f"service-{PROJECT_NUMBER}@gs-project-accounts.iam.gserviceaccount.com"
            return {"emailAddress": email, "id": email, "member": f"serviceAccount:{email}"}
        if args.token == (
            "gcp:storage/getTransferProjectServiceAccount:getTransferProjectServiceAccount"
        ):
            email = f"project-{PROJECT_NUMBER}@storage-transfer-service.iam.gserviceaccount.com"
            return {"email": email, "id": email, "member": f"serviceAccount:{email}"}
        return {}


def run_stack(project: Path, stack: str, inputs: dict[str, str]) -> dict[str, Any]:
    """Run `project`'s program as `stack` under mocks; the registered resources and problems."""

    project_name = yaml.safe_load((project / "Pulumi.yaml").read_text())["name"]
    stack_config = yaml.safe_load((project / f"Pulumi.{stack}.yaml").read_text())["config"]
    cloud = "aws" if "aws:region" in stack_config else "gcp"
    region = stack_config[f"{cloud}:region"]
    with warnings.catch_warnings():
        # The SDK warns about its own deprecated classes when a module loads; what must fail is
        # a warning raised by the generated program, so load the modules first.
        warnings.simplefilter("ignore")
        for name in SDK_MODULES[cloud]:
            # Lazy modules load on first real attribute access.
            getattr(importlib.import_module(f"pulumi_{cloud}.{name}"), "_utilities", None)
    mocks = (AwsMocks if cloud == "aws" else GcpMocks)(project, region)
    _record_dependencies(mocks)

    pulumi.runtime.set_mocks(mocks, project=project_name, stack=stack, preview=False)
    pulumi.runtime.set_all_config(
        {
            key if ":" in key else f"{project_name}:{key}": str(value)
            for key, value in {**inputs, **stack_config}.items()
        }
    )
    read: set[str] = set()
    original_get = pulumi.Config._get

    def recording_get(self: pulumi.Config, key: str, *args: Any) -> str | None:
        # Every accessor (get, require, require_secret, get_bool, ...) reads through `_get`.
        read.add(key if self.name == project_name else f"{self.name}:{key}")
        return original_get(self, key, *args)

    pulumi.Config._get = recording_get  # type: ignore[method-assign,assignment]
    sys.path.insert(0, str(project))

    @pulumi.runtime.test  # type: ignore[untyped-decorator]
    def program() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            runpy.run_path(str(project / "__main__.py"), run_name="__main__")

    program()
    resources = sorted(mocks.resources, key=lambda r: (r["type"], r["name"]))
    return {
        "resources": resources,
        "problems": mocks.problems,
        "config_read": sorted(read),
        "dependencies": dict(sorted(mocks.dependencies.items())),
    }


def _record_dependencies(mocks: RecordingMocks) -> None:
    """Keep the dependencies of every registration: the mocks' `new_resource` never sees them,
    and a resource that names another by a plain string is created in parallel with it."""
    monitor = pulumi.runtime.mocks.MockMonitor
    register: Callable[[Any, Any], Any] = monitor.RegisterResource

    def recording(self: Any, request: Any) -> Any:
        urns = set(request.dependencies)
        for property_dependencies in request.propertyDependencies.values():
            urns.update(property_dependencies.urns)
        mocks.dependencies[f"{request.type} {request.name}"] = sorted(
            _type_and_name(urn) for urn in urns
        )
        return register(self, request)

    monitor.RegisterResource = recording  # type: ignore[method-assign]


def _type_and_name(urn: str) -> str:
    """`type name` of `urn:pulumi:STACK::PROJECT::[PARENT$...]TYPE::NAME`."""
    *_, qualified_type, name = urn.split("::")
    return f"{qualified_type.split('$')[-1]} {name}"


def main(argv: list[str]) -> int:
    """`PROJECT_DIR STACK [KEY=VALUE ...]`: print the stack's resources as JSON."""
    project, stack, *pairs = argv
    inputs = dict(pair.split("=", 1) for pair in pairs)
    result = run_stack(Path(project).resolve(), stack, inputs)
    json.dump(result, sys.stdout, indent=1, sort_keys=True, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
