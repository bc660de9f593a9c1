"""mytorch Conv2D against PyTorch (float64), a numerical gradient, exact identities, errors."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mytorch import conv
from mytorch.conv import Conv2D
from mytorch.tester import torch_reference

# float64 round-off in these sums (at most a few hundred products) is ~1e-14; 1e-10 leaves a
# wide margin while any indexing mistake gives errors of order 1.
TOL = 1e-10

GRID = [  # (N, C_in, H, W), C_out, kernel, stride, padding
    ((2, 3, 8, 8), 4, 3, 1, 0), ((2, 3, 8, 8), 4, 3, 2, 1), ((2, 3, 9, 9), 4, 3, 3, 2),
    ((2, 2, 7, 10), 3, (2, 5), 1, 2), ((2, 2, 10, 7), 3, (5, 2), (2, 3), (1, 0)),
    ((1, 3, 6, 6), 2, 1, 1, 0), ((1, 3, 6, 6), 2, 1, 2, 1), ((2, 1, 9, 6), 4, 4, 1, 1),
    ((2, 4, 6, 9), 1, 2, 2, 0), ((1, 1, 5, 5), 1, 5, 1, 2), ((3, 2, 12, 5), 2, 3, (3, 1), (0, 2)),
    ((2, 3, 11, 11), 2, 5, 3, 1), ((1, 2, 4, 4), 3, 4, 1, 0), ((2, 2, 5, 4), 3, 1, 1, 2),
]


def _ids(case):
    a, c_out, k, s, p = case
    pair = lambda v: "x".join(map(str, v)) if isinstance(v, tuple) else str(v)
    return f"in{pair(a)}-out{c_out}-k{pair(k)}-s{pair(s)}-p{pair(p)}"


def _run(a_shape, c_out, k, s, p, seed=0):
    rng = np.random.default_rng(seed)
    layer = Conv2D(a_shape[1], c_out, k, s, p, weight_init_fn=rng.standard_normal)
    A = rng.standard_normal(a_shape)
    Z = layer.forward(A)
    G = rng.standard_normal(Z.shape)
    return layer, A, Z, G, layer.backward(G)


@pytest.mark.parametrize("case", GRID, ids=[_ids(c) for c in GRID])
def test_forward_and_both_gradients_match_torch(case):
    layer, A, Z, G, dLdA = _run(*case)
    Zt, dAt, dWt = torch_reference(A, layer.W, G, layer.stride, layer.padding)
    why = f"more than {TOL}: float64 round-off here is ~1e-14, an indexing bug gives O(1)"
    assert Z.shape == Zt.shape and dLdA.shape == A.shape and layer.dLdW.shape == layer.W.shape
    assert np.abs(Z - Zt).max() <= TOL, f"forward differs from torch by {why}"
    assert np.abs(dLdA - dAt).max() <= TOL, f"dLdA differs from autograd by {why}"
    assert np.abs(layer.dLdW - dWt).max() <= TOL, f"dLdW differs from autograd by {why}"


def _assert_matches_torch(layer, A, G):
    Z, dLdA = layer.forward(A), layer.backward(G)
    Zt, dAt, dWt = torch_reference(A, layer.W, G, layer.stride, layer.padding)
    for got, want, name in ((Z, Zt, "Z"), (dLdA, dAt, "dLdA"), (layer.dLdW, dWt, "dLdW")):
        assert got.shape == want.shape and np.abs(got - want).max() <= TOL, f"{name} differs from torch"


@pytest.mark.parametrize("case", GRID, ids=[_ids(c) for c in GRID])
def test_a_batch_split_into_parts_on_threads_matches_torch(case, monkeypatch):
    # small shapes run as one part; force a split into 3 uneven parts (batch 5: 1, 2, 2 images)
    monkeypatch.setattr(conv, "PART_MIN_ELEMENTS", 1)
    monkeypatch.setattr(conv, "blas_threads", lambda: 3)
    (_, c_in, h, w), c_out, k, s, p = case
    rng = np.random.default_rng(3)
    layer = Conv2D(c_in, c_out, k, s, p, weight_init_fn=rng.standard_normal)
    A = rng.standard_normal((5, c_in, h, w))
    G = rng.standard_normal(layer.output_shape(A.shape))
    _assert_matches_torch(layer, A, G)
    assert [part.stop - part.start for part, _ in layer._parts] == [1, 2, 2]


def test_inputs_whose_size_changes_keep_matching_torch():
    # heights 8 and 9 pad the output gradient differently into buffers of the same shape: a
    # border left from the last call would add the old gradient in
    rng = np.random.default_rng(4)
    layer = Conv2D(2, 3, 3, stride=2, padding=1, weight_init_fn=rng.standard_normal)
    for h in (9, 8, 9, 10, 9, 8, 8):
        A = rng.standard_normal((2, 2, h, h))
        _assert_matches_torch(layer, A, rng.standard_normal(layer.output_shape(A.shape)))


def test_parts_run_with_blas_held_to_one_thread_and_errors_reach_the_caller():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    blas = threadpoolctl.ThreadpoolController().select(user_api="blas")
    if not blas.lib_controllers:
        pytest.skip("threadpoolctl finds no BLAS to limit here")
    before = [lib.num_threads for lib in blas.lib_controllers]
    seen = conv.in_parallel(lambda: [lib.num_threads for lib in
                                     threadpoolctl.ThreadpoolController().select(user_api="blas").lib_controllers],
                            [(), ()])
    assert seen == [[1] * len(before)] * 2, "a part ran with more than one BLAS thread"
    assert [lib.num_threads for lib in threadpoolctl.ThreadpoolController().select(user_api="blas").lib_controllers] == before

    def fail(k):
        if k == 1:
            raise ValueError("part 1 failed")
    with pytest.raises(ValueError, match="part 1 failed"):
        conv.in_parallel(fail, [(0,), (1,)])


def test_gradients_match_central_differences():
    rng = np.random.default_rng(1)
    layer = Conv2D(2, 3, (3, 2), stride=(2, 1), padding=1, weight_init_fn=rng.standard_normal)
    A = rng.standard_normal((2, 2, 5, 4))
    G = rng.standard_normal(layer.output_shape(A.shape))
    loss = lambda: float((layer.forward(A) * G).sum())
    layer.forward(A)
    dLdA, dLdW = layer.backward(G), layer.dLdW.copy()
    eps = 1e-6
    for arr, grad in ((A, dLdA), (layer.W, dLdW)):
        numeric = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            old = arr[idx]
            arr[idx] = old + eps; up = loss()
            arr[idx] = old - eps; down = loss()
            arr[idx] = old
            numeric[idx] = (up - down) / (2 * eps)
        # the loss is linear in each argument, so central differences have no truncation error;
        # what is left is round-off ~1e-16 * |loss| / eps ~ 1e-9
        assert np.abs(numeric - grad).max() < 1e-7, "analytic gradient differs from central differences"


shapes = st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(1, 4), st.integers(1, 5),
                   st.integers(1, 5), st.integers(1, 3), st.integers(1, 3), st.integers(0, 2), st.integers(0, 2))


@settings(max_examples=40, deadline=None)
@given(shapes, st.integers(0, 2 ** 31 - 1))
def test_adjoint_identities_of_a_bias_free_convolution(shape, seed):
    n, c_in, c_out, kh, kw, sh, sw, ph, pw = shape
    rng = np.random.default_rng(seed)
    h, w = kh + rng.integers(0, 6), kw + rng.integers(0, 6)
    layer = Conv2D(c_in, c_out, (kh, kw), (sh, sw), (ph, pw), weight_init_fn=rng.standard_normal)
    A = rng.standard_normal((n, c_in, h, w))
    Z = layer.forward(A)
    G = rng.standard_normal(Z.shape)
    dLdA = layer.backward(G)
    lhs = np.vdot(Z, G)
    # conv is linear in A and in W: <conv(A), G> = <A, conv^T(G)> = <W, dLdW>, exactly up to
    # float64 round-off (~1e-14 relative); 1e-10 leaves margin
    assert np.isclose(lhs, np.vdot(A, dLdA), rtol=1e-10, atol=1e-10), "<Z, G> != <A, dLdA>"
    assert np.isclose(lhs, np.vdot(layer.W, layer.dLdW), rtol=1e-10, atol=1e-10), "<Z, G> != <W, dLdW>"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(dtype):
    layer = Conv2D(2, 3, 3, padding=1)
    A = np.ones((1, 2, 4, 4), dtype=dtype)
    Z = layer.forward(A)
    assert Z.dtype == dtype and layer.backward(np.ones_like(Z)).dtype == dtype


def test_float32_agrees_with_float64():
    layer, A, Z, G, dLdA = _run((2, 3, 9, 7), 4, 3, 1, 1)
    layer32 = Conv2D(3, 4, 3, 1, 1, weight_init_fn=lambda shape: layer.W.astype(np.float32))
    Z32 = layer32.forward(A.astype(np.float32))
    dLdA32 = layer32.backward(G.astype(np.float32))
    # float32 keeps ~7 digits; sums of 27-36 terms of size ~1 lose at most a few ulps
    for got, want in ((Z32, Z), (dLdA32, dLdA), (layer32.dLdW, layer.dLdW)):
        assert got.dtype == np.float32
        assert np.abs(got - want).max() < 1e-4, "float32 result is far from the float64 one"


def test_a_new_forward_replaces_the_cached_input():
    # forward reuses its column buffer when the shape repeats: the gradients must follow the new input
    layer, A, Z, G, dLdA = _run((2, 3, 8, 8), 4, 3, 1, 1)
    A2 = np.random.default_rng(5).standard_normal(A.shape)
    layer.forward(A2)
    layer.backward(G)
    _, _, dWt = torch_reference(A2, layer.W, G, layer.stride, layer.padding)
    assert np.abs(layer.dLdW - dWt).max() <= TOL, "dLdW was computed from a stale input"
    layer.forward(A[:1])  # a different shape allocates afresh
    assert layer.backward(G[:1]).shape == (1, 3, 8, 8)


def test_default_init_matches_torch_kaiming_uniform_bound():
    layer = Conv2D(16, 32, 3)
    bound = 1 / np.sqrt(16 * 9)
    assert layer.W.shape == (32, 16, 3, 3)
    assert np.abs(layer.W).max() <= bound and np.abs(layer.W).max() > 0.9 * bound
    ref = torch.nn.Conv2d(16, 32, 3).weight.detach().numpy()
    assert np.abs(ref).max() <= bound


@pytest.mark.parametrize("call, message", [
    (lambda l: l.forward(np.zeros((2, 3, 8))), r"4-D .* shape \(2, 3, 8\)"),
    (lambda l: l.forward(np.zeros((2, 5, 8, 8))), r"5 channels .*\(2, 5, 8, 8\).* expects 3"),
    (lambda l: l.forward(np.zeros((1, 3, 2, 2))), r"kernel 5x5 is larger than the padded input 4x4"),
    (lambda l: l.backward(np.zeros((1, 4, 4, 4))), r"backward called before forward"),
])
def test_bad_input_names_the_shapes(call, message):
    layer = Conv2D(3, 4, 5, padding=1)
    with pytest.raises(ValueError, match=message):
        call(layer)


def test_gradient_of_the_wrong_shape_is_refused():
    layer = Conv2D(3, 4, 3)
    layer.forward(np.zeros((2, 3, 8, 8)))
    with pytest.raises(ValueError, match=r"dLdZ has shape \(2, 4, 5, 5\), but the last forward produced \(2, 4, 6, 6\)"):
        layer.backward(np.zeros((2, 4, 5, 5)))


@pytest.mark.parametrize("kwargs, message", [
    ({"stride": 0}, "stride must be positive"), ({"stride": (1, -1)}, "stride must be positive"),
    ({"padding": -1}, "padding must be non-negative"), ({"kernel_size": 0}, "kernel_size must be positive"),
    ({"kernel_size": (3, 0)}, "kernel_size must be positive"), ({"kernel_size": 2.5}, "pair of ints"),
    ({"kernel_size": (1, 2, 3)}, "pair of ints"), ({"in_channels": 0}, "channels must be positive"),
    ({"out_channels": -2}, "channels must be positive"),
])
def test_bad_hyperparameters_are_refused(kwargs, message):
    args = {"in_channels": 3, "out_channels": 4, "kernel_size": 3, **kwargs}
    with pytest.raises(ValueError, match=message):
        Conv2D(**args)
