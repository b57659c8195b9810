"""Rendering: self-contained pages, parameters cells removed, links to other hosts neutralised."""
from __future__ import annotations

import nbformat
import pytest

from cluster_eval.errors import OutputError
from cluster_eval.report.render import check_self_contained, render


def _nb():
    params = nbformat.v4.new_code_cell('run_dir = ""')
    params.metadata["tags"] = ["parameters"]
    injected = nbformat.v4.new_code_cell('run_dir = "/secret/path"')
    injected.metadata["tags"] = ["injected-parameters"]
    shown = nbformat.v4.new_code_cell("print('hi')")
    shown.outputs = [nbformat.v4.new_output("stream", name="stdout", text="visible output\n"),
                     nbformat.v4.new_output("stream", name="stderr", text="a warning\n")]
    md = nbformat.v4.new_markdown_cell("See [the docs](https://example.org/docs) and ![x](data:image/png;base64,AAAA)")
    return nbformat.v4.new_notebook(cells=[params, injected, shown, md])


def test_render_hides_code_parameters_and_stderr():
    html = render(_nb(), "A report")
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert "/secret/path" not in html and "run_dir" not in html
    assert "print(" not in html
    assert "visible output" in html and "a warning" not in html
    assert "<title>A report</title>" in html


def test_links_to_other_hosts_become_text():
    html = render(_nb(), "A report")
    assert "example.org" not in html.split("<body>")[1].split("the docs")[0]
    assert "the docs" in html
    check_self_contained(html)


@pytest.mark.parametrize("snippet", ['<script src="https://cdn.example.org/x.js"></script>',
                                     "<link href='//fonts.example.org/f.css' rel=stylesheet>",
                                     '<img src="http://example.org/a.png">'])
def test_check_self_contained_refuses_other_hosts(snippet):
    with pytest.raises(OutputError, match="would load from another host"):
        check_self_contained(f"<html><body>{snippet}</body></html>")
