"""The report renders from results files alone, answers every problem, and explains what is missing."""
import json
import re
import shutil
import subprocess
from html import unescape

import pytest
from pypdf import PdfReader

from experiments.engine.errors import UserError
from experiments.engine.paths import REPO
from experiments.writeup.reflection import read_reflection
from experiments.writeup.report import render, render_html
from experiments.writeup.settings import load_settings, settings_digest


def _settings(tmp_path, **overrides):
    return load_settings(tmp_path / "absent.toml", **overrides)


@pytest.fixture(scope="module")
def pdf(fake_results, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    return render(fake_results, tmp / "report", load_settings(tmp / "absent.toml"))


@pytest.fixture
def results_copy(fake_results, tmp_path):
    return shutil.copytree(fake_results, tmp_path / "results")


def test_pdf_answers_all_six_problems_with_nothing_unrendered(pdf):
    reader = PdfReader(pdf)
    text = "\n".join(page.extract_text() for page in reader.pages)
    for n in range(1, 7):
        assert f"Problem {n}" in text
    for bad in (r"\b[Nn]a[Nn]\b", r"\bNone\b", r"\{\{", r"\{%"):  # whole words: "provenance" is fine
        assert not re.search(bad, text), f"{bad!r} leaked into the report"
    assert pdf.stat().st_size < 10 * 2 ** 20 and (pdf.parent / "report.html").exists()


def _first_page(pages: list[str], heading: str) -> int:
    """The first page after the table of contents with a line starting with `heading`."""
    return next(i for i, text in enumerate(pages, 1) if i > 1 and any(line.startswith(heading)
                                                                      for line in text.split("\n")))


def test_answers_come_first_and_the_main_body_answers_in_12_pages(pdf):
    """Issue 29: a summary answering every item on pages 1-2, then the homework in at most 12 pages;
    method, measurement tables, the search, the audit and the build record in appendices after it."""
    pages = [page.extract_text() for page in PdfReader(pdf).pages]
    assert "Answers in brief" in pages[0] and "P6" in pages[0] + pages[1]
    body, appendix = _first_page(pages, "Problem 1: a 2-D convolution"), _first_page(pages, "Appendix A: the training")
    assert body <= 3, "the homework starts after the answers, by page 3"
    assert appendix - body <= 12, f"main body of {appendix - body} pages"
    for heading in ("Appendix B: the search", "Appendix C: filters", "Appendix D: the data audit",
                    "Appendix E: how this report was built"):
        assert _first_page(pages, heading) >= appendix


def _drop_fit_rule(results):
    gabor = results / "interpret" / "gap" / "gabor.json"
    record = json.loads(gabor.read_text())
    del record["fit_rule"]  # as a features stage built before the key existed wrote it
    gabor.write_text(json.dumps(record))


def test_results_built_by_older_code_missing_a_value_say_how_to_rebuild(results_copy, tmp_path):
    _drop_fit_rule(results_copy)
    record_file = results_copy / ".pipeline" / "features-gap.json"
    # the stage's record names the code it ran: a file whose content has changed since
    record_file.write_text(json.dumps({"hash": "1" * 20, "parts": {"code": {"experiments/interpret/gabor.py": "0" * 16}},
                                       "seconds": 1.0}))
    with pytest.raises(UserError, match="fit_rule.*features-gap were built by older code.*invoke status.*invoke all"):
        render_html(results_copy, _settings(tmp_path))


def test_a_missing_value_in_results_from_the_current_code_is_a_bug_report_naming_the_template_line(results_copy,
                                                                                                   tmp_path):
    _drop_fit_rule(results_copy)
    with pytest.raises(UserError) as err:
        render_html(results_copy, _settings(tmp_path))
    message = str(err.value)
    name, line = re.search(r"templates/(\w+\.html\.j2) line (\d+)", message).groups()
    source = (REPO / "templates" / name).read_text().splitlines()[int(line) - 1]
    assert "fit_rule" in source, "the line named is the one that reads the missing value"
    assert "bug in cnn-report" in message and "older code" not in message and "\n" not in message


def _search_with_user_models(results, lr: float = 0.24) -> None:
    """Each family's search as a build with [models.NAME] tables of family and widths only writes
    it: `mine-<family>` trained; `wild-<family>` diverged at the search's rate."""
    from experiments.build.overrides import user_models
    from experiments.training.models import build_model, describe
    for family in ("dense", "gap"):
        search_file = results / "search" / family / "search.json"
        record = json.loads(search_file.read_text())
        models = user_models({f"mine-{family}": {"family": family, "widths": [16, 32]},
                              f"wild-{family}": {"family": family, "widths": [8]}}, "test")
        info = {name: describe(build_model(cfg)) for name, cfg in models.items()}
        record["budget"]["lr"] = lr
        record["candidates"] += [
            {"name": f"mine-{family}", "model": models[f"mine-{family}"], "val_acc": 0.41, "trained": True,
             "diverged": False, "lr": lr, "params": info[f"mine-{family}"]["params"],
             "flops": info[f"mine-{family}"]["flops"], "seconds": 3.0, "projected_final_minutes": 1.0},
            {"name": f"wild-{family}", "model": models[f"wild-{family}"], "val_acc": None, "trained": True,
             "diverged": True, "lr": lr, "divergence": "validation loss 1.9e+06", "params": info[f"wild-{family}"]["params"],
             "flops": info[f"wild-{family}"]["flops"], "seconds": None, "projected_final_minutes": 0.5}]
        search_file.write_text(json.dumps(record))


def test_the_report_lists_a_users_minimal_architecture_with_its_stem_and_a_diverged_one_as_diverged(results_copy,
                                                                                                   tmp_path):
    _search_with_user_models(results_copy, lr=0.24)
    html = render_html(results_copy, _settings(tmp_path))
    for family in ("dense", "gap"):
        row = re.search(rf"<tr><td>mine-{family}</td>.*?</tr>", html).group(0)
        assert "<td>3×3</td>" in row, "the default stem, as the search table shows any other"
        wild = re.search(rf"<tr><td>wild-{family}</td>.*?</tr>", html).group(0)
        assert "diverged at lr 0.24" in wild and "%" not in wild, "diverged, with its rate, never an accuracy"
    assert unescape(html).count("wild-dense diverged at the search's learning rate (0.24)") == 1
    assert '<tr class="chosen"><td>wild' not in html


def test_unset_student_name_is_a_visible_placeholder(fake_results, tmp_path):
    html = render_html(fake_results, _settings(tmp_path))
    assert "[Student name — set report.student in cnn-report.toml" in html


def test_student_and_course_come_from_the_settings_file(fake_results, tmp_path):
    config = tmp_path / "cnn-report.toml"
    config.write_text('[report]\nstudent = "Ada Lovelace"\ncourse = "ECE 4/599"\n')
    html = render_html(fake_results, load_settings(config))
    assert "Ada Lovelace" in html and "ECE 4/599" in html and "John Lipor" in html
    assert "Student name" not in html


def test_command_line_overrides_the_settings_file_and_is_remembered(tmp_path):
    config = tmp_path / "cnn-report.toml"
    config.write_text('[report]\nstudent = "From File"\n')
    settings = load_settings(config, student="From Flag", reflection=None)
    assert settings["student"] == "From Flag" and settings["command_line"] == {"student": "From Flag"}
    assert "command_line" not in settings_digest(settings), "where a value came from does not change the report"


def test_unknown_settings_key_is_refused(tmp_path):
    config = tmp_path / "cnn-report.toml"
    config.write_text('[report]\nstudnet = "typo"\n')
    with pytest.raises(UserError, match="unknown \\[report\\] key.*studnet"):
        load_settings(config)


def test_draft_reflection_cites_the_audit_numbers(fake_results, tmp_path):
    html = render_html(fake_results, _settings(tmp_path))
    assert "DRAFT — edit before submitting" in html
    assert "28 of our" in html and "0.56%" in html, "the near-duplicate count and rate come from audit.json"
    assert "3.3%" in html, "compared with ciFAIR's published rate"


def test_run_facts_list_recorded_stage_times(fake_results, tmp_path):
    html = render_html(fake_results, _settings(tmp_path))
    assert re.search(r"<td>final-gap</td><td>50</td>", html), "wall seconds from .pipeline/final-gap.json"


def test_provenance_is_what_the_stages_recorded_not_what_renders(fake_results, tmp_path):
    html = render_html(fake_results, _settings(tmp_path))
    assert "git abc1234 (every stage)" in html, "the commit recorded with the stages"
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    if head:
        assert f"git {head}" not in html, "the checkout at render time made none of the results"
    assert "Example CPU @ 2.00GHz (AVX2 FMA)" in html and "bfloat16" in html and "torch 2.14.1" in html
    assert "2026-01-01" in html, "the date the results were made, not the date of rendering"


def test_stages_from_two_commits_are_both_named(results_copy, tmp_path):
    path = results_copy / ".pipeline" / "final-gap.json"
    record = json.loads(path.read_text())
    record["provenance"] = {**record["provenance"], "commit": "def5678", "dirty": True}
    path.write_text(json.dumps(record))
    html = render_html(results_copy, _settings(tmp_path))
    assert "2 states of the code" in html and "git def5678 + uncommitted changes" in html and "git abc1234" in html


def test_html_is_self_contained(fake_results, tmp_path):
    html = render_html(fake_results, _settings(tmp_path))
    assert "file://" not in html and str(fake_results) not in html, "no path into this machine's results"
    assert html.count('src="data:image/png;base64,') >= 10 and "<style>" in html
    assert 'href="report.css"' not in html


def test_data_is_named_by_what_it_is_not_where_it_was(fake_results, tmp_path):
    html = render_html(fake_results, _settings(tmp_path))
    assert "shared/data" not in html and "9f86d081884c7d659a2f" in html
    assert "identified by the audit" in html, "counts and mean match CIFAR-10's"


def test_published_figures_are_cited_with_their_paper(fake_results, tmp_path):
    html = render_html(fake_results, _settings(tmp_path))
    assert "Do CIFAR-10 Classifiers Generalize to CIFAR-10? arXiv:1806.00451" in html
    assert "Purging CIFAR of Near-Duplicates" in html
    assert '4 to 10 percentage points <a class="cite" href="#ref-cifar101">' in html


def test_user_reflection_with_headings_replaces_the_draft(fake_results, tmp_path):
    mine = tmp_path / "mine.md"
    mine.write_text("# Reflection\n\n## What I learned\nHoldout reuse\nis subtle.\n\n"
                    "## A harm\nConsent.\n\n## My question\nWhy?\n")
    html = render_html(fake_results, _settings(tmp_path, reflection=str(mine)))
    assert "What I learned" in html and "Holdout reuse is subtle." in html and "DRAFT" not in html


def test_reflection_may_be_three_plain_paragraphs(tmp_path):
    mine = tmp_path / "mine.txt"
    mine.write_text("First part,\non two lines.\n\nSecond part.\n\nThird part?\n")
    parts = read_reflection(str(mine))
    assert [p["paragraphs"] for p in parts] == [["First part, on two lines."], ["Second part."], ["Third part?"]]


@pytest.mark.parametrize("text", ["just one paragraph\n", "## one\na\n## two\nb\n", "intro\n## a\n## b\n## c\n"])
def test_reflection_of_the_wrong_shape_is_refused(tmp_path, text):
    bad = tmp_path / "r.md"
    bad.write_text(text)
    with pytest.raises(UserError, match="r.md"):
        read_reflection(str(bad))


def test_missing_reflection_file_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="reflection file not found: .*nowhere.md"):
        _settings(tmp_path, reflection=str(tmp_path / "nowhere.md"))


