"""Published work the report cites, numbered in order of first citation.

Text cites with `cite(key)` (a Jinja global, or the marker in a Python sentence); after rendering,
`number_citations` turns the markers into [n] in order of first appearance and writes the
References list of exactly the works cited. Figures quoted from a paper ("rate", "drop") are the
only numbers in the report that no stage measured.
"""
from __future__ import annotations

import html
import re

CITATIONS = {
    "cifair": {"ref": "Barz, B. & Denzler, J. (2020). Do We Train on Test Data? Purging CIFAR of Near-Duplicates. "
                      "Journal of Imaging 6(6), 41.",
               "rate": 0.033},  # CIFAR-10 test images with a near-duplicate in the training set
    "cifar101": {"ref": "Recht, B., Roelofs, R., Schmidt, L. & Shankar, V. (2018). Do CIFAR-10 Classifiers "
                        "Generalize to CIFAR-10? arXiv:1806.00451.",
                 "drop": "4 to 10 percentage points"},  # its abstract: "a large drop in accuracy (4% to 10%)"
    "imagenetv2": {"ref": "Recht, B., Roelofs, R., Schmidt, L. & Shankar, V. (2019). Do ImageNet Classifiers "
                          "Generalize to ImageNet? ICML 2019."},
    "ppa": {"ref": "Hardt, M. & Recht, B. (2022). Patterns, Predictions, and Actions: Foundations of Machine "
                   "Learning, Chapter 8 (Datasets). Princeton University Press; mlstory.org."},
    "krizhevsky2009": {"ref": "Krizhevsky, A. (2009). Learning Multiple Layers of Features from Tiny Images. "
                              "Technical report, University of Toronto."},
    "torralba2008": {"ref": "Torralba, A., Fergus, R. & Freeman, W. T. (2008). 80 Million Tiny Images: A Large Data "
                            "Set for Nonparametric Object and Scene Recognition. IEEE TPAMI 30(11)."},
    "tinyimages2020": {"ref": "Torralba, A., Fergus, R. & Freeman, W. T. (2020). 80 Million Tiny Images (statement "
                              "withdrawing the dataset), groups.csail.mit.edu/vision/TinyImages."},
    "prabhu2020": {"ref": "Prabhu, V. U. & Birhane, A. (2020). Large Image Datasets: A Pyrrhic Win for Computer "
                          "Vision? arXiv:2006.16923."},
    "gebru2021": {"ref": "Gebru, T., Morgenstern, J., Vecchione, B., Vaughan, J. W., Wallach, H., Daumé III, H. & "
                         "Crawford, K. (2021). Datasheets for Datasets. Communications of the ACM 64(12)."},
    "mitchell2019": {"ref": "Mitchell, M., Wu, S., Zaldivar, A., Barnes, P., Vasserman, L., Hutchinson, B., "
                            "Spitzer, E., Raji, I. D. & Gebru, T. (2019). Model Cards for Model Reporting. FAT* 2019."},
    "jordan2024": {"ref": "Jordan, K. (2024). 94% on CIFAR-10 in 3.29 Seconds on a Single GPU (airbench). "
                          "arXiv:2404.00498."},
    "zhou2016": {"ref": "Zhou, B., Khosla, A., Lapedriza, A., Oliva, A. & Torralba, A. (2016). Learning Deep Features "
                        "for Discriminative Localization. CVPR 2016."},
    "draelos2020": {"ref": "Draelos, R. L. & Carin, L. (2020). Use HiResCAM instead of Grad-CAM for Faithful "
                           "Explanations of Convolutional Neural Networks. arXiv:2011.08891."},
    "springenberg2015": {"ref": "Springenberg, J. T., Dosovitskiy, A., Brox, T. & Riedmiller, M. (2015). Striving "
                                "for Simplicity: The All Convolutional Net. ICLR 2015 workshop."},
    "adebayo2018": {"ref": "Adebayo, J., Gilmer, J., Muelly, M., Goodfellow, I., Hardt, M. & Kim, B. (2018). "
                           "Sanity Checks for Saliency Maps. NeurIPS 2018."},
    "nie2018": {"ref": "Nie, W., Zhang, Y. & Patel, A. (2018). A Theoretical Explanation for Perplexing Behaviors of "
                       "Backpropagation-based Visualizations. ICML 2018."},
    "petsiuk2018": {"ref": "Petsiuk, V., Das, A. & Saenko, K. (2018). RISE: Randomized Input Sampling for Explanation "
                           "of Black-box Models. BMVC 2018."},
    "li2019": {"ref": "Li, X., Chen, S., Hu, X. & Yang, J. (2019). Understanding the Disharmony between Dropout and "
                      "Batch Normalization by Variance Shift. CVPR 2019."},
    "benjamini1995": {"ref": "Benjamini, Y. & Hochberg, Y. (1995). Controlling the False Discovery Rate: A Practical "
                             "and Powerful Approach to Multiple Testing. JRSS B 57(1)."},
}
MARKER = re.compile(r"\[\[cite:([a-z0-9]+)\]\]")
LIST_PLACE = "<!--REFERENCES-->"


def cite(*keys: str) -> str:
    """The marker(s) a sentence carries where it cites; numbered after rendering."""
    unknown = [k for k in keys if k not in CITATIONS]
    if unknown:
        raise KeyError(f"no reference {unknown} in experiments/writeup/citations.py")
    return "".join(f"[[cite:{k}]]" for k in keys)


def number_citations(page: str) -> str:
    """Markers become [n] links in order of first citation; the References list gets those works."""
    order: dict[str, int] = {}
    for key in MARKER.findall(page):
        order.setdefault(key, len(order) + 1)
    page = MARKER.sub(lambda m: f'<a class="cite" href="#ref-{m.group(1)}">[{order[m.group(1)]}]</a>', page)
    items = "".join(f'<li id="ref-{k}">{html.escape(CITATIONS[k]["ref"])}</li>' for k in order)
    return page.replace(LIST_PLACE, items)
