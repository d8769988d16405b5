"""Request parameters of both Hunyuan3D endpoints, validated in one place.

Each endpoint is a dataclass whose fields carry their documented default and range in
``metadata``. ``validated()`` coerces loose values (``"256"`` from a manifest or CLI) and
checks every range; ``body()`` builds the JSON request body from a validated instance.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from .errors import InputError, ParamError

SEED_MAX = 999_999_999_999_999
FILE_TYPES = ("glb", "obj", "ply", "stl")


def _num(default: Any, lo: float | None = None, hi: float | None = None, doc: str = "", **kw: Any) -> Any:
    meta = {"lo": lo, "hi": hi, "doc": doc, **kw}
    return field(default=default, metadata=meta)


def _input(doc: str, kind: str) -> Any:
    return field(default=None, metadata={"input": kind, "doc": doc})


def is_url(value: str) -> bool:
    """True for an http(s) URL or a data URI (sent as they are)."""
    return value.startswith(("http://", "https://", "data:"))


def _coerce(name: str, kind: type, value: Any) -> Any:
    """Coerce a loose value to ``kind`` or raise a ParamError naming the field."""
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "on", "false", "0", "no", "off"):
            return value.strip().lower() in ("true", "1", "yes", "on")
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise ParamError(name, f"{name} must be true or false, not {value!r}.")
    if kind is int:
        if isinstance(value, bool):
            raise ParamError(name, f"{name} must be a whole number, not {value!r}.")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise ParamError(name, f"{name} must be a whole number, not {value!r}.")
    if kind is float:
        if isinstance(value, bool):
            raise ParamError(name, f"{name} must be a number, not {value!r}.")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                pass
        raise ParamError(name, f"{name} must be a number, not {value!r}.")
    if kind is str:
        if isinstance(value, str):
            return value
        raise ParamError(name, f"{name} must be text, not {value!r}.")
    raise TypeError(kind)


def _range_text(meta: dict[str, Any]) -> str:
    if meta.get("choices"):
        return "one of " + ", ".join(str(c) for c in meta["choices"])
    return f"from {_fmt(meta['lo'])} to {_fmt(meta['hi'])}"


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)


_KINDS = {"int": int, "float": float, "bool": bool, "str": str, "str | None": str, "bool | None": bool}


class _Params:
    """Shared validation and body building for the endpoint dataclasses."""

    ENDPOINT: ClassVar[str]
    IMAGE_FIELDS: ClassVar[tuple[str, ...]]

    @classmethod
    def spec(cls) -> list[dataclasses.Field]:
        """The dataclass fields, in documented order."""
        return list(dataclasses.fields(cls))  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> _Params:
        """Build from loose values (manifest, CLI); unknown names are an error."""
        names = {f.name for f in cls.spec()}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ParamError(unknown[0], f"Unknown parameter {unknown[0]!r} for {cls.ENDPOINT}; known: {', '.join(sorted(names))}.")
        return cls(**values).validated()  # type: ignore[call-arg]

    def validated(self) -> _Params:
        """Return a copy with values coerced to their types; raise ParamError on the first bad one."""
        out: dict[str, Any] = {}
        for f in self.spec():
            value = getattr(self, f.name)
            meta = f.metadata
            kind = _KINDS[str(f.type)]
            if value is None:
                out[f.name] = None
                continue
            value = _coerce(f.name, kind, value)
            if kind is str and "input" in meta:
                value = value.strip() or None
            elif meta.get("choices") is not None:
                choices = meta["choices"]
                if kind is str:
                    value = value.strip().lower()
                if value not in choices:
                    raise ParamError(f.name, f"{f.name} is {value!r}; it must be {_range_text(meta)}.")
            elif meta.get("lo") is not None and not (meta["lo"] <= value <= meta["hi"]):
                raise ParamError(f.name, f"{f.name} is {_fmt(value)}; it must be {_range_text(meta)}.")
            out[f.name] = value
        result = dataclasses.replace(self, **out)  # type: ignore[type-var]
        result._check_inputs()
        return result

    def _check_inputs(self) -> None:
        raise NotImplementedError

    def inputs(self) -> dict[str, str]:
        """The set input fields (images, mesh) by name: file paths or URLs."""
        return {f.name: getattr(self, f.name) for f in self.spec() if "input" in f.metadata and getattr(self, f.name)}

    def settings(self) -> dict[str, Any]:
        """The non-input fields, as sent (for records and cache keys)."""
        return {f.name: getattr(self, f.name) for f in self.spec() if "input" not in f.metadata}

    def body(self, encoded_inputs: dict[str, str]) -> dict[str, Any]:
        """The JSON body: encoded inputs plus every setting; no nulls."""
        body: dict[str, Any] = {k: v for k, v in self.settings().items() if v is not None}
        body.update(encoded_inputs)
        return body

    def with_seed(self, rng: random.Random | None = None) -> tuple[_Params, bool]:
        """Resolve a random seed locally so the seed used is known; return (params, seed_was_fixed)."""
        raise NotImplementedError

    @property
    def output_format(self) -> str:
        return "glb"


@dataclass
class SingleParams(_Params):
    """``POST /v1/hunyuan-3d-2``: one image and/or a prompt to a mesh, or retexture a GLB."""

    ENDPOINT: ClassVar[str] = "hunyuan-3d-2"
    IMAGE_FIELDS: ClassVar[tuple[str, ...]] = ("image",)

    image: str | None = _input("input photo: file path or URL", "image")
    text: str | None = _num(None, doc="prompt (optional when an image is sent)")
    mesh: str | None = _input("GLB to retexture: file path or URL (turns texture on)", "mesh")
    octree_resolution: int = _num(256, doc="mesh resolution; higher is finer and slower", choices=(256, 384, 512))
    num_inference_steps: int = _num(30, 20, 50, "inference steps")
    guidance_scale: float = _num(5.5, 1, 15, "classifier-free guidance scale")
    seed: int = _num(-1, -1, SEED_MAX, "seed; -1 draws a random one")
    face_count: int = _num(40000, 5000, 100000, "maximum faces of a textured mesh")
    texture: bool = _num(False, doc="paint a texture on the mesh")

    def _check_inputs(self) -> None:
        if self.text is not None:
            self.text = self.text.strip() or None
        if not (self.image or self.text or self.mesh):
            raise InputError("Give an image or a prompt (or a mesh to retexture); nothing was sent.")
        if self.mesh and not self.texture:
            self.texture = True

    def with_seed(self, rng: random.Random | None = None) -> tuple[SingleParams, bool]:
        if self.seed != -1:
            return self, True
        return dataclasses.replace(self, seed=(rng or random.SystemRandom()).randint(0, 2**31 - 1)), False


@dataclass
class MultiViewParams(_Params):
    """``POST /v1/hunyuan3d-2mv``: front (required) and optional back/left/right views to a mesh."""

    ENDPOINT: ClassVar[str] = "hunyuan3d-2mv"
    IMAGE_FIELDS: ClassVar[tuple[str, ...]] = ("front_image", "back_image", "left_image", "right_image")

    front_image: str | None = _input("front view: file path or URL (required)", "image")
    back_image: str | None = _input("back view: file path or URL", "image")
    left_image: str | None = _input("left view: file path or URL", "image")
    right_image: str | None = _input("right view: file path or URL", "image")
    steps: int = _num(30, 1, 100, "inference steps")
    guidance_scale: float = _num(5.0, 0, 100, "guidance scale")
    seed: int = _num(-1, -1, SEED_MAX, "seed; -1 draws a random one")
    randomize_seed: bool | None = _num(None, doc="let the server pick the seed (default: only when seed is -1)")
    octree_resolution: int = _num(256, 16, 512, "octree resolution")
    num_chunks: int = _num(200000, 1000, 5000000, "number of chunks")
    target_face_num: int = _num(10000, 100, 1000000, "target faces of the simplified mesh")
    file_type: str = _num("glb", doc="model file format", choices=FILE_TYPES)
    remove_background: bool = _num(True, doc="remove the images' background")

    def _check_inputs(self) -> None:
        if not self.front_image:
            raise InputError("The front view is required for multi-view; nothing was sent.")

    def with_seed(self, rng: random.Random | None = None) -> tuple[MultiViewParams, bool]:
        if self.randomize_seed:
            return self, False
        if self.seed != -1:
            return dataclasses.replace(self, randomize_seed=False), True
        drawn = (rng or random.SystemRandom()).randint(0, 2**31 - 1)
        return dataclasses.replace(self, seed=drawn, randomize_seed=False), False

    @property
    def output_format(self) -> str:
        return self.file_type


Params = SingleParams | MultiViewParams
ENDPOINTS: dict[str, type[_Params]] = {SingleParams.ENDPOINT: SingleParams, MultiViewParams.ENDPOINT: MultiViewParams}


def check_local_file(field_name: str, value: str) -> Path | None:
    """Return the path of a local input (None for a URL); raise InputError if it cannot be read."""
    if is_url(value):
        return None
    path = Path(value).expanduser()
    if not path.is_file():
        raise InputError(f"The {field_name.replace('_', ' ')} file {str(path)!r} does not exist; nothing was sent.")
    try:
        with path.open("rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise InputError(f"The {field_name.replace('_', ' ')} file {str(path)!r} cannot be read ({exc.strerror}); nothing was sent.") from None
    return path