def test_missing_results_file_is_named(results_copy, tmp_path):
    (results_copy / "search" / "gap" / "search.json").unlink()
    with pytest.raises(UserError, match="search/gap/search.json"):
        render_html(results_copy, _settings(tmp_path))


def test_missing_figure_is_named(results_copy, tmp_path):
    (results_copy / "interpret" / "dense" / "cam_incorrect.png").unlink()
    with pytest.raises(UserError, match="interpret/dense/cam_incorrect.png"):
        render_html(results_copy, _settings(tmp_path))


def test_missing_value_in_a_results_file_fails_instead_of_printing_blank(results_copy, tmp_path):
    path = results_copy / "search" / "dense" / "search.json"
    record = json.loads(path.read_text())
    del record["rule"]
    path.write_text(json.dumps(record))
    with pytest.raises(UserError, match="rule"):
        render_html(results_copy, _settings(tmp_path))


def test_an_empty_group_of_images_is_said_in_words_not_drawn(results_copy, tmp_path):
    path = results_copy / "interpret" / "selection.json"
    selection = json.loads(path.read_text())
    selection["items"] = [it for it in selection["items"] if it["group"] == "incorrect"]
    path.write_text(json.dumps(selection))
    html = render_html(results_copy, _settings(tmp_path))
    assert 'alt="cam correct"' not in html and 'alt="cam incorrect"' in html
    assert "No validation image is classified correctly by both networks" in html


