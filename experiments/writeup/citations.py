"""Published work the report cites."""
from __future__ import annotations

# Published figures the report quotes: not measured here, so each is printed with its citation
# and listed under References, the only numbers in the report that no stage wrote.
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
}


