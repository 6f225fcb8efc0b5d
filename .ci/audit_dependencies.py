"""Dependency advisories for CI: pip-audit, then the package index's own advisory list.

pip-audit asks the index for each installed version (``/pypi/NAME/VERSION/json``). Where that
answer cannot be had (some mirrors serve only the project pages), a dependency installed at the
index's latest release is checked against the advisories the project page lists for that release.
A dependency neither could check is named as NOT audited, and so is an unreachable index: a
network failure is said loudly, never passed off as a clean audit nor failed as a finding.

Exit status: 1 when a known vulnerability is found, 0 otherwise (the summary says what was not
checked). Run: ``python .ci/audit_dependencies.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from importlib import metadata

INDEX = "https://pypi.org/pypi"
TIMEOUT_SECONDS = 15


def _installed() -> dict[str, str]:
    return {
        dist.metadata["Name"].lower().replace("_", "-"): dist.version
        for dist in metadata.distributions()
    }


def _pip_audit() -> dict[str, list[str] | None]:
    """Per dependency: its advisory ids, or None when pip-audit could not audit it."""
    run = subprocess.run(  # our interpreter running pip-audit with fixed arguments
        [sys.executable, "-m", "pip_audit", "--progress-spinner", "off", "-s", "pypi",
         "-f", "json"],
        capture_output=True, text=True, check=False,
    )
    try:
        report = json.loads(run.stdout)
    except json.JSONDecodeError:
        print(f"pip-audit gave no report (exit {run.returncode}): {run.stderr.strip()[-300:]}")
        return {}
    return {
        dep["name"].lower(): (None if "skip_reason" in dep
                              else [v["id"] for v in dep.get("vulns", [])])
        for dep in report["dependencies"]
    }


def _latest_advisories(name: str) -> tuple[str, list[str]]:
    """The index's latest release of ``name`` and the advisories its project page lists."""
    with urllib.request.urlopen(f"{INDEX}/{name}/json", timeout=TIMEOUT_SECONDS) as answer:  # noqa: S310 - a fixed https URL
        page = json.load(answer)
    return page["info"]["version"], [v["id"] for v in page.get("vulnerabilities") or []]


def main() -> int:
    installed = _installed()
    audited = _pip_audit()
    vulnerable: dict[str, list[str]] = {n: ids for n, ids in audited.items() if ids}
    by_pip_audit = sum(1 for ids in audited.values() if ids is not None)
    by_page, not_audited = 0, []
    unreachable = False
    for name in sorted(installed):
        if audited.get(name) is not None:
            continue
        if name == "sanad":
            continue  # this project, not a dependency
        try:
            latest, ids = _latest_advisories(name)
        except urllib.error.HTTPError:
            not_audited.append(f"{name} {installed[name]} (not on the index)")
            continue
        except (urllib.error.URLError, TimeoutError, OSError):
            unreachable = True
            break
        if latest != installed[name]:
            not_audited.append(f"{name} {installed[name]} (index's latest is {latest})")
            continue
        by_page += 1
        if ids:
            vulnerable[name] = ids
    if unreachable:
        print("DEPENDENCIES NOT AUDITED: the package index's advisories could not be reached "
              "from this machine")
    print(f"audited by pip-audit: {by_pip_audit}; against the index's advisories for the "
          f"latest release: {by_page}; not audited: {len(not_audited)}")
    for line in not_audited:
        print(f"  not audited: {line}")
    for name, ids in sorted(vulnerable.items()):
        print(f"VULNERABLE: {name} {installed.get(name, '?')}: {', '.join(ids)}")
    return 1 if vulnerable else 0


if __name__ == "__main__":
    sys.exit(main())