def test_a_rebuild_that_reused_training_runs_still_reports_what_the_training_took(results_copy):
    from experiments.writeup.report import build_context
    for stage, seconds in {"search-dense": 1.0, "final-gap": 2.0, "report": 3.0}.items():  # reused runs: ~0 s
        (results_copy / ".pipeline" / f"{stage}.json").write_text(json.dumps({"hash": "0", "seconds": seconds}))
    search_path = results_copy / "search/dense/search.json"  # l projected past the budget: not trained
    search = json.loads(search_path.read_text())
    search["candidates"][2].update(val_acc=None, seconds=None, trained=False)
    search_path.write_text(json.dumps(search))
    facts = build_context(results_copy, load_settings(results_copy / "absent.toml"))["facts"]
    assert facts["training_seconds"]["ablation-gap-bn"] == 135.0
    assert facts["training_seconds"]["ablation-gap-full"] == 3 * 700.0  # the final (720.5 s) is counted once
    candidates = json.loads((results_copy / "search/dense/search.json").read_text())["candidates"]
    searched = sum(c["seconds"] for c in candidates if c["seconds"] is not None)  # l: not trained (the probe)
    assert searched == 56.5 + 139.0
    final = json.loads((results_copy / "final/gap-final/metrics.json").read_text())["seconds"]
    rest = sum(facts["stage_seconds"][s] for s in ("conv", "data", "audit"))
    assert facts["total_minutes"] * 60 == pytest.approx(rest + searched + final + 3.0)


