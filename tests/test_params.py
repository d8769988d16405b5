"""Parameter validation and request bodies (no network)."""

from __future__ import annotations

import pytest

from hunyuan3d_addon.core.errors import InputError, ParamError
from hunyuan3d_addon.core.params import MultiViewParams, SingleParams


def test_defaults_are_the_documented_ones() -> None:
    p = SingleParams(text="a chair").validated()
    assert p.settings() == {"text": "a chair", "octree_resolution": 256, "num_inference_steps": 30, "guidance_scale": 5.5, "seed": -1, "face_count": 40000, "texture": False}
    m = MultiViewParams(front_image="https://x/front.png").validated()
    assert m.settings() == {
        "steps": 30,
        "guidance_scale": 5.0,
        "seed": -1,
        "randomize_seed": None,
        "octree_resolution": 256,
        "num_chunks": 200000,
        "target_face_num": 10000,
        "file_type": "glb",
        "remove_background": True,
    }


@pytest.mark.parametrize(
    ("cls", "field", "value", "allowed"),
    [
        (SingleParams, "octree_resolution", 300, "one of 256, 384, 512"),
        (SingleParams, "num_inference_steps", 19, "from 20 to 50"),
        (SingleParams, "num_inference_steps", 51, "from 20 to 50"),
        (SingleParams, "guidance_scale", 0.5, "from 1 to 15"),
        (SingleParams, "guidance_scale", 15.5, "from 1 to 15"),
        (SingleParams, "seed", -2, "from -1 to 999999999999999"),
        (SingleParams, "seed", 10**15, "from -1 to 999999999999999"),
        (SingleParams, "face_count", 4999, "from 5000 to 100000"),
        (SingleParams, "face_count", 100001, "from 5000 to 100000"),
        (MultiViewParams, "steps", 0, "from 1 to 100"),
        (MultiViewParams, "steps", 101, "from 1 to 100"),
        (MultiViewParams, "octree_resolution", 15, "from 16 to 512"),
        (MultiViewParams, "octree_resolution", 513, "from 16 to 512"),
        (MultiViewParams, "num_chunks", 999, "from 1000 to 5000000"),
        (MultiViewParams, "num_chunks", 5000001, "from 1000 to 5000000"),
        (MultiViewParams, "target_face_num", 99, "from 100 to 1000000"),
        (MultiViewParams, "target_face_num", 1000001, "from 100 to 1000000"),
        (MultiViewParams, "file_type", "fbx", "one of glb, obj, ply, stl"),
    ],
)
def test_out_of_range_names_field_value_and_range(cls: type, field: str, value: object, allowed: str) -> None:
    base = {"text": "x"} if cls is SingleParams else {"front_image": "https://x/f.png"}
    with pytest.raises(ParamError) as info:
        cls(**base, **{field: value}).validated()
    assert info.value.field == field
    assert field in str(info.value) and str(value) in str(info.value) and allowed in str(info.value)


@pytest.mark.parametrize(("field", "value"), [("num_inference_steps", True), ("num_inference_steps", "many"), ("texture", "maybe"), ("guidance_scale", "high"), ("seed", 1.5)])
def test_wrong_types_are_rejected(field: str, value: object) -> None:
    with pytest.raises(ParamError, match=field):
        SingleParams(text="x", **{field: value}).validated()


def test_loose_values_are_coerced_to_their_types() -> None:
    p = SingleParams.from_dict({"text": "x", "octree_resolution": "384", "num_inference_steps": "25", "guidance_scale": "7", "texture": "true", "seed": "12"})
    assert (p.octree_resolution, p.num_inference_steps, p.guidance_scale, p.texture, p.seed) == (384, 25, 7.0, True, 12)
    assert type(p.octree_resolution) is int and type(p.guidance_scale) is float and p.texture is True


def test_body_has_json_types_and_no_nulls() -> None:
    p = SingleParams(text="a red chair", octree_resolution="512", seed=7).validated()
    body = p.body({})
    assert body == {"text": "a red chair", "octree_resolution": 512, "num_inference_steps": 30, "guidance_scale": 5.5, "seed": 7, "face_count": 40000, "texture": False}
    assert None not in body.values()


def test_unknown_parameter_is_named() -> None:
    with pytest.raises(ParamError, match="'steps'"):
        SingleParams.from_dict({"text": "x", "steps": 3})


@pytest.mark.parametrize("prompt", ["", "   ", None])
def test_no_image_and_empty_prompt_is_an_input_error(prompt: str | None) -> None:
    with pytest.raises(InputError, match="Give an image or a prompt"):
        SingleParams(text=prompt).validated()


def test_multiview_needs_a_front_view() -> None:
    with pytest.raises(InputError, match="front view is required"):
        MultiViewParams(back_image="https://x/b.png").validated()


def test_a_mesh_turns_texture_on() -> None:
    assert SingleParams(mesh="https://x/m.glb").validated().texture is True


def test_random_seed_is_drawn_locally_and_reported() -> None:
    p, fixed = SingleParams(text="x").validated().with_seed()
    assert not fixed and 0 <= p.seed < 2**31
    p, fixed = SingleParams(text="x", seed=42).validated().with_seed()
    assert fixed and p.seed == 42
    m, fixed = MultiViewParams(front_image="https://x/f.png", seed=9).validated().with_seed()
    assert fixed and m.randomize_seed is False and m.seed == 9
    m, fixed = MultiViewParams(front_image="https://x/f.png").validated().with_seed()
    assert not fixed and m.randomize_seed is False and m.seed >= 0
    m, fixed = MultiViewParams(front_image="https://x/f.png", randomize_seed=True).validated().with_seed()
    assert not fixed and m.randomize_seed is True and m.seed == -1
