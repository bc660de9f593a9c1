"""References: every work the text names is listed, numbered in order of first citation, and only
the works cited are listed."""
import re

import pytest

from experiments.writeup.citations import CITATIONS, cite, number_citations
from experiments.writeup.report import render_html
from experiments.writeup.settings import load_settings


def test_markers_are_numbered_in_order_of_first_citation_and_only_cited_works_are_listed():
    page = f"a {cite('zhou2016')} b {cite('ppa')} c {cite('zhou2016')} <ol><!--REFERENCES--></ol>"
    out = number_citations(page)
    assert 'href="#ref-zhou2016">[1]</a>' in out and 'href="#ref-ppa">[2]</a>' in out
    assert out.index('id="ref-zhou2016"') < out.index('id="ref-ppa"') and out.count("<li") == 2


def test_an_unknown_reference_is_an_error_not_a_silent_gap():
    with pytest.raises(KeyError):
        cite("nobody2099")


@pytest.fixture(scope="module")
def page(fake_results, tmp_path_factory):
    return render_html(fake_results, load_settings(tmp_path_factory.mktemp("s") / "absent.toml"))


def test_every_author_the_report_names_is_in_its_references(page):
    text, refs = page.split('<h2 id="references">')
    named = set(re.findall(r"([A-Z][a-z]+) (?:et al\.|&amp; [A-Z][a-z]+)", re.sub(r"<[^>]+>", " ", text)))
    assert named, "the report names papers"
    for author in named:
        assert author in refs, f"{author} is named in the text but not in the References"


def test_no_marker_is_left_unnumbered_and_the_list_follows_the_text(page):
    assert "[[cite:" not in page
    numbers = [int(n) for n in re.findall(r'class="cite" href="#ref-[a-z0-9]+">\[(\d+)\]', page)]
    firsts = list(dict.fromkeys(numbers))
    assert firsts == list(range(1, len(firsts) + 1)), "numbered in order of first citation"
    listed = re.findall(r'<li id="ref-([a-z0-9]+)">', page)
    assert len(listed) == len(firsts) and set(listed) <= set(CITATIONS)
