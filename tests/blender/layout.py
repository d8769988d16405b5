"""A recording stand-in for bpy.types.UILayout: background Blender draws no UI, so panel draw
code is run against this, which checks every property and operator it is given exists."""

from __future__ import annotations

from typing import Any

import bpy


class OpProps:
    def __init__(self, idname: str) -> None:
        module, name = idname.split(".")
        self._rna = getattr(getattr(bpy.ops, module), name).get_rna_type()
        self._values: dict[str, Any] = {}

    def __setattr__(self, key: str, value: Any) -> None:
        if key.startswith("_"):
            object.__setattr__(self, key, value)
            return
        assert key in self._rna.properties, f"operator has no property {key}"
        self._values[key] = value


class RecordingLayout:
    def __init__(self, log: list | None = None) -> None:
        object.__setattr__(self, "log", log if log is not None else [])

    def __setattr__(self, key: str, value: Any) -> None:
        assert key in ("alert", "enabled", "scale_y", "use_property_split", "use_property_decorate", "active"), key
        self.log.append(("set", key, value))

    def _child(self, kind: str) -> RecordingLayout:
        self.log.append((kind,))
        return RecordingLayout(self.log)

    def row(self, **kw: Any) -> RecordingLayout:
        return self._child("row")

    def column(self, **kw: Any) -> RecordingLayout:
        return self._child("column")

    def box(self) -> RecordingLayout:
        return self._child("box")

    def separator(self, **kw: Any) -> None:
        self.log.append(("separator",))

    def label(self, *, text: str = "", icon: str = "NONE", **kw: Any) -> None:
        if icon != "NONE":
            assert icon in bpy.types.UILayout.bl_rna.functions["label"].parameters["icon"].enum_items, icon
        self.log.append(("label", text))

    def prop(self, data: Any, name: str, **kw: Any) -> None:
        assert name in data.bl_rna.properties, f"{type(data).__name__} has no property {name}"
        self.log.append(("prop", name))

    def prop_search(self, data: Any, name: str, search_data: Any, search_name: str, **kw: Any) -> None:
        assert name in data.bl_rna.properties and hasattr(search_data, search_name)
        self.log.append(("prop_search", name))

    def operator(self, idname: str, **kw: Any) -> OpProps:
        self.log.append(("operator", idname, kw.get("text")))
        return OpProps(idname)

    def template_icon(self, *, icon_value: int, scale: float = 1.0) -> None:
        self.log.append(("template_icon", icon_value))

    def progress(self, *, factor: float, type: str = "BAR", text: str = "") -> None:
        assert 0.0 <= factor <= 1.0
        self.log.append(("progress", factor, text))

    def texts(self) -> list[str]:
        return [entry[1] for entry in self.log if entry[0] == "label"]

    def props(self) -> list[str]:
        return [entry[1] for entry in self.log if entry[0] in ("prop", "prop_search")]

    def operators(self) -> list[str]:
        return [entry[1] for entry in self.log if entry[0] == "operator"]