def test_frozen_whitening_filters_are_labelled_and_the_gabor_test_names_its_learned_layer(fake_results, tmp_path):
    html = render_html(fake_results, _settings(tmp_path))
    assert html.count("<strong>Not learned:</strong>") == 2, "conv layer 1 of each family is the frozen stem"
    assert "of conv layer 2, the first learned layer" in html


def test_the_test_section_gives_each_finals_held_out_accuracy_with_its_wilson_interval(fake_results, tmp_path):
    import shutil

    from experiments.engine.io import write_json
    results = tmp_path / "results"
    shutil.copytree(fake_results, results)
    page = " ".join(render_html(results, _settings(tmp_path)).split())
    assert "No held-out test split was available" in page and "optimistic" in page
    write_json(results / "test" / "test.json", {"available": True, "source": "the dataset's own test split",
                                                "finals": {f: {"accuracy": 0.9312, "correct": 9312, "n": 10000,
                                                               "tta": "flip-translate"} for f in ("dense", "gap")}})
    page = " ".join(render_html(results, _settings(tmp_path)).split())
    assert page.count("93.12%</strong>") == 2 and "93.12%</strong> (95% Wilson interval 92.61% to 93.60%" in page
    assert "no choice (the architecture, each cell&#39;s learning rate, the best cell) saw these images" in page


