"""``cluster-eval demo``: a synthetic Denmark, then the whole pipeline on it (params/demo.yaml's settings)."""
from __future__ import annotations

import json
from pathlib import Path

import yaml

from ..errors import ConfigError
from ..resources import demo_params_path
from .config import PROJECT_ROOT

DEMO_PARAMS = demo_params_path()   # shipped with the package (cluster_eval/resources.py)
DEMO_SEED = 2018
#: the demo scales that write PDFs unless told otherwise: the full Denmark demo (the small one stays quick)
PDF_SCALES = ("denmark",)


def demo_params(out_dir, scale: str = "denmark", pdf: bool | None = None, language: str | None = None) -> dict:
    """params/demo.yaml with its data and output pointing into ``out_dir``; ``report.pdf`` is ``pdf``, or by
    default on for the scales in :data:`PDF_SCALES`; ``report.language`` is ``language`` when given (else the
    params' own, Danish)."""
    params = yaml.safe_load(DEMO_PARAMS.read_text(encoding="utf-8")) or {}
    out = Path(out_dir).resolve()
    params["data"] = str(out / "data")
    params["output"] = str(out / "reports")
    params["run_name"] = f"demo-{scale}"
    params["_base"] = str(PROJECT_ROOT)
    params["report"] = {**(params.get("report") or {}), "pdf": scale in PDF_SCALES if pdf is None else bool(pdf)}
    if language is not None:
        params["report"]["language"] = language
    return params


def ensure_data(out_dir, scale: str = "denmark", seed: int = DEMO_SEED, quiet: bool = False) -> Path:
    """Write the synthetic data folder unless an identical one (scale, seed, version) is already there."""
    from .. import __version__, synthetic

    data = Path(out_dir).resolve() / "data"
    stamp = data / ".generated.json"
    want = {"scale": scale, "seed": seed, "version": __version__}
    try:
        if json.loads(stamp.read_text()) == want:
            return data
    except (OSError, ValueError):
        pass
    if not quiet:
        import sys

        print(f"cluster-eval demo: writing the synthetic Denmark ({scale}) to {data} ...", file=sys.stderr)
    synthetic.write(str(data), scale=scale, seed=seed)
    stamp.write_text(json.dumps(want))
    return data


def demo(out_dir="outputs/demo", scale: str = "denmark", quiet: bool = False, jobs=None, force: bool = False,
         pdf: bool | None = None, language: str | None = None) -> int:
    """Generate the synthetic data into ``out_dir/data`` and run every report into ``out_dir/reports`` (with
    A4 PDFs when ``pdf``; by default for the Denmark scale only), in ``language`` ("da" or "en"; default the
    demo params' Danish)."""
    from ..synthetic.generator import SCALES
    from .runner import run

    if scale not in SCALES:
        raise ConfigError(f"scale must be one of {', '.join(map(repr, SCALES))}; got {scale!r}")
    params = demo_params(out_dir, scale, pdf, language)
    if params["report"]["pdf"]:
        from .pdf import check_available

        check_available()   # before the synthetic data are written
    ensure_data(out_dir, scale=scale, quiet=quiet)
    return run(params, jobs=jobs, force=force, quiet=quiet, language=language)
