"""The answers page says briefly what the sections measured, and nothing they did not."""
from experiments.writeup.summary import conv_item, loss_answer


def test_the_loss_answer_names_where_validation_loss_was_lowest_and_a_single_epoch_is_one_point():
    one = loss_answer({"history": [{"epoch": 1, "train_loss": 1.5, "val_loss": 1.05}]})
    assert "one point, no curve" in one and "went from" not in one
    two = loss_answer({"history": [{"epoch": 1, "train_loss": 1.5, "val_loss": 1.05},
                                   {"epoch": 2, "train_loss": 1.2, "val_loss": 1.1}]})
    assert "went from 1.500 to 1.200" in two and "its lowest was 1.050 at epoch 1" in two


def test_problem_1s_answer_says_whether_the_course_notebook_failed():
    tester = {"tolerance": 1e-10, "cases": [{"err_Z": 1e-15, "err_dLdA": 2e-15, "err_dLdW": 3e-15, "passed": True}]}
    bench = {"cases": [{"ratio": 1.2}, {"ratio": 1.4}]}
    plain = conv_item(tester, bench, {"given": False})["text"]
    assert "1 of 1 tester cases" in plain and "1.20–1.40×" in plain and "notebook" not in plain
    failed = conv_item(tester, bench, {"given": True, "name": "Conv2DTester.ipynb", "n_failed": 2,
                                       "cells": [{}] * 5})["text"]
    assert "Conv2DTester.ipynb ran 5 code cells against it: 2 FAILED." in failed
