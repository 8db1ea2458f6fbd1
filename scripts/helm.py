#!/usr/bin/env python3
"""Helm's own engine without the helm binary, through helm-python-sdk (Helm v4's library).

    scripts/helm.py install|template NAME CHART [--set K=V] [--set-string K=V] [--set-json K=J]
                    [-f VALUES.yaml] [-n NAMESPACE] [--create-namespace]
        prints the manifests the release would apply, as `helm template` does (nothing is
        installed: no cluster is contacted);
    scripts/helm.py lint CHART [value flags]
        Helm's lint, with those values; exit 1 on an error;
    scripts/helm.py check [--kube-versions 1.29.0,1.37.0]
        every `helm install` line of charts/infergate/ci/seed-installs.sh rendered, linted and
        validated strictly (unknown fields are errors) with kubernetes-validate.

Values combine as Helm combines them: the -f files in order (maps merged, the rest replaced), then
each --set-json, --set and --set-string parsed into the result (so `stages[0].duration=600` changes
that item of a list a values file gave). Exit codes: 0 ok, 1 a lint or validation error, 2 bad
usage or helm-python-sdk missing (`pip install helm-python-sdk`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "charts" / "infergate" / "ci" / "seed-installs.sh"
KUBE_VERSIONS = "1.29.0,1.37.0"

try:
    import helm_python as helm
except ImportError:
    print("helm-python-sdk not found: pip install helm-python-sdk", file=sys.stderr)
    sys.exit(2)
helm.disable_logging()


@contextlib.contextmanager
def quiet_stderr():
    """Helm's Go logger writes to the process's stderr (`found symbolic link in path` for the
    chart's links into the repository); kept back, and shown only when the call fails."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            held.seek(0)
            lines = held.read().decode(errors="replace").splitlines(keepends=True)
            sys.stderr.writelines(l for l in lines if "found symbolic link" not in l)
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def merge_maps(base: dict, over: dict) -> dict:
    """Helm's mergeMaps: maps merge key by key, anything else replaces."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_maps(out[key], value)
        else:
            out[key] = value
    return out


def parse_into(base: Any, parsed: Any) -> Any:
    """What strvals.ParseInto does to `base` with one parsed --set: list items set by index
    change that item only (the parser pads the items before it with None)."""
    if isinstance(parsed, dict) and isinstance(base, dict):
        out = dict(base)
        for key, value in parsed.items():
            out[key] = parse_into(out.get(key), value)
        return out
    if isinstance(parsed, list) and isinstance(base, list):
        out = list(base) + [None] * max(0, len(parsed) - len(base))
        for i, value in enumerate(parsed):
            if value is not None:
                out[i] = parse_into(out[i], value)
        return out
    return parsed


def parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, add_help=False)
    p.add_argument("--set", action="append", default=[], dest="sets")
    p.add_argument("--set-string", action="append", default=[], dest="set_strings")
    p.add_argument("--set-json", action="append", default=[], dest="set_jsons")
    p.add_argument("-f", "--values", action="append", default=[], dest="values")
    p.add_argument("-n", "--namespace", default="default")
    p.add_argument("--create-namespace", action="store_true")
    return p


def values_of(args: argparse.Namespace, base_dir: Path) -> dict:
    values: dict = {}
    for name in args.values:
        path = Path(name) if Path(name).is_absolute() else base_dir / name
        values = merge_maps(values, helm.values_from_yaml(path.read_text()) or {})
    for expression in args.set_jsons:
        values = parse_into(values, helm.parse_set_json(expression))
    for expression in args.sets:
        values = parse_into(values, helm.parse_set_string(expression))
    for expression in args.set_strings:
        values = parse_into(values, helm.parse_set_string_values(expression))
    return values


def render(argv: list[str], base_dir: Path) -> tuple[str, dict, argparse.Namespace, dict]:
    """(chart dir, manifests by template, flags, values) of `install|template NAME CHART ...`."""
    p = parser("helm install")
    p.add_argument("name")
    p.add_argument("chart")
    args = p.parse_args(argv)
    chart = str(ROOT / args.chart) if not Path(args.chart).is_absolute() else args.chart
    values = values_of(args, base_dir)
    with quiet_stderr():
        manifests = helm.Chart.load(chart).render(
            values, name=args.name, namespace=args.namespace, is_install=True
        )
    return chart, manifests, args, values


def documents(manifests: dict) -> str:
    """The manifests as `helm template` prints them (NOTES.txt left out)."""
    out = []
    for path in sorted(manifests):
        text = manifests[path].strip()
        if path.endswith("NOTES.txt") or not text:
            continue
        out.append(f"---\n# Source: {path}\n{text}\n")
    return "".join(out)


def lint(chart: str, values: dict, namespace: str) -> list[str]:
    with quiet_stderr():
        report = helm.lint(chart, values, strict=True, namespace=namespace)
    problems = [m["error"] for m in report.get("messages", []) if m.get("severity", 0) >= 2]
    return problems + list(report.get("errors") or [])


def seed_invocations() -> list[list[str]]:
    """Each `helm install` line of the seeds file, split as the shell splits it."""
    text = SEEDS.read_text().replace("\\\n", " ")
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return [shlex.split(line) for line in lines]


def check(kube_versions: list[str]) -> int:
    try:
        from kubernetes_validate.utils import validate_resource
    except ImportError:
        print("kubernetes-validate not found: pip install kubernetes-validate", file=sys.stderr)
        return 2
    import yaml

    failed = 0
    invocations = seed_invocations()
    for argv in invocations:
        if argv[:2] != ["helm", "install"]:
            print(f"error: {SEEDS}: not a `helm install` line: {' '.join(argv)}", file=sys.stderr)
            return 2
        shown = " ".join(argv[2:4] + [a for a in argv[4:] if a.startswith(("benchmark.", "my-", "custom-"))])
        chart, manifests, args, values = render(argv[2:], SEEDS.parent)
        problems = lint(chart, values, args.namespace)
        resources = [d for d in yaml.safe_load_all(documents(manifests)) if d]
        rc = 0
        for version in kube_versions:
            for resource in resources:
                rc |= validate_resource(resource, shown, version, True, True, False)
        for problem in problems:
            print(f"lint: {shown}: {problem}")
        if rc or problems:
            failed += 1
        else:
            kinds = ", ".join(sorted(r["kind"] for r in resources))
            print(f"chart: {shown}: renders ({kinds}), lints and validates "
                  f"(--strict, Kubernetes {' '.join(kube_versions)})")
    return 1 if failed else 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    try:
        if command in ("install", "template"):
            _, manifests, _, _ = render(rest, Path.cwd())
            sys.stdout.write(documents(manifests))
            return 0
        if command == "lint":
            p = parser("helm lint")
            p.add_argument("chart")
            args = p.parse_args(rest)
            problems = lint(args.chart, values_of(args, Path.cwd()), args.namespace)
            for problem in problems:
                print(problem)
            return 1 if problems else 0
        if command == "check":
            p = argparse.ArgumentParser(prog="scripts/helm.py check")
            p.add_argument("--kube-versions", default=KUBE_VERSIONS)
            return check(p.parse_args(rest).kube_versions.split(","))
    except helm.HelmError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"unknown command `{command}`: use install, template, lint or check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
