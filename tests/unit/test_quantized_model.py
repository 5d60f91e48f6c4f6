"""The int8-compute MiniLM: the weight folding is exact, the derived model is pinned, cached and close to float."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

from services.enrich import quantized_model
from services.enrich.encoder import MODEL_SHA256, ModelUnavailable, OnnxMiniLM, model_files

pytestmark = pytest.mark.unit
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def _tiny_int8_weights_graph() -> "onnx.ModelProto":
    """x (1x4) @ (Cast(int8 W) * scale) + the same product again: the pinned model's storage pattern."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(3)
    w_q = rng.integers(-127, 128, size=(4, 3), dtype=np.int8)
    nodes = [
        helper.make_node("Cast", ["w_q"], ["w_f"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["w_f", "w_scale"], ["w"]),
        helper.make_node("MatMul", ["x", "w"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
        initializer=[numpy_helper.from_array(w_q, "w_q"),
                     numpy_helper.from_array(np.array(0.0173, dtype=np.float32), "w_scale")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)


def _run(model: "onnx.ModelProto", x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


def test_dequantise_folds_cast_mul_into_one_float_weight_exactly() -> None:
    model = _tiny_int8_weights_graph()
    x = np.array([[0.5, -1.25, 2.0, 3.5]], dtype=np.float32)
    before = _run(model, x)
    assert quantized_model.dequantise(model) == 1
    assert [n.op_type for n in model.graph.node] == ["MatMul"]
    assert {i.name for i in model.graph.initializer} == {"w"}  # the int8 copy and the scale are gone
    np.testing.assert_array_equal(_run(model, x), before)


def test_a_graph_without_int8_weights_is_refused(tmp_path: Path) -> None:
    model = _tiny_int8_weights_graph()
    quantized_model.dequantise(model)  # now plain float: nothing left to fold
    path = tmp_path / "float.onnx"
    onnx.save(model, str(path))
    with pytest.raises(quantized_model.QuantisationFailed, match="no int8"):
        quantized_model.build(path, Path("/nonexistent/tokenizer.json"))


@pytest.fixture(scope="module")
def pinned_files() -> tuple[Path, Path]:
    try:
        model, tokenizer, pinned = model_files()
    except ModelUnavailable as exc:
        pytest.skip(f"model not installed: {exc}")
    if not pinned:
        pytest.skip("SWITCHBOARD_MODEL_DIR points at a custom model")
    return model, tokenizer


@pytest.fixture(scope="module")
def built_cache(pinned_files: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache folder holding the derived model, built once for the tests that only read it."""
    folder = tmp_path_factory.mktemp("model-cache")
    previous = os.environ.get("SWITCHBOARD_MODEL_CACHE")
    os.environ["SWITCHBOARD_MODEL_CACHE"] = str(folder)
    try:
        quantized_model.derived(pinned_files[0], pinned_files[1], MODEL_SHA256, pinned=True)
    finally:
        if previous is None:
            del os.environ["SWITCHBOARD_MODEL_CACHE"]
        else:
            os.environ["SWITCHBOARD_MODEL_CACHE"] = previous
    return folder


def test_derived_model_is_pinned_cached_and_rebuilt_when_damaged(pinned_files: tuple[Path, Path], built_cache: Path,
                                                                  tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pinned_model, tokenizer = pinned_files
    [built] = built_cache.iterdir()  # written under a temporary name, then renamed: no *.tmp left behind
    data = built.read_bytes()
    assert hashlib.sha256(data).hexdigest() == quantized_model.DERIVED_SHA256
    (tmp_path / "cache").mkdir()
    cached = tmp_path / "cache" / built.name
    cached.write_bytes(data)
    monkeypatch.setenv("SWITCHBOARD_MODEL_CACHE", str(tmp_path / "cache"))

    stamp = cached.stat().st_mtime_ns
    assert quantized_model.derived(pinned_model, tokenizer, MODEL_SHA256, pinned=True) == data
    assert cached.stat().st_mtime_ns == stamp  # read from the cache, not rebuilt

    cached.write_bytes(b"not a model")  # a damaged cache is never run: rebuilt and checked again
    assert quantized_model.derived(pinned_model, tokenizer, MODEL_SHA256, pinned=True) == data
    assert cached.read_bytes() == data


def test_an_unwritable_cache_still_gives_the_model(pinned_files: tuple[Path, Path], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    pinned_model, tokenizer = pinned_files
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("SWITCHBOARD_MODEL_CACHE", str(blocker / "cache"))
    data = quantized_model.derived(pinned_model, tokenizer, MODEL_SHA256, pinned=True)
    assert hashlib.sha256(data).hexdigest() == quantized_model.DERIVED_SHA256


def test_int8_compute_agrees_with_float_and_can_be_switched_off(pinned_files: tuple[Path, Path], built_cache: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    pinned_model, tokenizer = pinned_files
    monkeypatch.setenv("SWITCHBOARD_MODEL_CACHE", str(built_cache))
    texts = ["I was charged twice this month", "How do I reset my password?",
             "The dashboard chart is empty since the update", "Can we get SAML single sign-on with Okta?"]
    int8 = OnnxMiniLM(pinned_model, tokenizer)
    monkeypatch.setenv("SWITCHBOARD_MODEL_QUANTIZE", "0")
    floats = OnnxMiniLM(pinned_model, tokenizer)
    assert int8.variant.startswith("int8") and floats.variant == "float compute"
    a, b = int8.encode(texts), floats.encode(texts)
    cosines = (a * b).sum(axis=1)
    assert cosines.min() >= 0.99 and not np.allclose(a, b)  # close, yet really a different computation
    # the nearest neighbour of every text is the same in both spaces
    assert ((a @ a.T).argsort(axis=1)[:, -2] == (b @ b.T).argsort(axis=1)[:, -2]).all()
    assert os.environ["SWITCHBOARD_MODEL_QUANTIZE"] == "0"