def test_a_profile_that_trains_only_the_final_on_the_full_split_says_where_its_effects_were_read(results_copy,
                                                                                                  tmp_path):
    """quick: one run per cell on 4,000 images at rates the profile sets per cell, only the final on
    the full split."""
    path = results_copy / "ablation" / "gap-summary" / "summary.json"
    summary = json.loads(path.read_text())
    full = summary["rungs"][-1]
    full["cells"] = [c for c in full["cells"] if c["cell"] == summary["best"]["cell"]]
    full["effects"] = {}
    for c in summary["cells"]:
        c["lr"] = 0.24 if c["batchnorm"] else 0.06
    tuned = re.sub(r"\s+", " ", render_html(results_copy, _settings(tmp_path)))
    assert "at that cell's tuned learning rate" in tuned and "Each cell took its own learning rate" in tuned
    summary.update(lr_grid=[0.06], lr_walk=0, curves_n_train=4000, tuning={c: [] for c in summary["tuning"]})
    path.write_text(json.dumps(summary))
    html = re.sub(r"\s+", " ", render_html(results_copy, _settings(tmp_path)))
    best = summary["best"]["cell"]
    assert f"Only {best} trained on the full split (45,000 images" in html
    assert f"45,000 images ({best} only, 1 seed)" in html and "not trained</td>" in html
    assert "each cell trained at the learning rate the profile sets for it (plain 0.06, bn 0.24" in html
    assert "The four cells on 4,000 training images, gap family" in html
    assert "at that cell's learning rate" in html, "an untuned rate is not called tuned"
    assert "Each cell took its own learning rate" in html, "dense still has its tuning rows"
    assert html.count("Each cell took its own learning rate") == 1, "gap's tuning rows are gone: no tuning said"
    assert "gap family: each effect against the number of training images" not in html, "one rung: the table says it"
    assert "dense family: each effect against the number of training images" in html, "a ladder: the figure"


def test_a_budget_builds_report_says_what_the_budget_bought_and_what_it_left_out(results_copy, tmp_path):
    from experiments.build.budget import Speed, Study, plan_study
    from experiments.build.stages import STAGES
    from experiments.engine.io import write_json
    from experiments.training.profiles import load_profile
    from tests.build.test_budget import FLOPS as flops
    plan = plan_study(Study(load_profile("full"), flops, 45000, 5000, tuple(s.name for s in STAGES)),
                      Speed(1.4e-11, default_fixed=20.0), 90 * 60)
    first = {**plan["stage_seconds"], "search-gap": plan["stage_seconds"]["search-gap"] + 600.0}
    plan = {**plan, "first": {"stage_seconds": first, "total_minutes": 97.5, "bought": plan["bought"]},
            "changes": [{"after": "search-dense", "total_minutes": 60.3, "dropped": ["iii", "v"], "bought": [],
                         "regime": {"from": {"size": "s", "epochs": 4}, "to": {"size": "s", "epochs": 8}}},
                        {"after": "ablation-dense-plain", "total_minutes": 82.4, "dropped": [], "bought": ["vi"]}]}
    write_json(results_copy / "budget" / "plan.json", plan)
    write_json(results_copy / "budget" / "speed.json", {"device": "cpu", "seconds_per_flop": 1.4e-11,
                                                       "cpu_flags": "AVX2 FMA"})
    text = unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", render_html(results_copy, _settings(tmp_path)))))
    assert "This study was planned to 90 minutes of this machine (AVX2 FMA" in text
    regime = plan["regime"]
    epochs = f"{regime['epochs']} epoch" + ("s" if regime["epochs"] != 1 else "")
    assert f"The finals and every ablation run train the {regime['size']} widths for {epochs}" in text
    assert "full profile, planned to 90 minutes (Appendix A lists what the plan set)" in text, "the title block"
    # Issue 43: settings keys only in the appendix, explained, not in the student's title block
    assert "In the profile's settings (section.key = value, Appendix E), the plan set " in text
    assert f"final.max_minutes = {plan['profile']['final']['max_minutes']!r}" in text, "with what it set"
    left_out = [s for s in plan["steps"] if not s["bought"]]
    assert left_out, "90 minutes at this speed leaves something out"
    for step in left_out:
        assert f"({step['step']}) {step['what']}: left out (about {step['more_minutes']} more minutes here)" in text
    assert "Planned 97.5 minutes before the first stage, measured" in text, "the plan before any stage ran"
    search = sum(first[s] for s in ("search-dense", "search-gap")) / 60
    assert f"search {search:.1f} / " in text, "each part planned as the first plan priced it"
    assert ("after search-dense it moved the finals and the ablation from 4 to 8 epochs of the s widths and "
            "dropped (iii), (v) (the study then priced at 60.3 minutes); after "
            "ablation-dense-plain it bought (vi) (the study then priced at 82.4 minutes).") in text
    del plan["first"], plan["changes"]  # a plan recorded before the first plan was kept
    write_json(results_copy / "budget" / "plan.json", plan)
    text = unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", render_html(results_copy, _settings(tmp_path)))))
    assert "Planned" not in text and "the plan before the first stage was not recorded" in text
    assert "the plan kept every step" not in text, "its changes were not recorded either: nothing said of them"
    plan["changes"] = []
    write_json(results_copy / "budget" / "plan.json", plan)
    text = unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", render_html(results_copy, _settings(tmp_path)))))
    assert "the plan kept every step" in text


