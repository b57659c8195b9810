"""The package as a wheel: the report notebooks and the demo's params ship inside it, and the installed package
finds them (importlib.resources) without the source tree. `.ci/wheel_demo` runs the whole small demo from the
wheel in a fresh venv; these tests check the wheel's contents and the resource look-up."""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from cluster_eval import resources
from cluster_eval.errors import ArgumentError

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = {  # path in the wheel -> the one copy in the repository
    "cluster_eval/notebooks/cluster_report.ipynb": "notebooks/cluster_report.ipynb",
    "cluster_eval/notebooks/national_overview.ipynb": "notebooks/national_overview.ipynb",
    "cluster_eval/params/demo.yaml": "params/demo.yaml",
    "cluster_eval/indicators/catalogue.yaml": "cluster_eval/indicators/catalogue.yaml",
    "cluster_eval/report/locale/da/LC_MESSAGES/cluster_eval.po": "cluster_eval/report/locale/da/LC_MESSAGES/cluster_eval.po",
}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    if importlib.util.find_spec("pip") is None:
        pytest.skip("pip is not installed: cannot build the wheel")
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"   # a copy, so the build writes nothing into the checkout
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")
    for name in ("cluster_eval", "notebooks", "params"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--disable-pip-version-check",
                           "--wheel-dir", str(tmp / "dist"), str(src)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (whl,) = (tmp / "dist").glob("cluster_eval-*.whl")
    return whl


def test_wheel_ships_the_notebooks_demo_params_and_catalogue_unchanged(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        for inside, repo in SHIPPED.items():
            assert inside in names, f"{inside} is not in the wheel"
            assert z.read(inside) == (ROOT / repo).read_bytes(), f"{inside} differs from {repo}"
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        assert "cluster-eval = cluster_eval.cli:main" in z.read(entry_points).decode()


def test_wheel_holds_every_module_of_the_package(wheel):
    """pyproject.toml lists the packages (two are mapped folders): a new subpackage must be added there."""
    source = {p.relative_to(ROOT).as_posix() for p in (ROOT / "cluster_eval").rglob("*.py")
              if "__pycache__" not in p.parts}
    with zipfile.ZipFile(wheel) as z:
        missing = source - set(z.namelist())
    assert not missing, f"not in the wheel (add the subpackage to [tool.setuptools] packages): {sorted(missing)}"


def test_installed_package_finds_its_files_without_the_source_tree(wheel, tmp_path):
    """Unpacked wheel first on the path, run from a folder outside the repository: every shipped file is found
    inside the installed package, and the report config points at those notebooks."""
    target = tmp_path / "site"
    with zipfile.ZipFile(wheel) as z:
        z.extractall(target)
    code = ("import cluster_eval, cluster_eval.resources as r, cluster_eval.report.config as c, "
            "cluster_eval.report.demo_run as d\n"
            "print(cluster_eval.__file__); print(r.notebook_path('cluster_report.ipynb')); "
            "print(r.demo_params_path()); print(c.NOTEBOOK_DIR); print(d.DEMO_PARAMS); print(r.demo_params()['run_name'])\n"
            "from cluster_eval.data.mapping import expand_path; print(expand_path('{root}/outputs/x', r.project_root()))\n"
            "import cluster_eval.report.i18n as i; print(i.po_path('da')); print(i.translations('da')['improved'])")
    env = {**os.environ, "PYTHONPATH": str(target)}
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    pkg = target / "cluster_eval"
    assert proc.stdout.split("\n")[:6] == [str(pkg / "__init__.py"), str(pkg / "notebooks" / "cluster_report.ipynb"),
                                           str(pkg / "params" / "demo.yaml"), str(pkg / "notebooks"),
                                           str(pkg / "params" / "demo.yaml"), "demo"]
    # {root} in a params file: the folder the command runs from, not site-packages
    assert proc.stdout.split("\n")[6] == str((tmp_path / "outputs" / "x").resolve())
    # the Danish message catalogue is read from the installed package
    assert proc.stdout.split("\n")[7:9] == [str(pkg / "report" / "locale" / "da" / "LC_MESSAGES" / "cluster_eval.po"),
                                            "forbedret"]


def test_source_checkout_uses_the_top_level_notebooks_and_params():
    assert resources.notebook_dir() == ROOT / "notebooks"
    assert resources.notebook_path("national_overview.ipynb") == ROOT / "notebooks" / "national_overview.ipynb"
    assert resources.demo_params_path() == ROOT / "params" / "demo.yaml"
    assert resources.demo_params()["impact"]["confidence"] == 0.95
    assert resources.project_root() == ROOT


def test_unknown_notebook_name_is_refused():
    with pytest.raises(ArgumentError, match=r"^no shipped notebook 'overview.ipynb'; the package ships "
                                            r"cluster_report.ipynb, national_overview.ipynb$"):
        resources.notebook_path("overview.ipynb")


def test_ce_namespace_has_audit_and_no_broken_names():
    import cluster_eval as ce

    for name in ce._SUBMODULES:
        assert getattr(ce, name).__name__ == f"cluster_eval.{name}"
    assert "audit" in ce._SUBMODULES
    with pytest.raises(AttributeError, match="has no attribute 'config'"):
        ce.config  # noqa: B018
