"""Fails (exit 1) unless every Beam version the template depends on is the same one.

    python templates/check_beam_pin.py --setup setup.py --requirements templates/requirements.txt \
        [--dockerfile templates/Dockerfile] [--expect X.Y.Z] [--installed] [--resolved REPORT.json]
    python templates/check_beam_pin.py --setup setup.py --print      # the pin alone (templates/Makefile)

Compares setup.py's BEAM_VERSION, the apache-beam pin of the image's requirements, the
Dockerfile's default BEAM_VERSION build argument, the version the build was asked for, and
(with --installed, inside the image) the apache_beam actually installed, and (with --resolved)
the apache-beam a `pip install --dry-run --report` resolved. The one parser of the pin: run by
the image build, templates/Makefile, .ci/run and tests/test_templates.py.
"""

from __future__ import annotations

import argparse
import re
import sys


def setup_pin(text: str) -> str:
    return re.search(r'^BEAM_VERSION = "([^"]+)"', text, re.M).group(1)


def requirements_pin(text: str) -> str:
    return re.search(r"^apache-beam(?:\[[^\]]*\])?==([^\s;#]+)", text, re.M).group(1)


def dockerfile_pin(text: str) -> str:
    return re.search(r"^ARG BEAM_VERSION=(\S+)", text, re.M).group(1)


def versions(args) -> dict[str, str]:
    found = {"setup.py": setup_pin(open(args.setup).read())}
    if args.requirements:
        found["requirements"] = requirements_pin(open(args.requirements).read())
    if args.dockerfile:
        found["Dockerfile"] = dockerfile_pin(open(args.dockerfile).read())
    if args.expect:
        found["build argument"] = args.expect
    if args.installed:
        import apache_beam

        found["installed"] = apache_beam.__version__
    if args.resolved:
        import json

        report = json.load(open(args.resolved))
        beam = [i["metadata"]["version"] for i in report["install"] if i["metadata"]["name"] == "apache-beam"]
        found["resolved"] = ",".join(beam) or "none"
    return found


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--setup", required=True)
    p.add_argument("--requirements")
    p.add_argument("--dockerfile")
    p.add_argument("--expect")
    p.add_argument("--installed", action="store_true")
    p.add_argument("--resolved", help="a pip --report JSON file: the apache-beam it resolved")
    p.add_argument("--print", action="store_true", help="print setup.py's pin and exit")
    args = p.parse_args(argv)
    if args.print:
        print(setup_pin(open(args.setup).read()))
        return 0
    found = versions(args)
    if len(set(found.values())) != 1:
        print("Beam versions disagree: " + ", ".join(f"{k}={v}" for k, v in found.items()), file=sys.stderr)
        return 1
    print(f"Beam {next(iter(found.values()))} everywhere ({', '.join(found)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