def test_a_lever_study_the_budget_left_out_says_so_with_its_price(results_copy, tmp_path):
    from experiments.build.budget import Speed, Study, plan_study
    from experiments.build.stages import STAGES
    from experiments.engine.io import write_json
    from experiments.training.profiles import load_profile
    from tests.build.test_budget import FLOPS as flops
    plan = plan_study(Study(load_profile("full"), flops, 45000, 5000, tuple(s.name for s in STAGES)),
                      Speed(1.4e-11, default_fixed=20.0), 90 * 60)
    [lever_step] = [s for s in plan["steps"] if "levers" in s["kinds"]]
    lever_step.update(bought=False, more_minutes=6.1)  # as a plan that dropped it mid-build records it
    write_json(results_copy / "budget" / "plan.json", plan)
    for family in ("dense", "gap"):
        write_json(results_copy / "levers" / family / "levers.json",
                   {"family": family, "levers": [], "skipped": "this profile does not run the lever study"})
    text = unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", render_html(results_copy, _settings(tmp_path)))))
    assert f"Lever study: not run (the budget left it out: about {lever_step['more_minutes']} more minutes here" in text
    assert "this profile does not run the lever study" not in text
    (results_copy / "budget" / "plan.json").unlink()
    text = unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", render_html(results_copy, _settings(tmp_path)))))
    assert "Lever study: not run (this profile does not run the lever study)" in text, "no budget: the profile's reason"


def test_a_build_without_a_budget_says_nothing_of_one(fake_results, tmp_path):
    assert "What the budget bought" not in render_html(fake_results, _settings(tmp_path))


def test_the_stylesheet_reaches_the_pdf_unescaped_so_contents_and_captions_are_numbered(pdf):
    """The inlined CSS was HTML-escaped (' became &#39; inside <style>), which silently dropped every rule
    with a quoted string: the contents had no page numbers, tables and figures no numbers."""
    pages = [page.extract_text() for page in PdfReader(pdf).pages]
    assert re.search(r"Problem 6: reflection on datasets \.+ \d+", pages[0]), "the contents give page numbers"
    text = "\n".join(pages)
    assert "Table 1. Conv2D tester" in text and re.search(r"Figure \d+\. ", text)


def test_each_answer_is_at_most_three_sentences_and_links_to_a_section_that_exists(fake_results, tmp_path):
    page = render_html(fake_results, _settings(tmp_path))
    rows = re.findall(r'<tr data-verdict="summary"><th><a href="#([\w-]+)">(.*?)</a></th><td>(.*?)</td></tr>', page,
                      flags=re.S)
    items = [unescape(item) for _, item, _ in rows]
    for expected in ("P1", "P2 (c) dense", "P2 (d) gap", "P2 (f) gap", "P2 families", "P3 (b) Gabor-like?", "P4", "P5",
                     "P6"):
        assert expected in items, f"the answers page lacks {expected}"
    for ref, item, text in rows:
        assert f'id="{ref}"' in page, f"{item} links to #{ref}, which no section has"
        sentences = re.split(r"(?<=[.!?])\s+(?=[A-Z])", unescape(re.sub(r"\s+", " ", text)).strip())
        assert len(sentences) <= 3, f"{item}: {len(sentences)} sentences"


def test_the_main_body_speaks_plainly_no_rung_or_regime(pdf):
    """Issue 29: internal vocabulary stays out of the answers; the appendices may name the ladder's
    rungs beside the plain words."""
    pages = [page.extract_text() for page in PdfReader(pdf).pages]
    main = "\n".join(pages[:_first_page(pages, "Appendix A: the training") - 1])
    assert not re.search(r"\b(rungs?|regimes?)\b", main, flags=re.I), re.findall(r".{40}\b(?:rungs?|regimes?)\b.{20}", main)
