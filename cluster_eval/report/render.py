"""Executed notebook -> one self-contained HTML file (code hidden, no request to any other host).

nbconvert's ``basic`` template (cells only, no CDN scripts, fonts, MathJax or require.js) inside a
small page of our own with inline CSS. Images are embedded as ``data:`` URIs. The injected-parameters
and parameters cells and stderr streams are dropped. :func:`check_self_contained` verifies that no
``src``/``href`` points at another host.
"""
from __future__ import annotations

import html
import re

import nbformat

from ..errors import OutputError
from .i18n import _, language

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;max-width:1080px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.7em;border-bottom:2px solid #b2182b;padding-bottom:.2em}h2{font-size:1.35em;margin-top:1.6em;
border-bottom:1px solid #ddd}h3{font-size:1.1em;margin-top:1.3em}
table{border-collapse:collapse;margin:.6em 0;font-size:.85em}th,td{border-bottom:1px solid #ddd;padding:.25em .6em;
text-align:left;vertical-align:top}th{background:#f4f4f4}img,svg{max-width:100%;height:auto}
.jp-InputPrompt,.jp-OutputPrompt,.prompt{display:none}.ce-foot{color:#595959;font-size:.8em;margin-top:3em}
a{color:#2166ac}.failed{color:#b2182b;font-weight:bold}.ok{color:#1a7f37}
"""
EXTERNAL = re.compile(r"""\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)
REMOVE_TAGS = {"injected-parameters", "parameters", "remove-cell"}
TABLE_PART = re.compile(r"<(thead|tbody|tfoot)\b[^>]*>.*?</\1>", re.IGNORECASE | re.DOTALL)
TH = re.compile(r"<th\b(?![^>]*\bscope=)", re.IGNORECASE)

# the cluster report's first screen (report/first_screen.py) and its small print
CSS += """.ce-sub{margin:.2em 0;color:#444}.ce-intro,.ce-note,.ce-small{font-size:.85em;color:#555;margin:.3em 0}
.ce-note ul{margin:.3em 0;padding-left:1.2em}.ce-lead{margin:.6em 0 .2em}.ce-topics td,.ce-topics th{font-size:.9em;line-height:1.3}
.ce-next{margin:.5em 0}.ce-next ul{margin:.2em 0;padding-left:1.2em}.ce-when{font-weight:normal;color:#555}
.ce-meeting{border-left:4px solid #2166ac;background:#f2f6fb;padding:.3em 1em .4em;margin:.6em 0}
.ce-meeting h2{font-size:1.1em;margin:.3em 0;border:0}.ce-meeting ol{margin:.2em 0;padding-left:1.3em;line-height:1.35}
"""

# print (the A4 PDFs, report/pdf.py): no figure or table row split across pages, headings kept with what follows,
# tables in small type with short cells on one line (long tables, e.g. the overview's every-cluster tables)
PRINT_CSS = """@page{size:A4}
@media print{body{max-width:none;margin:0;padding:0;font-size:10pt;line-height:1.35}
h1,h2,h3,h4{break-after:avoid;page-break-after:avoid}
svg,img,figure,table,.jp-RenderedSVG,.jp-RenderedImage,.jp-RenderedHTMLCommon table,.ce-meeting{break-inside:avoid;
page-break-inside:avoid}tr,li{break-inside:avoid}thead{display:table-header-group}
table{font-size:7pt}th,td{padding:0 4px;line-height:1.2}.ce-nw{white-space:nowrap}
svg,img{max-height:255mm;width:auto;max-width:100%}a{color:inherit;text-decoration:none}.ce-foot{display:none}}
"""
#: a table cell of plain short text (a number, an interval, a name): kept on one line in print
SHORT_TD = re.compile(r"<td>([^<>]{1,40})</td>")

_exporter = None
#: an ``<img>`` tag without an ``alt`` attribute
IMG_NO_ALT = re.compile(r"<img\b(?![^>]*\salt\s*=)", re.IGNORECASE)


def _exporter_class():
    """nbconvert's HTMLExporter without its last step, which re-parses the whole page with BeautifulSoup to add
    ``alt`` to images without one and ``tabindex`` to the lab template's cells, then re-serialises it: with a
    report's inline SVG figures that pass was 95 % of the rendering (0.4 s CPU for a Denmark cluster report). The
    basic template has no such cells, and :func:`render` gives images without ``alt`` one in the report's
    language; the page is the same HTML (tests/report/test_report_cost.py passes it through the same re-parse
    and compares)."""
    from nbconvert import HTMLExporter
    from nbconvert.exporters.templateexporter import TemplateExporter
    from nbconvert.filters.highlight import Highlight2HTML
    from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

    class Exporter(HTMLExporter):
        def from_notebook_node(self, nb, resources=None, **kw):   # HTMLExporter's, less the BeautifulSoup pass
            langinfo = nb.metadata.get("language_info", {})
            lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
            self.register_filter("highlight_code", self.filters.get(
                "highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self)))
            resources = self._init_resources(resources)
            self.register_filter("filter_data_type", WidgetsDataTypeFilter(
                notebook_metadata=self._nb_metadata, parent=self, resources=resources))
            return TemplateExporter.from_notebook_node(self, nb, resources, **kw)

    return Exporter


def _get_exporter():
    global _exporter
    if _exporter is None:
        ex = _exporter_class()(template_name="basic")
        ex.exclude_input = True
        ex.exclude_input_prompt = True
        ex.exclude_output_prompt = True
        ex.exclude_anchor_links = True   # empty links a screen reader would announce
        _exporter = ex
    return _exporter


def header_scopes(text: str) -> str:
    """Every table header cell gets its scope: ``scope="col"`` in a table head, ``scope="row"`` in a body
    (pandas' index cells), so a screen reader reads each cell with its headers."""
    def part(m):
        scope = "col" if m.group(1).lower() == "thead" else "row"
        return TH.sub(f'<th scope="{scope}"', m.group(0))

    return SHORT_TD.sub(r'<td class="ce-nw">\1</td>', TABLE_PART.sub(part, text))


def page(title: str, body: str, footer: str = "", lang: str = "en") -> str:
    """A complete HTML page around ``body`` in language ``lang`` (``<html lang>``), with the inline stylesheet
    (screen and print) and header scopes."""
    foot = f'<footer class="ce-foot">{footer}</footer>' if footer else ""
    return (f'<!DOCTYPE html>\n<html lang="{html.escape(lang)}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{CSS}{PRINT_CSS}</style></head>\n<body>\n<main>\n{header_scopes(body)}"
            f"\n</main>\n{foot}\n</body></html>\n")


def strip_cells(nb):
    """Drop parameter cells and stderr streams (warnings are for the log, not the reader)."""
    cells = []
    for cell in nb.cells:
        tags = set(cell.get("metadata", {}).get("tags", []))
        if tags & REMOVE_TAGS:
            continue
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.get("outputs", [])
                            if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
        cells.append(cell)
    nb.cells = cells
    return nb


def check_self_contained(text: str, where: str = "report") -> None:
    """Refuse HTML with a ``src``/``href`` pointing at another host (http://, https:// or //)."""
    m = EXTERNAL.search(text)
    if m:
        start = max(0, m.start() - 60)
        raise OutputError(f"{where} would load from another host: ...{text[start:m.end() + 60]}...")


def render(nb_or_path, title: str, footer: str = "", lang: str = "en") -> str:
    """Render an executed notebook to one self-contained HTML page (a string) in language ``lang``."""
    nb = nbformat.read(str(nb_or_path), as_version=4) if not hasattr(nb_or_path, "cells") else nb_or_path
    nb = strip_cells(nb)
    body, _resources = _get_exporter().from_notebook_node(nb)
    # an image without a description (nbconvert's exporter would add an English placeholder): a word in the
    # report's language
    with language(lang):
        alt = html.escape(_("Figure"))
    body = IMG_NO_ALT.sub(f'<img alt="{alt}"', body)
    # links a reader's browser would follow to other hosts become plain text
    body = re.sub(r"""<a\s[^>]*href\s*=\s*["']?(?:https?:)?//[^>]*>(.*?)</a>""", r"\1", body,
                  flags=re.IGNORECASE | re.DOTALL)
    text = page(title, body, footer, lang=lang)
    check_self_contained(text, title)
    return text
