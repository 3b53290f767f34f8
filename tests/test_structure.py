"""One test module per source module: every module of monitord/, collectors/ and alerting/
has tests/<the same path>/test_<its name>.py (package files, ``__main__`` and the
migrations aside)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import ROOT

PACKAGES = ("monitord", "collectors", "alerting")
EXEMPT_NAMES = ("__init__.py", "__main__.py")
EXEMPT_FOLDERS = (Path("monitord/store/migrations"),)

# Modules whose tests still live in their group's test modules (none now): each is
# to get its own test module, and this list only shrinks.
PENDING: frozenset[str] = frozenset()


def source_modules() -> list[Path]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            module = path.relative_to(ROOT)
            if module.name in EXEMPT_NAMES:
                continue
            if any(folder in module.parents for folder in EXEMPT_FOLDERS):
                continue
            found.append(module)
    return found


def expected_tests(module: Path) -> Path:
    return ROOT / "tests" / module.parent / f"test_{module.name}"


def test_every_source_module_has_its_expected_tests() -> None:
    modules = source_modules()
    assert len(modules) > 100
    missing = [str(m) for m in modules if not expected_tests(m).is_file()]
    assert sorted(set(missing) - PENDING) == [], "no tests/<same path>/test_<name>.py"


def test_the_pending_list_only_shrinks() -> None:
    """A module listed as pending that has its test module now, or is gone, leaves the
    list."""
    modules = {str(m) for m in source_modules()}
    done = sorted(m for m in PENDING if m not in modules or expected_tests(Path(m)).is_file())
    assert done == [], "take these out of PENDING"
