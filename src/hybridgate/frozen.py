"""A faster `__init__` for frozen, slotted dataclasses built on every request.

A frozen dataclass's generated `__init__` stores each field through `object.__setattr__` (looked up
per field), about three times what a plain assignment costs: ~4 us for the 30 fields of a usage record.
`quick_init` replaces it with one that writes each slot through its descriptor. Same signature,
defaults and default factories; the instances stay frozen (assignment still raises).
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar, cast

C = TypeVar("C", bound=type)
T = TypeVar("T")


class _Factory:
    """Stands for "no value given" where a field has a default factory (shown as dataclasses does)."""

    def __repr__(self) -> str:
        return "<factory>"


_UNSET: Any = _Factory()


def quick_init(cls: C) -> C:
    """Class decorator, applied over `@dataclass(frozen=True, slots=True)`."""
    params = getattr(cls, "__dataclass_params__", None)
    if not dataclasses.is_dataclass(cls) or params is None or not params.frozen or "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__name__}: quick_init needs a frozen dataclass with slots")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__}: quick_init does not call __post_init__")
    ns: dict[str, Any] = {"_UNSET": _UNSET}
    args: list[str] = []
    lines: list[str] = []
    stores: list[str] = []  # each field through its slot descriptor
    plain: list[str] = []  # each field as a plain attribute store, on the unfrozen twin (see below)
    for i, f in enumerate(dataclasses.fields(cls)):
        if not f.init or f.kw_only:
            raise TypeError(f"{cls.__name__}.{f.name}: quick_init supports plain init fields only")
        if f.default is not dataclasses.MISSING:
            ns[f"_d{i}"] = f.default
            args.append(f"{f.name}=_d{i}")
        elif f.default_factory is not dataclasses.MISSING:
            ns[f"_f{i}"] = f.default_factory
            args.append(f"{f.name}=_UNSET")
            lines.append(f"    if {f.name} is _UNSET:\n        {f.name} = _f{i}()")
        else:
            args.append(f.name)
        ns[f"_s{i}"] = cls.__dict__[f.name].__set__  # the slot's member descriptor
        stores.append(f"    _s{i}(self, {f.name})")
        plain.append(f"        self.{f.name} = {f.name}")
    factories = list(lines)
    new = ""
    if cls.__bases__ == (object,) and stores:
        # A descriptor's `__set__` is called with an argument tuple built per field. Faster: turn the
        # instance for the time of `__init__` into an unfrozen class with the very same slots (same
        # layout, so `__class__` may change), store the fields as plain attributes, and turn it back.
        # Only for an instance of exactly this class: a subclass's may have other slots.
        ns["_cls"], ns["_set_class"], ns["_new"] = cls, object.__setattr__, object.__new__
        ns["_twin"] = type(f"{cls.__name__}Init", (), {"__slots__": cls.__dict__["__slots__"]})
        lines.append("    if type(self) is _cls:\n        _set_class(self, '__class__', _twin)")
        lines += [*plain, "        self.__class__ = _cls", "    else:"]
        lines += ["    " + line for line in stores]
        # `maker(cls)`: the same, from a new instance of the twin, as a plain function (see `maker`)
        body = [*factories, "    self = _new(_twin)", *(line[4:] for line in plain), "    self.__class__ = _cls"]
        new = f"def _quick_new({', '.join(args)}):\n" + "\n".join([*body, "    return self"]) + "\n"
    else:
        lines += stores
    src = f"def __init__(self, {', '.join(args)}) -> None:\n" + "\n".join(lines or ["    pass"]) + "\n"
    exec(src + new, ns)  # generated from the class's own field names, as dataclasses does
    init = ns["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    setattr(cls, "__init__", init)  # noqa: B010 - mypy rejects assigning to a method
    _MAKERS[cls] = ns.get("_quick_new", cls)
    return cls


_MAKERS: dict[type, Any] = {}


def maker(cls: type[T]) -> type[T]:
    """For a `quick_init` class: a function that builds an instance as `cls(...)` does (same parameters,
    defaults and factories; the same frozen instance), a few times cheaper. `cls(...)` passes through
    `type.__call__`, which packs the arguments into a tuple and the keywords into a dict for `__init__`
    and unpacks them again (most of the cost for a record of 30 keywords); this is a plain function call
    that builds the unfrozen twin and turns it into `cls`. Typed as the class, so that mypy checks the
    calls as constructor calls. Bind it once (`_new_record = maker(Record)`) and call that."""
    return cast("type[T]", _MAKERS[cls])
