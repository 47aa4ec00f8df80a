#!/usr/bin/env python3
"""Generate the Python protobuf (and gRPC) modules beside the .proto files under corelib/api/.

    python scripts/genproto.py          # regenerate in place
    python scripts/genproto.py --check  # exit 1 if the committed generated code is stale

Proto import paths are rooted at the repository (`import "corelib/api/..."`), so the generated
modules import each other as `corelib.api...`. gRPC stubs are made only for the services containerd
serves over gRPC; the shim's task service and the shim-facing events endpoint travel over ttrpc,
for which corelib.ttrpc dispatches on the service descriptors directly.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
API = REPO / "corelib" / "api"
GRPC_SERVICES = API / "containerd" / "services"
TTRPC_ONLY = GRPC_SERVICES / "ttrpc"


def proto_files() -> list[Path]:
    return sorted(API.rglob("*.proto"))


def wants_grpc(proto: Path) -> bool:
    return proto.is_relative_to(GRPC_SERVICES) and not proto.is_relative_to(TTRPC_ONLY)


def generate(out: Path) -> None:
    import grpc_tools
    from grpc_tools import protoc

    include = Path(grpc_tools.__file__).parent / "_proto"
    protos = [str(p.relative_to(REPO)) for p in proto_files()]
    grpc_protos = [str(p.relative_to(REPO)) for p in proto_files() if wants_grpc(p)]
    base = ["protoc", f"-I{REPO}", f"-I{include}"]
    if protoc.main([*base, f"--python_out={out}", f"--pyi_out={out}", *protos]) != 0:
        raise SystemExit("protoc failed")
    if protoc.main([*base, f"--grpc_python_out={out}", *grpc_protos]) != 0:
        raise SystemExit("protoc (grpc) failed")
    for directory in {p.parent for p in (out / "corelib" / "api").rglob("*.py")}:
        for d in [directory, *directory.parents]:
            if d == out:
                break
            (d / "__init__.py").touch()


def generated_files(root: Path) -> list[Path]:
    api = root / "corelib" / "api"
    return sorted(p.relative_to(root) for p in api.rglob("*") if p.suffix in (".py", ".pyi") and "_pb2" in p.name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        generate(out)
        fresh = generated_files(out)
        if args.check:
            stale = [str(f) for f in fresh if not (REPO / f).exists() or not filecmp.cmp(out / f, REPO / f, False)]
            extra = sorted(set(map(str, generated_files(REPO))) - set(map(str, fresh)))
            for f in stale + extra:
                print(f"stale: {f}", file=sys.stderr)
            return 1 if stale or extra else 0
        for old in generated_files(REPO):
            (REPO / old).unlink()
        for f in fresh:
            (REPO / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(out / f, REPO / f)
        for init in (out / "corelib" / "api").rglob("__init__.py"):
            target = REPO / init.relative_to(out)
            if not target.exists():
                target.touch()
    return 0


if __name__ == "__main__":
    sys.exit(main())
